"""The spread-limit selection script: its per-dataset records against the public estimator with the limit set in
the config, and its limit read from the first network's training prior."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from support import load_script, run_selection_script, tiny_outcome_model

spread = load_script("benchmarks/outcome_spread_limit_selection.py", "outcome_spread_limit_selection_script")


def test_records_match_the_public_estimates_with_and_without_the_limit(tmp_path, single_thread, monkeypatch):
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes
    from hf_causal.data.families import sample_family

    # a limit between the two datasets' statistics, so that one is withheld and one is not
    monkeypatch.setattr(spread, "prior_spread_limit", lambda draws, seed, families: limit)
    model = tiny_outcome_model(head_seeds=(1, 2), outcome_wide_network=True)
    draws = list(sample_family("outcome_validation", 2, seed=0))

    ratios = [abs(predict_potential_outcomes(model, np.asarray(d.X, float), np.asarray(d.T, np.int64),
                                             np.asarray(d.Y, float)).kernel_spread_log_ratio) for d in draws]
    limit = float(np.mean(ratios))
    rows, text = run_selection_script(spread, model, tmp_path)
    assert sorted(row["withheld"] for row in rows) == [False, True]
    for row, ds in zip(rows, draws, strict=True):
        x, t, y = np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float)
        kernel = model.estimate(x, t, y, estimand="ate", outcome_model="kernel").value - ds.ate
        assert row["kernel"] == pytest.approx(kernel, rel=1e-7)
        assert row["shipped"] == pytest.approx(model.estimate(x, t, y, estimand="ate").value - ds.ate, rel=1e-7)
        model.config.outcome_spread_limit = limit
        assert row["spread"] == pytest.approx(model.estimate(x, t, y, estimand="ate").value - ds.ate, rel=1e-7)
        model.config.outcome_spread_limit = None
        if row["withheld"]:
            assert row["spread"] == pytest.approx(kernel, rel=1e-9)
            # the shown alternative: the wide-prior network for that dataset
            wide_only = copy.deepcopy(model)
            wide_only.outcome_network = wide_only.outcome_network_wide
            assert row["spread_wide"] == pytest.approx(wide_only.estimate(x, t, y, estimand="ate").value - ds.ate,
                                                       rel=1e-6)
        else:
            assert row["spread_wide"] == row["shipped"]
    assert f"limit {limit:.3f}" in text and "| `outcome_validation` | 2 | 1 |" in text
    assert all(row["limit"] == limit for row in rows)
    # the report rebuilt from the records takes their limit, without measuring the prior again
    monkeypatch.setattr(spread, "prior_spread_limit", lambda *a: pytest.fail("the prior was measured again"))
    rebuilt = tmp_path / "rebuilt.md"
    assert spread.main(["--from-records", str(tmp_path / "rows.jsonl"), "--output", str(rebuilt)]) == 0
    assert f"limit {limit:.3f}" in rebuilt.read_text()


def test_the_limit_is_the_priors_99th_percentile(monkeypatch):
    """On stand-in surfaces whose log ratios are 0..99 (a known list), the quantile is numpy's."""
    import hf_causal.cina.outcome_features as features

    class Draw:
        def __init__(self, k):
            self.X, self.T, self.Y = np.zeros((4, 1)), np.array([0, 1, 0, 1]), np.zeros(4)
            self.k = k

    class Context:
        def __init__(self, k):
            z = np.array([-1.0, 1.0])
            self.kernel_mu, self.n_context = np.column_stack([np.exp(k) * z, z]), 2

    draws = [Draw(k) for k in range(100)]
    monkeypatch.setattr("hf_causal.data.families.sample_family", lambda name, n, seed: draws[:n])
    monkeypatch.setattr(features, "outcome_context", lambda x, t, y: Context(next(order)))
    order = iter(range(100))
    assert spread.prior_spread_limit(100, 0) == pytest.approx(np.quantile(np.arange(100.0), 0.99), rel=1e-9)
    with pytest.raises(ValueError, match="prior-draws"):
        spread.prior_spread_limit(0, 0)


def test_a_mixture_prior_shares_the_draws_by_its_listed_families(monkeypatch):
    """``("a", "a", "b")`` with 7 draws: 5 from a's stream, 2 from b's, each stream asked once."""
    import hf_causal.cina.outcome_features as features

    asked = []

    class Context:
        kernel_mu, n_context = np.column_stack([np.array([-1.0, 1.0]), np.array([-1.0, 1.0])]), 2

    class Draw:
        X, T, Y = np.zeros((2, 1)), np.array([0, 1]), np.zeros(2)

    monkeypatch.setattr("hf_causal.data.families.sample_family",
                        lambda name, n, seed: asked.append((name, n, seed)) or [Draw()] * n)
    monkeypatch.setattr(features, "outcome_context", lambda x, t, y: Context())
    assert spread.prior_spread_limit(7, 3, ("a", "a", "b")) == pytest.approx(0.0, abs=1e-12)
    assert asked == [("a", 5, 3), ("b", 2, 3)]
    with pytest.raises(ValueError, match="number of prior families"):
        spread.prior_spread_limit(2, 0, ("a", "b", "c"))
