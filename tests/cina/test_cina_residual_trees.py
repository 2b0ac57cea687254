"""Boosted trees on the outcome surfaces' residuals (hf_causal.cina.residual_trees), checked on simulations whose
surfaces and effects are known: a step in one of many covariates that a smooth surface misses (kept, and the ATE
gets closer), residuals that are pure noise (left out, the surfaces untouched), and the cross-fitting."""

from __future__ import annotations

import numpy as np
import pytest
from support import TINY_OUTCOME, tiny_cina_model, tiny_outcome_model

from hf_causal.cina.residual_trees import residual_corrections
from hf_causal.cina.tree_proxy import TREE_MIN_ARM


def simulate(n: int = 2000, d: int = 20, seed: int = 0, step: float = 3.0):
    """Confounded through x0 and x3; both arms' surfaces have a step in x3 (which also drives treatment), so a
    surface smooth in x3 leaves a residual the trees can find; the effect is 1 everywhere."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    t = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * x[:, 0] + 1.5 * (x[:, 3] > 0.5))))).astype(np.int64)
    mu0 = x[:, 0] + step * (x[:, 3] > 0.5)
    mu1 = mu0 + 1.0
    y = np.where(t == 1, mu1, mu0) + rng.normal(size=n)
    return x, t, y, mu0, mu1


def test_structure_left_in_the_residuals_is_corrected_and_noise_is_not():
    x, t, y, mu0, mu1 = simulate()
    smooth0, smooth1 = x[:, 0] + 1.0, x[:, 0] + 2.0  # the step in x3 smoothed into a constant
    found = residual_corrections(x, t, y, smooth1, smooth0)
    assert found.kept and min(found.z) > 3
    for arm, smooth, truth, correction in ((0, smooth0, mu0, found.mu0), (1, smooth1, mu1, found.mu1)):
        own = t == arm
        assert np.mean((smooth + correction - truth)[own] ** 2) < 0.3 * np.mean((smooth - truth)[own] ** 2)
    # the true surfaces leave pure noise: the gate keeps nothing and the corrections are exactly zero
    none = residual_corrections(x, t, y, mu1, mu0)
    assert not none.kept and max(none.z) < 3
    assert not np.any(none.mu1) and not np.any(none.mu0)


def test_each_units_correction_comes_from_trees_fitted_without_it():
    x, t, y, _, _ = simulate(n=1200, seed=1)
    smooth0, smooth1 = x[:, 0] + 1.0, x[:, 0] + 2.0
    before = residual_corrections(x, t, y, smooth1, smooth0, gate=-np.inf)  # keep whatever the trees give
    changed = y.copy()
    changed[7] += 50.0  # only unit 7's outcome moves
    after = residual_corrections(x, t, changed, smooth1, smooth0, gate=-np.inf)
    own = after.mu1 if t[7] == 1 else after.mu0
    # (the outcome's SD, which scales the trees' targets, moves with it; the trees are equivariant to that scale)
    assert own[7] == pytest.approx((before.mu1 if t[7] == 1 else before.mu0)[7], rel=1e-6)
    moved = np.abs(after.mu1 - before.mu1) + np.abs(after.mu0 - before.mu0)
    assert moved.max() > 1e-3  # the other fold's trees did see it


def test_too_few_units_of_an_arm_gives_no_correction():
    x, t, y, mu0, mu1 = simulate(n=600, seed=2)
    t[:] = 0
    t[: 2 * TREE_MIN_ARM - 2] = 1
    assert residual_corrections(x, t, y, mu1, mu0) is None


def test_the_ate_with_the_network_gets_the_correction_and_says_so():
    x, t, y, mu0, mu1 = simulate(n=2000, seed=3, step=4.0)
    truth = float(np.mean(mu1 - mu0))
    model = tiny_outcome_model()
    with_trees = model.estimate(x, t, y, outcome_model="pretrained")
    without = model.estimate(x, t, y, outcome_model="pretrained", residual_trees=False)
    assert "residual correction" in with_trees.interval and "residual correction" not in without.interval
    assert abs(with_trees.value - truth) < abs(without.value - truth)
    assert with_trees.ci_low <= truth <= with_trees.ci_high
    # the kernel model is never corrected (a streamed table gets the same estimate as the arrays)
    kernel = model.estimate(x, t, y, outcome_model="kernel")
    assert kernel.value == model.estimate(x, t, y, outcome_model="kernel", residual_trees=False).value


def test_where_the_gate_stays_closed_the_estimate_is_unchanged():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(800, 3))
    t = (rng.random(800) < 1 / (1 + np.exp(-x[:, 0]))).astype(np.int64)
    y = x[:, 0] + 0.5 * x[:, 1] + t + rng.normal(size=800)
    # an untrained network head predicts no correction: the surfaces are the kernel model's, which fits this
    # linear surface, so its residuals are noise
    model = tiny_cina_model(seed=0, **TINY_OUTCOME)
    a = model.estimate(x, t, y, outcome_model="pretrained")
    b = model.estimate(x, t, y, outcome_model="pretrained", residual_trees=False)
    assert a.value == b.value and a.std_error == b.std_error and a.interval == b.interval


def test_the_option_must_be_a_bool():
    x, t, y, _, _ = simulate(n=200, d=4)
    with pytest.raises(TypeError, match="residual_trees"):
        tiny_cina_model(seed=0).estimate(x, t, y, residual_trees="no")
