"""The calibration of per-unit effects against doubly robust pseudo-outcomes (hf_causal.cina.cate), checked
against closed forms and simulations whose effects are known."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from support import tiny_cina_model

from hf_causal.cina.calibration import OverlapWarning
from hf_causal.cina.cate import arm_stratified_folds, heterogeneity_slope

COLUMNS = ["x0", "x1", "x2"]


def simulate(tau_of_x, n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Confounded through x0 with a curved control surface; ``tau_of_x(x)`` the known effect per unit."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    tau = tau_of_x(x)
    y = x[:, 0] + np.sin(2 * x[:, 1]) + 0.5 * x[:, 2] ** 2 + t * tau + rng.normal(size=n)
    return pd.DataFrame(x, columns=COLUMNS).assign(treat=t, y=y), tau


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_the_slope_and_its_standard_error_are_ordinary_least_squares_with_a_sandwich():
    rng = np.random.default_rng(0)
    proxy = rng.normal(size=200)
    psi = 0.4 + 0.7 * proxy + rng.normal(size=200) * (1 + np.abs(proxy))
    slope, se = heterogeneity_slope(psi, proxy)
    design = np.column_stack([np.ones_like(proxy), proxy])
    coef, *_ = np.linalg.lstsq(design, psi, rcond=None)
    bread = np.linalg.inv(design.T @ design)
    meat = design.T @ (design * ((psi - design @ coef) ** 2)[:, None])
    assert slope == pytest.approx(coef[1], rel=1e-10)
    assert se == pytest.approx(np.sqrt((bread @ meat @ bread)[1, 1]), rel=1e-10)
    assert heterogeneity_slope(psi, np.full(200, 3.0)) == (0.0, float("inf"))


def test_folds_split_each_arm_evenly():
    t = np.r_[np.ones(31), np.zeros(70)].astype(int)
    fold = arm_stratified_folds(t, folds=2, seed=3)
    for arm in (0, 1):
        counts = np.bincount(fold[t == arm], minlength=2)
        assert counts.max() - counts.min() <= 1
    assert not np.array_equal(fold, arm_stratified_folds(t, folds=2, seed=4))


def test_a_constant_effect_is_shrunk_to_the_doubly_robust_ate():
    frame, tau = simulate(lambda x: np.full(len(x), 2.0), n=600, seed=1)
    model = tiny_cina_model(seed=0)  # the kernel ridge T-learner: it invents some heterogeneity
    raw = model.cate(frame[COLUMNS], frame.treat, frame.y, calibrate=False)
    cal = model.cate(frame[COLUMNS], frame.treat, frame.y)
    ate = model.estimate(frame[COLUMNS], frame.treat, frame.y, outcome_model="kernel")
    slope = cal.effects.attrs["heterogeneity_slope"]
    assert 0.0 <= slope < 0.5
    assert rmse(cal.effects["cate"], tau) < 0.6 * rmse(raw.effects["cate"], tau)
    # the context rows' calibrated effects average to the doubly robust ATE, and carry its interval
    assert cal.value == pytest.approx(ate.value, rel=1e-9)
    assert cal.std_error == pytest.approx(ate.std_error, rel=1e-9) and cal.has_interval
    deviation = raw.effects["cate"] - raw.effects["cate"].mean()
    np.testing.assert_allclose(cal.effects["cate"], ate.value + slope * deviation, atol=1e-9)
    assert (cal.effects["ci_low"] < cal.effects["cate"]).all() and (cal.effects["cate"] < cal.effects["ci_high"]).all()


def test_a_real_heterogeneity_is_kept():
    frame, tau = simulate(lambda x: 1.0 + 2.0 * x[:, 1], n=800, seed=2)
    model = tiny_cina_model(seed=0)
    raw = model.cate(frame[COLUMNS], frame.treat, frame.y, calibrate=False)
    cal = model.cate(frame[COLUMNS], frame.treat, frame.y)
    assert cal.effects.attrs["heterogeneity_slope"] > 0.8
    assert np.corrcoef(cal.effects["cate"], tau)[0, 1] > 0.95
    assert rmse(cal.effects["cate"], tau) < rmse(raw.effects["cate"], tau) + 0.05
    # new rows get the context's level and slope: the kernel model depends on x only, so asking for the first
    # rows again returns their effects
    again = model.cate(frame[COLUMNS], frame.treat, frame.y, X_new=frame[COLUMNS].iloc[:40])
    np.testing.assert_allclose(again.effects["cate"], cal.effects["cate"].iloc[:40], atol=1e-9)
    assert not again.has_interval and "new rows" in again.query


def test_too_few_units_of_an_arm_leaves_the_effects_uncalibrated():
    frame, _ = simulate(lambda x: np.ones(len(x)), n=300, seed=3)
    frame.loc[:, "treat"] = 0
    frame.loc[:7, "treat"] = 1  # 8 treated: a fold's context has 4
    model = tiny_cina_model(seed=0)
    with warnings.catch_warnings():  # the ATE it would calibrate to rests on 8 treated units and may say so
        warnings.simplefilter("ignore", OverlapWarning)
        est = model.cate(frame[COLUMNS], frame.treat, frame.y)
    assert est.effects.attrs["heterogeneity_slope"] is None and "uncalibrated" in est.query
    np.testing.assert_allclose(est.effects["cate"], est.effects["mu1"] - est.effects["mu0"])
    with pytest.raises(TypeError, match="calibrate"):
        model.cate(frame[COLUMNS], frame.treat, frame.y, calibrate="yes")


def test_with_a_network_the_level_is_the_networks_doubly_robust_ate():
    import torch

    from hf_causal.cina.estimator import estimate_effect
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    frame, _ = simulate(lambda x: 1.0 + x[:, 1], n=400, seed=4)
    model = tiny_cina_model(seed=0, outcome_hidden_size=16, outcome_num_layers=1, outcome_intermediate_size=32,
                            outcome_kernel_temperatures=[1.0, 4.0])
    torch.manual_seed(1)
    with torch.no_grad():  # a network that corrects the kernel model by amounts that vary from unit to unit
        model.outcome_network.head.weight[:2] += torch.randn_like(model.outcome_network.head.weight[:2])
    cal = model.cate(frame[COLUMNS], frame.treat, frame.y)
    ate = model.estimate(frame[COLUMNS], frame.treat, frame.y, outcome_model="pretrained")
    kernel = model.estimate(frame[COLUMNS], frame.treat, frame.y, outcome_model="kernel")
    assert cal.outcome_model == "pretrained" and abs(ate.value - kernel.value) > 1e-4
    assert cal.value == pytest.approx(ate.value, rel=1e-9) and cal.std_error == pytest.approx(ate.std_error, rel=1e-9)
    x = frame[COLUMNS].to_numpy()
    wrong = predict_potential_outcomes(model, x[:100], frame.treat.to_numpy()[:100], frame.y.to_numpy()[:100])
    with pytest.raises(ValueError, match="400 rows"):
        estimate_effect(model, x, frame.treat, frame.y, outcome_model="pretrained", potential_outcomes=wrong)
