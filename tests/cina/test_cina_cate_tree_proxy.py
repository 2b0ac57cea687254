"""The boosted-tree second proxy of the CATE calibration (hf_causal.cina.tree_proxy), checked against ordinary
least squares with a sandwich, and on simulations whose effects are known: a step in one of many covariates
(which the smooth kernel model misses and the trees find) and a constant effect (where the gate keeps them out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import tiny_cina_model

from hf_causal.cina.cate import CALIBRATION_FOLDS, arm_stratified_folds
from hf_causal.cina.tree_proxy import TREE_MIN_ARM, fit_tree_proxy, gated_slopes, joint_slopes


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def simulate_step(n: int = 2400, d: int = 30, seed: int = 0, step: float = 3.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Confounded through x0; the effect is ``1 + step * 1[x5 > 0]``, one of ``d`` covariates (the others
    irrelevant to it)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    t = (rng.random(n) < 1 / (1 + np.exp(-0.7 * x[:, 0]))).astype(int)
    tau = 1.0 + step * (x[:, 5] > 0)
    y = x[:, 0] + 0.5 * x[:, 1] + t * tau + rng.normal(size=n)
    return pd.DataFrame(x, columns=[f"x{j}" for j in range(d)]).assign(treat=t, y=y), tau


def test_the_joint_slopes_are_least_squares_with_a_sandwich():
    rng = np.random.default_rng(0)
    proxies = rng.normal(size=(300, 2)) + np.array([1.0, -2.0])
    psi = 0.3 + proxies @ np.array([0.6, 0.9]) + rng.normal(size=300) * (1 + np.abs(proxies[:, 0]))
    coef, se = joint_slopes(psi, proxies)
    design = np.column_stack([np.ones(300), proxies])
    ols, *_ = np.linalg.lstsq(design, psi, rcond=None)
    bread = np.linalg.inv(design.T @ design)
    meat = design.T @ (design * ((psi - design @ ols) ** 2)[:, None])
    np.testing.assert_allclose(coef, ols[1:], rtol=1e-10)
    np.testing.assert_allclose(se, np.sqrt(np.diag(bread @ meat @ bread))[1:], rtol=1e-8)


def test_the_gate_keeps_a_confirmed_proxy_and_drops_noise():
    rng = np.random.default_rng(1)
    model_proxy, tree_proxy = rng.normal(size=(2, 2000))
    psi = 0.5 * model_proxy + 0.8 * tree_proxy + rng.normal(size=2000)
    (b_model, b_tree), (se_model, se_tree) = gated_slopes(psi, model_proxy, tree_proxy)
    assert b_model == pytest.approx(0.5, abs=4 * se_model) and b_tree == pytest.approx(0.8, abs=4 * se_tree)
    # trees unrelated to the effect: their coefficient is noise, and the gate (3 SE) leaves them out
    assert gated_slopes(0.5 * model_proxy + rng.normal(size=2000), model_proxy, tree_proxy) is None
    # a constant or collinear tree proxy adds nothing
    assert gated_slopes(psi, model_proxy, np.full(2000, 2.0)) is None
    assert gated_slopes(psi, model_proxy, 3.0 * model_proxy) is None
    # a model proxy that points the wrong way beside kept trees: its slope is 0 and the trees' is refitted alone
    psi_against = -0.5 * model_proxy + 0.8 * tree_proxy + rng.normal(size=2000)
    (b_model, b_tree), _ = gated_slopes(psi_against, model_proxy, tree_proxy)
    alone, _ = joint_slopes(psi_against, tree_proxy[:, None])
    assert b_model == 0.0 and b_tree == pytest.approx(alone[0])


def test_a_step_in_one_of_many_covariates_is_found_by_the_trees():
    frame, tau = simulate_step()
    x = frame.drop(columns=["treat", "y"])
    model = tiny_cina_model(seed=0)  # the kernel ridge T-learner: smooth in all 30 covariates
    plain = model.cate(x, frame.treat, frame.y, tree_proxy=False)
    both = model.cate(x, frame.treat, frame.y)
    assert plain.effects.attrs["tree_slope"] == 0.0 and both.effects.attrs["tree_slope"] > 0.5
    assert rmse(both.effects["cate"], tau) < 0.7 * rmse(plain.effects["cate"], tau)
    assert np.corrcoef(both.effects["cate"], tau)[0, 1] > 0.9
    assert "boosted trees" in both.query and "boosted trees" in both.interval
    def coverage(effects):
        return np.mean((effects["ci_low"] <= tau) & (tau <= effects["ci_high"]))

    # the smooth proxy's intervals miss the step on most units; the trees' bring most of them back
    assert coverage(both.effects) > max(0.7, coverage(plain.effects) + 0.2)
    # the level is still the doubly robust ATE: the trees' deviations average to zero over the context
    assert both.value == pytest.approx(plain.value, rel=1e-9)
    # new rows get the same trees and slopes: asking for the first rows again returns their effects
    again = model.cate(x, frame.treat, frame.y, X_new=x.iloc[:50])
    np.testing.assert_allclose(again.effects["cate"], both.effects["cate"].iloc[:50], atol=1e-9)
    np.testing.assert_allclose(again.effects["std_error"], both.effects["std_error"].iloc[:50], atol=1e-9)


def test_a_constant_effect_gets_no_trees():
    frame, _ = simulate_step(n=1500, seed=2, step=0.0)
    x = frame.drop(columns=["treat", "y"])
    model = tiny_cina_model(seed=0)
    both = model.cate(x, frame.treat, frame.y)
    plain = model.cate(x, frame.treat, frame.y, tree_proxy=False)
    assert both.effects.attrs["tree_slope"] == 0.0
    np.testing.assert_allclose(both.effects["cate"], plain.effects["cate"], atol=1e-12)


def test_too_few_units_of_an_arm_for_trees_leaves_the_one_proxy_calibration():
    rng = np.random.default_rng(3)
    t = np.r_[np.ones(2 * TREE_MIN_ARM - 2), np.zeros(400)].astype(int)  # a fold's context has 39 treated
    x = rng.normal(size=(len(t), 3))
    fold = arm_stratified_folds(t, CALIBRATION_FOLDS, 0)
    assert fit_tree_proxy(x, t, x[:, 0] + t, fold) is None
    t[: 2 * TREE_MIN_ARM + 2] = 1
    proxy = fit_tree_proxy(x, t, x[:, 0] * (1 + t), fold=arm_stratified_folds(t, CALIBRATION_FOLDS, 0))
    assert proxy is not None and proxy.cross_fitted.shape == (len(t),)


def test_the_option_must_be_a_bool():
    frame, _ = simulate_step(n=200, d=6)
    with pytest.raises(TypeError, match="tree_proxy"):
        tiny_cina_model(seed=0).cate(frame[["x0", "x1", "x2"]], frame.treat, frame.y, tree_proxy="no")
