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
    share is 0.75) on the same datasets, and its report must list every candidate."""
    from hf_causal import CInAModel
    from hf_causal.data.families import sample_family

    records, output = tmp_path / "rows.jsonl", tmp_path / "blend.md"
    assert blend.main(["--datasets", "2", "--records", str(records), "--output", str(output)]) == 0
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    model = CInAModel.from_pretrained("cina-zs-base")
    for row, ds in zip(rows, sample_family("outcome_validation", 2, seed=0), strict=True):
        x, t, y = np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float)
        scale = float(np.std(y))
        kernel = model.estimate(x, t, y, estimand="ate", outcome_model="kernel").value
        network = model.estimate(x, t, y, estimand="ate", outcome_model="pretrained").value
        assert row["kernel"] == pytest.approx(abs(kernel - ds.ate) / scale, rel=1e-7)
        assert row["share_0.75"] == pytest.approx(abs(network - ds.ate) / scale, rel=1e-7)
        assert 0.0 <= row["stacked_share"] <= 1.0
    report = output.read_text()
    for name in ("kernel", "share_0.25", "share_0.5", "share_0.75", "share_1", "stacked", "precision"):
        assert f"| {name} |" in report


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
