"""The CATE benchmark's scoring: sqrt(PEHE) and coverage against known effects, paired differences by hand."""

from __future__ import annotations

import numpy as np
import pytest
from harness.suites import BenchDataset
from support import load_script

cate_benchmark = load_script("benchmarks/cate_benchmark.py", "cate_benchmark_script")


def dataset(n: int = 400, seed: int = 0) -> BenchDataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 0.5).astype(int)
    mu0, mu1 = x[:, 0], x[:, 0] + 1 + x[:, 1]
    y = np.where(t == 1, mu1, mu0) + 0.1 * rng.normal(size=n)
    return BenchDataset("toy", f"toy-{seed}", x, t, y, float(np.mean(mu1 - mu0)), "ate", {"mu0": mu0, "mu1": mu1})


def test_pehe_and_coverage_are_computed_against_the_true_effects():
    data = dataset()
    tau = data.meta["mu1"] - data.meta["mu0"]

    def off_by_half(X, T, Y):  # every effect 0.5 too high, intervals ±1 around it
        est = tau + 0.5
        return est, np.column_stack([est - 1.0, est + 1.0])

    record = cate_benchmark.run_one("half", off_by_half, data)
    assert record.status == "ok" and record.pehe == pytest.approx(0.5) and record.coverage == 1.0
    gb = cate_benchmark.run_one("gb_t_learner", cate_benchmark.gb_t_learner, data)
    assert gb.pehe < 0.5 and gb.coverage is None
    broken = cate_benchmark.run_one("broken", lambda X, T, Y: 1 / 0, data)
    assert broken.status == "error" and "ZeroDivisionError" in broken.note


def test_paired_differences_and_summary_by_hand():
    Rec = cate_benchmark.CateRecord
    records = [Rec("s", f"d{i}", m, 100, 3, pehe=p, seconds=0.1) for i, (a, b) in enumerate([(0.2, 0.5), (0.4, 0.3), (0.1, 0.4)])
               for m, p in (("cina_zs", a), ("gb_t_learner", b))]
    mean, se, wins, n = cate_benchmark.paired(records, ["s"], "cina_zs", "gb_t_learner")
    diffs = np.array([-0.3, 0.1, -0.3])
    assert (wins, n) == (2, 3) and mean == pytest.approx(diffs.mean())
    assert se == pytest.approx(diffs.std(ddof=1) / np.sqrt(3))
    summary = cate_benchmark.summarise(records)
    assert summary["s"]["cina_zs"]["mean"] == pytest.approx(0.7 / 3) and summary["s"]["gb_t_learner"]["ran"] == 3


def test_a_range_of_positions_runs_exactly_those_datasets_as_a_full_run_does(tmp_path, single_thread):
    """``NAME=START:STOP`` runs only the datasets at those positions, and each gives the record the same dataset gets
    in a run from position 0 (so a suite can be grown without rerunning its first datasets)."""
    import json

    def run(size: str, name: str) -> list[dict]:
        records = tmp_path / f"{name}.jsonl"
        argv = ["--quick", "--no-speed", "--methods", "kernel_t_learner", "--suites", f"ood_mechanism={size}",
                "--records", str(records), "--out-dir", str(tmp_path / name)]
        assert cate_benchmark.main(argv) == 0
        return [json.loads(line) for line in records.read_text().splitlines()]

    part, full = run("1:3", "part"), run("3", "full")
    assert [r["dataset"] for r in part] == [r["dataset"] for r in full[1:]]
    assert [r["pehe"] for r in part] == pytest.approx([r["pehe"] for r in full[1:]], rel=1e-12)

    # rebuilding the report from the records keeps the hand-written notes after the marker
    from harness.report import NOTES_MARKER

    report = tmp_path / "part" / "cate.md"
    report.write_text(report.read_text() + "1. a run note written by hand\n")
    assert cate_benchmark.main(["--from-records", str(tmp_path / "part.jsonl"), "--out-dir", str(tmp_path / "part")]) == 0
    rebuilt = report.read_text()
    assert rebuilt.count(NOTES_MARKER) == 1 and rebuilt.endswith("1. a run note written by hand\n")
    assert "| ood_mechanism |" not in rebuilt.split(NOTES_MARKER)[1]


def test_oracles_are_exact_without_noise_and_the_effect_sd_otherwise():
    """Without outcome noise the calibrated oracle recovers every unit's effect (the pseudo-outcomes equal the true
    effect, so the slope is 1 and the level exact); the constant oracle's sqrt(PEHE) is the effect's SD."""
    from support import tiny_cina_model

    model = tiny_cina_model(seed=0)
    data = dataset(seed=3)
    tau = data.meta["mu1"] - data.meta["mu0"]
    exact = BenchDataset(data.suite, data.name, data.X, data.T, np.where(data.T == 1, data.meta["mu1"], data.meta["mu0"]),
                         data.truth, "ate", data.meta)
    calibrated = cate_benchmark.run_one("oracle_calibrated", cate_benchmark.oracle_calibrated(model), exact)
    assert calibrated.status == "ok" and calibrated.pehe == pytest.approx(0.0, abs=1e-9)
    constant = cate_benchmark.run_one("oracle_constant", cate_benchmark.oracle_constant, data)
    assert constant.pehe == pytest.approx(np.std(tau))
    noisy = cate_benchmark.run_one("oracle_calibrated", cate_benchmark.oracle_calibrated(model), data)
    assert 0.0 < noisy.pehe < 0.2 * np.std(tau)  # noise SD 0.1: near the floor, far below the constant


def test_oracle_section_pairs_against_the_oracles_by_hand():
    Rec = cate_benchmark.CateRecord
    pehe = {"cina_zs": [0.3, 0.5, 0.4], "gb_t_learner": [0.6, 0.7, 0.9], "oracle_calibrated": [0.1, 0.1, 0.2],
            "oracle_constant": [0.5, 0.5, 0.6]}
    records = [Rec("ood_mechanism", f"d{i}", m, 100, 3, pehe=p, seconds=0.1) for m, v in pehe.items()
               for i, p in enumerate(v)]
    lines = cate_benchmark.oracle_section(records, cate_benchmark.summarise(records))
    row = next(line for line in lines if line.startswith("| ood_mechanism"))
    for method, oracle in (("cina_zs", "oracle_calibrated"), ("cina_zs", "oracle_constant"),
                           ("gb_t_learner", "oracle_constant")):
        diff = np.subtract(pehe[method], pehe[oracle])
        assert f"{diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(3):.3f}" in row
    assert "gb_t_learner (0.733)" in row
    assert cate_benchmark.oracle_section([r for r in records if not r.method.startswith("oracle")],
                                         cate_benchmark.summarise(records)) == []


def test_the_no_spread_limit_learner_is_the_default_without_the_limit():
    """Only a checkpoint with ``outcome_spread_limit`` has the row; on data beyond the limit (an exponential control
    surface beside a flat treated one) its effects are ``model.cate``'s with the limit off, not the default's."""
    from support import tiny_outcome_model

    model = tiny_outcome_model()
    assert "cina_zs_no_spread_limit" not in cate_benchmark.learners(model, None)
    model.config.outcome_spread_limit = 1.0
    table = cate_benchmark.learners(model, ["cina_zs", "cina_zs_no_spread_limit"])
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    T = (rng.random(300) < 0.4).astype(np.int64)
    Y = np.where(T == 1, 0.3 * X[:, 0] + 0.2, np.exp(1.2 * X[:, 1])) + 0.1 * rng.normal(size=300)
    ablated, _ = table["cina_zs_no_spread_limit"](X, T, Y)
    default, _ = table["cina_zs"](X, T, Y)
    model.config.outcome_spread_limit = None
    np.testing.assert_allclose(ablated, model.cate(X, T, Y).effects["cate"].to_numpy(), rtol=1e-12)
    assert np.max(np.abs(ablated - default)) > 1e-4
