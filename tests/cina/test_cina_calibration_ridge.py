"""The calibration's dual ridge: what it solves (against an exact primal solver) and what its scale trades."""

import numpy as np
import pytest
from scipy.optimize import minimize

from hf_causal.cina import calibration
from hf_causal.cina.calibration import calibrate_to_target, calibration_ridge, estimand_weights


def _penalised_primal(x: np.ndarray, base: np.ndarray, target: np.ndarray, ridge: float) -> np.ndarray:
    """``min_w KL(w || b) + |w x - m|² / (2 ridge)`` over the simplex, solved directly (softmax parameters, BFGS):
    the primal whose dual :func:`calibrate_to_target` solves (docs/design.md §4.2)."""
    b = base / base.sum()

    def objective(theta: np.ndarray) -> float:
        z = theta - theta.max()
        w = np.exp(z) / np.exp(z).sum()
        gap = w @ x - target
        return float(w @ np.log(w / b) + gap @ gap / (2 * ridge))

    theta = minimize(objective, np.log(b), method="BFGS", options={"gtol": 1e-12, "maxiter": 5000}).x
    w = np.exp(theta - theta.max())
    return w / w.sum()


@pytest.mark.parametrize("ridge", [0.04, 0.2, 1.0])
def test_the_ridged_calibration_solves_the_penalised_primal(ridge):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(25, 2))
    base = rng.random(25) + 0.1
    target = np.array([0.3, -0.2])
    w, residual = calibrate_to_target(x, base, target, ridge=ridge)
    exact = _penalised_primal(x, base, target, ridge)
    np.testing.assert_allclose(w, exact, atol=2e-5)
    assert residual == pytest.approx(np.abs(exact @ x - target).max(), abs=1e-4)


def test_a_larger_scale_leaves_more_imbalance_and_more_effective_units(monkeypatch):
    """The scale trades balance for effective sample size: the ATT controls' leftover mean gap grows with it and the
    Kish ESS of their weights too; the scale reaches the weights through :func:`calibration_ridge`."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 5))
    t = (rng.random(400) < 1 / (1 + np.exp(-1.5 * x[:, 0]))).astype(int)
    xs = (x - x.mean(0)) / x.std(0)
    gaps, ess = [], []
    for scale in (1.0, 10.0, 100.0):
        monkeypatch.setattr(calibration, "CALIBRATION_RIDGE_SCALE", scale)
        assert calibration_ridge(200) == pytest.approx(scale / 200)
        w, residual = estimand_weights(xs, t, np.ones(400), "att")
        controls = w[t == 0]
        gaps.append(np.abs(controls @ xs[t == 0] - xs[t == 1].mean(0)).max())
        ess.append(controls.sum() ** 2 / (controls**2).sum())
        assert residual == pytest.approx(gaps[-1], rel=1e-6)
    assert gaps[0] < gaps[1] < gaps[2] and ess[0] < ess[1] < ess[2]
    assert gaps[0] < 0.05  # scale 1: within sampling noise of the treated means
