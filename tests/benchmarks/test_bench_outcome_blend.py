"""The outcome-blend selection script: its candidates' errors against estimates computed through the public API."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import load_script

blend = load_script("benchmarks/outcome_blend_validation.py", "outcome_blend_validation_script")


def test_candidate_errors_match_the_public_estimates(tmp_path, single_thread):
    """The script recomputes each candidate's ATE from one set of weights; its ``kernel`` and ``share_0.75`` rows
    must be the errors of ``estimate(outcome_model="kernel")`` and of ``estimate(outcome_model="pretrained")`` (whose
    share is 0.75) on the same datasets, a synthetic draw and an IHDP replication alike, and its report must list
    every candidate; rebuilt from the records, the report's tables are the same."""
    from hf_causal import CInAModel
    from hf_causal.data.benchmarks import load_benchmark_frame
    from hf_causal.data.families import sample_family

    records, output = tmp_path / "rows.jsonl", tmp_path / "blend.md"
    assert blend.main(["--datasets", "2", "--benchmark", "ihdp_b=1201-1201", "--records", str(records),
                       "--output", str(output)]) == 0
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert [row["family"] for row in rows] == ["outcome_validation", "outcome_validation", "ihdp_b"]
    ihdp = load_benchmark_frame("ihdp_b", 1201)
    datasets = [(np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float), ds.ate)
                for ds in sample_family("outcome_validation", 2, seed=0)]
    datasets.append((ihdp.frame[ihdp.covariates].to_numpy(float), ihdp.frame[ihdp.treatment].to_numpy(np.int64),
                     ihdp.frame[ihdp.outcome].to_numpy(float), float((ihdp.mu1 - ihdp.mu0).mean())))
    model = CInAModel.from_pretrained("cina-zs-base")
    for row, (x, t, y, ate) in zip(rows, datasets, strict=True):
        scale = float(np.std(y))
        kernel = model.estimate(x, t, y, estimand="ate", outcome_model="kernel").value
        network = model.estimate(x, t, y, estimand="ate", outcome_model="pretrained").value
        assert row["kernel"] == pytest.approx(abs(kernel - ate) / scale, rel=1e-7)
        assert row["share_0.75"] == pytest.approx(abs(network - ate) / scale, rel=1e-7)
        assert 0.0 <= row["stacked_share"] <= 1.0
    report = output.read_text()
    for name in ("kernel", "share_0.25", "share_0.5", "share_0.75", "share_1", "stacked", "precision"):
        assert f"| {name} |" in report
    rebuilt = tmp_path / "rebuilt.md"
    assert blend.main(["--from-records", str(records), "--output", str(rebuilt)]) == 0
    tables = [[line for line in text.splitlines() if line.startswith("|")] for text in (report, rebuilt.read_text())]
    assert tables[0] == tables[1]


def test_stacked_against_the_fixed_share_is_paired_per_family_and_pooled_over_the_synthetic_ones(tmp_path):
    """The per-family table pairs ``stacked`` with ``share_0.75`` dataset by dataset: checked against records whose
    differences are known, with a benchmark family kept out of the synthetic pool."""
    rng = np.random.default_rng(1)
    rows = []
    for family, shift, size in (("ood_mechanism", -0.01, 30), ("outcome_validation", 0.0, 30), ("ihdp_b", 0.02, 40)):
        for i in range(size):
            fixed = float(rng.uniform(0.05, 0.2))
            stacked = fixed + shift + (0.001 if i % 2 else -0.001)  # mean difference = shift, SD = 0.001
            rows.append({"family": family, "dataset": i, "seed": 6, "stacked_share": 0.5, "z": 1.0, "z_wide": 1.0,
                         "kernel": fixed, "share_0.75": fixed, "stacked": stacked})
    records, output = tmp_path / "rows.jsonl", tmp_path / "blend.md"
    records.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert blend.main(["--from-records", str(records), "--output", str(output)]) == 0
    table = {line.split(" | ")[0].strip("| `"): line.split(" | ") for line in output.read_text().splitlines()
             if line.startswith("| `") or line.startswith("| all synthetic")}
    se = 0.001 * np.sqrt(30 / 29) / np.sqrt(30)  # the SD of +-0.001 with ddof=1, over 30 datasets
    assert float(table["ihdp_b"][4]) == pytest.approx(0.02, abs=1e-4)
    assert float(table["ood_mechanism"][4]) == pytest.approx(-0.01, abs=1e-4)
    assert float(table["ood_mechanism"][5]) == pytest.approx(se, abs=1e-4)
    assert table["ood_mechanism"][7] == "30/30 |"
    pooled = table["all synthetic families, pooled"]
    assert pooled[1] == "60" and float(pooled[4]) == pytest.approx(-0.005, abs=1e-4)  # IHDP-B stays out


def test_two_checkpoints_are_paired_dataset_by_dataset(tmp_path):
    """``--against``: every candidate's error minus the same dataset's error under the other checkpoint, per
    family; records that are not the same draws are refused, naming the first that is missing."""
    rng = np.random.default_rng(2)
    new, old = [], []
    for family, shift in (("ood_mechanism", 0.01), ("ihdp_b", -0.02)):
        for i in range(25):
            base = {"family": family, "dataset": i, "seed": 7, "stacked_share": 0.5, "z": 1.0, "z_wide": 1.0}
            errors = rng.uniform(0.05, 0.2, size=3)
            old.append({**base, "kernel": errors[0], "share_0.75": errors[1], "stacked": errors[2]})
            step = shift + (0.002 if i % 2 else -0.002) * (i < 24)  # 12 up, 12 down, one exact: mean = shift
            new.append({**base, "kernel": errors[0], "share_0.75": errors[1] + step, "stacked": errors[2]})
    rng.shuffle(old)  # pairing is by (family, seed, dataset), not by order
    paths = {}
    for name, rows in (("new", new), ("old", old)):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(row) + "\n" for row in rows))
    output = tmp_path / "blend.md"
    assert blend.main(["--from-records", str(paths["new"]), "--against", str(paths["old"]),
                       "--output", str(output)]) == 0
    text = output.read_text()
    section = text[text.index("These records against"):]
    rows = {line.split(" | ")[0].strip("| `"): line.split(" | ") for line in section.splitlines()
            if line.startswith("| `") or line.startswith("| all synthetic")}
    header = next(line for line in section.splitlines() if line.startswith("| family"))
    column = header.split(" | ").index("share_0.75: diff ± SE (diff / SE)")
    assert float(rows["ood_mechanism"][column].split(" ± ")[0]) == pytest.approx(0.01, abs=1e-4)
    assert float(rows["ihdp_b"][column].split(" ± ")[0]) == pytest.approx(-0.02, abs=1e-4)
    assert rows["ihdp_b"][header.split(" | ").index("kernel: diff ± SE (diff / SE)")].startswith("+0.0000 ± 0.0000")
    paths["old"].write_text("".join(json.dumps(row) + "\n" for row in old[1:]))
    with pytest.raises(ValueError, match="not in --against"):
        blend.main(["--from-records", str(paths["new"]), "--against", str(paths["old"]), "--output", str(output)])
    with pytest.raises(SystemExit):
        blend.main(["--family", "outcome_validation", "--against", str(paths["old"])])


def test_benchmark_spec_names_what_is_wrong():
    import argparse

    assert blend.benchmark_spec("ihdp_a=3-5") == ("ihdp_a", range(3, 6))
    for spec, message in (("ihdp_b=5-3", "FIRST <= LAST"), ("ihdp_b", "NAME=FIRST-LAST"),
                          ("ihdp_c=1-2", "'ihdp_c' is not a benchmark with a known ATE"),
                          ("lalonde_nsw_psid=0-0", "'lalonde_nsw_psid' is not a benchmark with a known ATE")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            blend.benchmark_spec(spec)


@pytest.mark.parametrize(("network", "expected"), [("twice", 0.5), ("half", 1.0), ("truth", 1.0), ("noise", 0.0)])
def test_fitted_share_is_the_least_squares_coefficient_on_held_out_outcomes(monkeypatch, network, expected):
    """With a kernel model that predicts 0 and a network that predicts k times the true surface, the held-out
    outcomes' regression on the correction has slope 1/k (clipped to [0, 1]); a network of pure noise gets ~0."""
    from hf_causal.cina import potential_outcomes
    from hf_causal.cina.potential_outcomes import PotentialOutcomes

    rng = np.random.default_rng(0)
    n = 4000
    x = rng.normal(size=(n, 2))
    t = (rng.random(n) < 0.5).astype(np.int64)
    mu0, mu1 = x[:, 0], x[:, 0] + 1.0 + 2.0 * x[:, 1]
    y = np.where(t == 1, mu1, mu0) + 0.5 * rng.normal(size=n)
    scale = {"twice": 2.0, "half": 0.5, "truth": 1.0, "noise": 0.0}[network]

    def fake_predict(model, x_ctx, t_ctx, y_ctx, x_new=None, moments=2):
        rows = np.flatnonzero(np.isin(x[:, 0], x_new[:, 0]))  # the held-out units, by their (unique) covariates
        zero = np.zeros(len(rows))
        noise = rng.normal(size=len(rows)) if network == "noise" else zero
        return PotentialOutcomes(mu0=scale * mu0[rows] + noise, mu1=scale * mu1[rows] + noise, sd0=zero + 1,
                                 sd1=zero + 1, kernel_mu0=zero, kernel_mu1=zero, kernel_residuals=zero,
                                 source="pretrained")

    monkeypatch.setattr(potential_outcomes, "predict_potential_outcomes", fake_predict)
    assert blend.fitted_network_share(None, x, t, y) == pytest.approx(expected, abs=0.03)
    # a large dataset fits its share on a subsample: the same slope, within the smaller sample's noise
    assert blend.fitted_network_share(None, x, t, y, max_units=1500) == pytest.approx(expected, abs=0.06)


def test_fitted_share_falls_back_to_the_documented_share_on_tiny_arms():
    from hf_causal.cina import estimator

    x = np.arange(20, dtype=float)[:, None]
    t = np.array([1] * 6 + [0] * 14)
    assert blend.fitted_network_share(None, x, t, x[:, 0]) == estimator.OUTCOME_NETWORK_SHARE
