"""EffectEstimate: intervals from closed forms, the JSON summary, the report, and the plots' preconditions."""

from __future__ import annotations

import json
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from hf_causal.core.results import Z_95, EffectEstimate, normal_quantile


def test_from_draws_is_the_mean_with_its_standard_error():
    draws = np.random.default_rng(0).normal(2.0, 3.0, size=400)
    est = EffectEstimate.from_draws(draws, estimand="ate", method="engine", confidence=0.9)
    se = draws.std(ddof=1) / np.sqrt(400)
    z = NormalDist().inv_cdf(0.95)
    assert est.value == pytest.approx(draws.mean()) and est.std_error == pytest.approx(se)
    assert est.ci_low == pytest.approx(draws.mean() - z * se) and est.ci_high == pytest.approx(draws.mean() + z * se)
    assert est.n == 400 and est.confidence == 0.9 and float(est) == est.value
    single = EffectEstimate.from_draws(np.array([1.5]))
    assert single.value == 1.5 and np.isnan(single.std_error) and not single.has_interval


def test_from_standard_error_uses_the_normal_quantile():
    est = EffectEstimate.from_standard_error(1.0, 0.5)
    assert Z_95 == pytest.approx(1.959963984540054, rel=1e-15)
    assert (est.ci_low, est.ci_high) == (1.0 - Z_95 * 0.5, 1.0 + Z_95 * 0.5)
    assert normal_quantile(0.5) == pytest.approx(0.6744897501960817)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="confidence"):
            EffectEstimate.from_standard_error(1.0, 0.5, confidence=bad)
    with pytest.raises(ValueError, match="no draws"):
        EffectEstimate.from_draws(np.array([]))
    for bad in ("0.95", None, True):  # named, not a '<' comparison failing inside
        with pytest.raises(TypeError, match=rf"confidence must be a number in \(0, 1\), got {bad!r}"):
            normal_quantile(bad)
    assert normal_quantile(np.float32(0.5)) == pytest.approx(0.6744897501960817)


def test_a_point_estimate_has_no_interval():
    est = EffectEstimate(3.0, method="naive")
    assert not est.has_interval and not est.is_weighting
    assert est.to_dict() == {"estimate": 3.0, "ci_low": None, "ci_high": None, "std_error": None,
                             "estimand": "ate", "method": "naive", "n": 0, "seconds": 0.0}
    assert str(est) == "ATE: 3"
    with pytest.raises(ValueError, match="not a weighting estimate"):
        est.plot_balance()
    with pytest.raises(ValueError, match="not a weighting estimate"):
        est.plot_weights()


def weighting_estimate() -> EffectEstimate:
    t = np.array([1, 1, 0, 0, 0])
    w = np.array([0.5, 0.5, 0.2, 0.3, 0.5])
    balance = pd.DataFrame({"smd_before": [0.8, -0.3], "smd_after": [0.05, -0.01]},
                           index=pd.Index(["age", "income"], name="covariate"))
    return EffectEstimate.from_standard_error(
        1.25, 0.5, estimand="att", method="cina-zs", weights=w, treatment=t, ess_treated=2.0, ess_control=2.63,
        balance=balance, n=5, seconds=0.25, max_residual_imbalance=0.01, outcome_model="kernel",
    )


def test_weighting_estimates_report_their_diagnostics():
    est = weighting_estimate()
    d = est.to_dict()
    assert list(d) == ["estimate", "ci_low", "ci_high", "std_error", "estimand", "method", "outcome_model", "n",
                       "n_treated", "ess_treated", "ess_control", "max_abs_smd_before", "max_abs_smd_after",
                       "seconds"]
    assert d["n_treated"] == 2 and d["max_abs_smd_before"] == 0.8 and d["max_abs_smd_after"] == 0.05
    assert json.loads(est.to_json()) == d
    lo, hi = 1.25 - Z_95 * 0.5, 1.25 + Z_95 * 0.5
    assert est.summary() == (
        f"ATT (cina-zs): 1.25  95% CI [{lo:.4g}, {hi:.4g}]\n"
        "n=5 (treated 2), ESS treated 2.0, control 2.6\n"
        "max |SMD| before 0.800 -> after 0.050; 0.25s\n"
        "outcome model: the kernel ridge T-learner"  # always said: a streamed estimate may use another
    )


def test_simulation_estimates_say_what_their_interval_covers():
    est = EffectEstimate.from_draws(np.arange(10.0), estimand="ate", method="engine", query="E[Y|do(A=1)] - E[Y|do(A=0)]",
                                    interval="Monte-Carlo error only")
    assert est.label == "ATE E[Y|do(A=1)] - E[Y|do(A=0)]"
    assert str(est).startswith("ATE E[Y|do(A=1)] - E[Y|do(A=0)]: 4.5 (s.e. ")
    assert "95% interval [" in str(est) and "CI" not in str(est)  # not presented as a confidence interval
    lines = est.summary().splitlines()
    assert lines[0].startswith("ATE (engine): 4.5  95% interval [")
    assert lines[-1] == "the interval covers Monte-Carlo error only"
    d = est.to_dict()
    assert d["query"] == est.query and d["interval"] == "Monte-Carlo error only" and d["n"] == 10
    assert "supported" not in d  # the engine does not assess overlap
    # an enumerated answer has no sampling error: no zero-width "95% interval" that reads as certainty
    exact = EffectEstimate(1.95, 1.95, 1.95, 0.0, estimand="ate", method="engine", n=3, interval="exact given the model")
    assert exact.summary().splitlines()[0] == "ATE (engine): 1.95  (exact: no sampling error)"


def test_an_unsupported_estimate_says_so_in_its_summary_and_its_json():
    issue = "weighting leaves 'age' imbalanced (|SMD| 0.71 after weighting, above 0.1)"
    est = weighting_estimate()
    est.supported, est.support_issue = False, issue
    d = est.to_dict()
    assert list(d) == ["estimate", "ci_low", "ci_high", "std_error", "estimand", "method", "outcome_model", "n",
                       "n_treated", "ess_treated", "ess_control", "max_abs_smd_before", "max_abs_smd_after",
                       "supported", "support_issue", "seconds"]
    assert d["supported"] is False and d["support_issue"] == issue
    assert json.loads(est.to_json())["supported"] is False
    assert est.summary().splitlines()[1] == f"NOT SUPPORTED BY THE DATA: {issue}"
    assert str(est).endswith("[not supported by the data]")
    est.supported, est.support_issue = True, ""
    d = est.to_dict()
    assert d["supported"] is True and "support_issue" not in d
    assert "NOT SUPPORTED" not in est.summary() and "not supported" not in str(est)
