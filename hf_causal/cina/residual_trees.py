"""Boosted trees on the outcome network's residuals, for the augmented ATE (docs/design.md §4.8).

The in-context network and the kernel model it corrects are smooth in every covariate they read; a surface with
steps or interactions in a few of many covariates (ACIC 2016: 79 encoded columns) leaves structure in their
residuals that the CInA weights, which balance means and second moments, do not remove. Per arm, shallow boosted
trees (the CATE proxy's, :func:`hf_causal.cina.tree_proxy.cross_fitted_arm_trees`) are fitted to the residuals
``Y - m_a(x)`` on one of two arm-stratified folds and predict the other. An arm's correction is kept only when the
held-out predictions reduce the squared residuals by more than :data:`RESIDUAL_TREES_GATE` standard errors of
that reduction; then the arm's surface gets the cross-fitted correction for every unit. Otherwise the surfaces
are left exactly as they were, which is what happens on IHDP and the synthetic families.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.folds import arm_stratified_folds
from .tree_proxy import cross_fitted_arm_trees, folds_hold_arms, outcome_scale

#: An arm's correction is kept when its held-out reduction of the squared residuals exceeds this many standard
#: errors (docs/design.md §4.8; chosen by ``benchmarks/residual_trees_selection.py`` among none / 0 / 2 / 3).
RESIDUAL_TREES_GATE = 3.0
#: The folds of the cross-fitted corrections (as the CATE calibration's).
RESIDUAL_TREES_FOLDS = 2


@dataclass
class ResidualCorrection:
    """Cross-fitted tree corrections of the two surfaces (zeros for an arm whose correction was not kept).

    Attributes:
        mu1, mu0: ``(N,)`` the corrections to add to the treated and control surfaces.
        z: per arm ``(control, treated)``, the held-out reduction of the squared residuals in standard errors.
    """

    mu1: np.ndarray
    mu0: np.ndarray
    z: tuple[float, float]

    @property
    def kept(self) -> bool:
        """Whether either arm's correction was kept."""
        return bool(np.any(self.mu1) or np.any(self.mu0))


def residual_corrections(x: np.ndarray, treatment: np.ndarray, outcome: np.ndarray, mu1: np.ndarray,
                         mu0: np.ndarray, gate: float | None = None, seed: int = 0) -> ResidualCorrection | None:
    """The corrections of the module docstring; ``None`` when a fold's context has fewer than
    :data:`~hf_causal.cina.tree_proxy.TREE_MIN_ARM` units of an arm. ``gate``: default
    :data:`RESIDUAL_TREES_GATE`, read at call time (the selection script varies it)."""
    gate = RESIDUAL_TREES_GATE if gate is None else gate
    t = np.asarray(treatment).astype(np.int64)
    fold = arm_stratified_folds(t, RESIDUAL_TREES_FOLDS, seed)
    if not folds_hold_arms(t, fold):
        return None
    scale = outcome_scale(outcome)
    corrections, z = {}, {}
    for arm, surface in ((0, mu0), (1, mu1)):
        residual = (np.asarray(outcome, dtype=np.float64) - surface) / scale
        correction, _ = cross_fitted_arm_trees(x, residual, t, fold, arm)
        own = t == arm
        gain = residual[own] ** 2 - (residual[own] - correction[own]) ** 2
        spread = float(np.std(gain, ddof=1)) / np.sqrt(len(gain))
        z[arm] = float(np.mean(gain)) / spread if spread > 0 else 0.0
        corrections[arm] = correction * scale if z[arm] > gate else np.zeros(len(t))
    return ResidualCorrection(corrections[1], corrections[0], (z[0], z[1]))
