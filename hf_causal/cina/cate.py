"""Conditional effects per unit, calibrated against doubly robust pseudo-outcomes (docs/design.md §4.8).

The outcome model (the in-context network, or the kernel T-learner) proposes each unit's effect
``tau(x) = mu1(x) - mu0(x)``. Its deviations from the average are not trusted as they come: a model that
invents heterogeneity where the effect is constant (IHDP surface A) is common. :func:`estimate_cate` reports

    cate(x) = ATE + b * (tau(x) - mean over the context of tau)

where ``ATE`` is the doubly robust estimate of :func:`~hf_causal.cina.estimator.estimate_effect` and ``b`` is the
least-squares slope of doubly robust pseudo-outcomes on cross-fitted predictions of ``tau``, clipped to
``[0, 1]`` (the best linear predictor of the effect given the proxy; Chernozhukov, Demirer, Duflo and
Fernández-Val 2018). The pseudo-outcome of unit ``i`` is

    psi_i = tau~(x_i) + (2 T_i - 1) * N * w_i * (Y_i - mu~_{T_i}(x_i))

with ``w`` the CInA weights of the ATE (each arm's sum to one, so ``N w_i`` plays the inverse propensity) and
``~`` the predictions of the fold-out model: each of two arm-stratified folds is predicted from a context of the
other, so no unit's own outcome enters the prediction it is compared with. ``b = 0`` means "no heterogeneity the
data can confirm": every unit gets the ATE; ``b = 1`` keeps the model's heterogeneity.

With ``tree_proxy`` (the default) the pseudo-outcomes are also regressed on a second proxy, shallow boosted trees
per arm fitted on the same folds (:mod:`hf_causal.cina.tree_proxy`); when its coefficient passes its gate both
slopes come from that joint regression and ``cate(x)`` adds ``b_trees * (tau_trees(x) - mean tau_trees)``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.folds import arm_stratified_folds
from ..core.results import EffectEstimate, normal_quantile
from .estimator import estimate_effect
from .inputs import (
    check_aligned,
    check_roles_apart,
    encode_covariates,
    encode_new_rows,
    split_frame,
    validate_outcome,
    validate_treatment,
)
from .potential_outcomes import has_outcome_network, predict_potential_outcomes
from .tree_proxy import TreeProxy, fit_tree_proxy, gated_slopes

#: Folds of the cross-fitted predictions the calibration compares with.
CALIBRATION_FOLDS = 2
#: A fold's context needs at least this many units of each arm, or the effects are left uncalibrated.
CALIBRATION_MIN_ARM = 5
#: Above this many units the slope is fitted on a seeded random subsample of them (one number needs no more,
#: and the fold passes would otherwise cost more than the effects).
CALIBRATION_MAX_UNITS = 20_000


class ExtrapolationWarning(UserWarning):
    """Raised (as a warning) when rows to predict for lie far outside the context's covariates: their effects are
    the context edge's, extrapolated."""


def warn_far_rows(x: np.ndarray, x_new: np.ndarray, names: list[str]) -> None:
    """Warn when rows of ``x_new`` lie more than one context SD beyond the context's range in some column: the
    models read standardised covariates clipped to the context's scale, so such a row gets the edge's effect with
    an interval that does not widen for the distance."""
    low, high = x.min(axis=0), x.max(axis=0)
    margin = x.std(axis=0)
    far = (x_new < low - margin) | (x_new > high + margin)
    rows = np.flatnonzero(far.any(axis=1))
    if len(rows):
        cols = [names[j] for j in np.flatnonzero(far.any(axis=0))][:5]
        warnings.warn(f"X_new: {len(rows)} of {len(x_new)} rows (first: row {rows[0]}) lie more than one SD beyond the "
                      f"context's range in {cols}: their effects are extrapolated from the context's edge",
                      ExtrapolationWarning, stacklevel=4)


def cross_fitted_surfaces(
    model: Any,
    x: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    use_network: bool = True,
    folds: int = CALIBRATION_FOLDS,
    seed: int = 0,
    fold: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(mu0, mu1)`` of every unit predicted from a context without its own fold, or ``None`` when a fold's
    context has fewer than :data:`CALIBRATION_MIN_ARM` units of an arm. ``fold``: each unit's fold (default:
    :func:`arm_stratified_folds` with ``folds`` and ``seed``)."""
    t = np.asarray(treatment).astype(np.int64)
    fold = arm_stratified_folds(t, folds, seed) if fold is None else fold
    mu0, mu1 = np.empty(len(t)), np.empty(len(t))
    for k in np.unique(fold):
        held, context = fold == k, fold != k
        if min(int((t[context] == 1).sum()), int((t[context] == 0).sum())) < CALIBRATION_MIN_ARM:
            return None
        po = predict_potential_outcomes(model, x[context], t[context], outcome[context], x_new=x[held],
                                        use_network=use_network)
        mu0[held], mu1[held] = po.mu0, po.mu1
    return mu0, mu1


def heterogeneity_slope(pseudo_outcomes: np.ndarray, proxy: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of ``pseudo_outcomes`` on ``proxy`` (with an intercept) and its heteroscedasticity-
    robust (HC0) standard error; ``(0.0, inf)`` when the proxy does not vary."""
    psi = np.asarray(pseudo_outcomes, dtype=np.float64)
    centred = np.asarray(proxy, dtype=np.float64) - np.mean(proxy)
    spread = float(centred @ centred)
    if not np.isfinite(spread) or spread <= 1e-12 * max(len(psi), 1):
        return 0.0, float("inf")
    slope = float(centred @ (psi - psi.mean())) / spread
    residual = psi - psi.mean() - slope * centred
    return slope, float(np.sqrt(np.sum(centred**2 * residual**2)) / spread)


def dr_pseudo_outcomes(treatment: np.ndarray, outcome: np.ndarray, mu0: np.ndarray, mu1: np.ndarray,
                       inverse_propensity: np.ndarray) -> np.ndarray:
    """The doubly robust pseudo-outcome of each unit (module docstring),
    ``psi_i = (mu1 - mu0)(x_i) + (2 T_i - 1) * inverse_propensity_i * (Y_i - mu_{T_i}(x_i))``; with CInA weights
    ``inverse_propensity`` is ``N w`` (each arm's weights sum to one)."""
    t = np.asarray(treatment)
    return mu1 - mu0 + (2.0 * t - 1.0) * inverse_propensity * (outcome - np.where(t == 1, mu1, mu0))


@dataclass
class Calibration:
    """The calibration of the module docstring: the slopes kept (clipped to ``[0, 1]``) and their standard
    errors (at most 1), the fitted slope of the outcome model's proxy before clipping, and the boosted-tree proxy
    when its slope was kept (:mod:`hf_causal.cina.tree_proxy`; ``tree_slope`` is 0 otherwise)."""

    slope: float
    slope_se: float
    fitted: float
    tree_slope: float = 0.0
    tree_se: float = 0.0
    trees: TreeProxy | None = None


def calibration_slope(
    model: Any,
    x: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    weights: np.ndarray,
    use_network: bool,
    seed: int = 0,
    tree_proxy: bool = True,
) -> Calibration | None:
    """The slopes of the module docstring with their standard errors; ``None`` when the folds cannot be formed.
    ``weights`` are the ATE's (summing to one within each arm); ``tree_proxy``: also try the boosted-tree proxy
    as a second regressor, kept only past its gate."""
    n = len(treatment)
    t = np.asarray(treatment).astype(np.int64)
    scale = n * np.asarray(weights, dtype=np.float64)  # each arm's weights sum to 1: N w_i ~ 1 / P(arm | x_i)
    if n > CALIBRATION_MAX_UNITS:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=CALIBRATION_MAX_UNITS, replace=False))
        x, t, outcome, scale = x[keep], t[keep], outcome[keep], scale[keep]
    fold = arm_stratified_folds(t, CALIBRATION_FOLDS, seed)
    surfaces = cross_fitted_surfaces(model, x, t, outcome, use_network=use_network, fold=fold)
    if surfaces is None:
        return None
    mu0, mu1 = surfaces
    pseudo = dr_pseudo_outcomes(t, outcome, mu0, mu1, scale)
    slope, slope_se = heterogeneity_slope(pseudo, mu1 - mu0)
    calibration = Calibration(float(np.clip(slope, 0.0, 1.0)), min(slope_se, 1.0), float(slope))
    trees = fit_tree_proxy(x, t, outcome, fold) if tree_proxy else None
    kept = None if trees is None else gated_slopes(pseudo, mu1 - mu0, trees.cross_fitted)
    if kept is not None:
        (calibration.slope, calibration.tree_slope), (calibration.slope_se, calibration.tree_se) = kept
        calibration.trees = trees
    return calibration


def estimate_cate(
    model: Any,
    covariates: Any,
    treatment: Any,
    outcome: Any,
    covariates_new: Any = None,
    confidence: float = 0.95,
    outcome_model: str = "pretrained",
    calibrate: bool = True,
    tree_proxy: bool = True,
) -> EffectEstimate:
    """Per-unit conditional effects with intervals; see :meth:`CInAModel.cate` and the module docstring."""
    start = time.perf_counter()
    if outcome_model not in ("pretrained", "kernel"):
        raise ValueError(f"outcome_model must be 'pretrained' or 'kernel' for effects per unit, got {outcome_model!r}")
    for option, given in (("calibrate", calibrate), ("tree_proxy", tree_proxy)):
        if not isinstance(given, bool):
            raise TypeError(f"{option} must be True or False, got {given!r}")
    z = normal_quantile(confidence)
    if isinstance(treatment, str) or isinstance(outcome, str):
        if not (isinstance(treatment, str) and isinstance(outcome, str) and isinstance(covariates, pd.DataFrame)):
            raise ValueError("with column names for treatment and outcome, both must be names and the covariates a "
                             "DataFrame holding them (cate reads the data in memory; a streamed table has no per-row "
                             "effects here)")
        if isinstance(covariates_new, pd.DataFrame):  # new rows from the same table may carry its T and Y columns
            covariates_new = covariates_new.drop(columns=[treatment, outcome], errors="ignore")
        covariates, treatment, outcome = split_frame(covariates, treatment, outcome)
    check_aligned(covariates, treatment, outcome)
    x, names = encode_covariates(covariates)
    n = x.shape[0]
    t = validate_treatment(treatment, n)
    y = validate_outcome(outcome, n)
    check_roles_apart(x, names, y)
    x_new = None
    index: Any = covariates.index if isinstance(covariates, pd.DataFrame) else pd.RangeIndex(n)
    if covariates_new is not None:
        x_new = encode_new_rows(covariates_new, covariates, names)
        warn_far_rows(x, x_new, names)
        index = covariates_new.index if isinstance(covariates_new, pd.DataFrame) else pd.RangeIndex(len(x_new))
    use_network = outcome_model == "pretrained" and has_outcome_network(model)
    context = predict_potential_outcomes(model, x, t, y, use_network=use_network)
    po = context if x_new is None else predict_potential_outcomes(model, x, t, y, x_new=x_new, use_network=use_network)
    proxy = po.mu1 - po.mu0
    # the arms' errors are treated as independent: a conservative interval when they are positively correlated
    proxy_sd = np.sqrt(po.sd0**2 + po.sd1**2)
    where = "the context rows" if x_new is None else "the new rows"
    query = f"mean over {where} of E[Y(1) - Y(0) | X = x]"
    fit = None
    if calibrate:
        ate = estimate_effect(model, covariates, treatment, outcome, estimand="ate",
                              outcome_model="pretrained" if use_network else "kernel",
                              potential_outcomes=context if use_network else None)
        fit = calibration_slope(model, x, t, y, ate.weights, use_network, tree_proxy=tree_proxy)
    if fit is not None:
        b = fit.slope
        deviation = proxy - float(np.mean(context.mu1 - context.mu0))
        effect = ate.value + b * deviation
        # the level's error (the ATE's interval), the proxy's own error at the kept slope, and the slope's
        # sampling error times how far the row is from the average
        variance = ate.std_error**2 + (b * proxy_sd) ** 2 + (deviation * fit.slope_se) ** 2
        interval = ("the ATE's interval, the outcome model's predicted spread of the kept deviation, and the "
                    "calibration slope's sampling error")
        query += f"; the outcome model's deviations from the ATE kept at slope {b:.2f} (one-proxy fit {fit.fitted:.2f})"
        if fit.trees is not None:
            tree_effect, tree_spread = fit.trees.predict(x if x_new is None else x_new)
            tree_deviation = tree_effect - (float(np.mean(fit.trees.predict(x)[0])) if x_new is not None
                                            else float(np.mean(tree_effect)))
            effect = effect + fit.tree_slope * tree_deviation
            variance = variance + (fit.tree_slope * tree_spread) ** 2 + (tree_deviation * fit.tree_se) ** 2
            interval += "; the same for the boosted trees' deviation (their spread: the two folds' disagreement)"
            query += f", boosted trees' deviations at slope {fit.tree_slope:.2f} ± {fit.tree_se:.2f}"
        sd = np.sqrt(variance)
    else:
        effect, sd = proxy, proxy_sd
        interval = "the outcome model's predicted spread of each row's effect (model error, not sampling noise)"
        if calibrate:
            query += "; uncalibrated: too few units of an arm to cross-fit the calibration"
    effects = pd.DataFrame(
        {"cate": effect, "std_error": sd, "ci_low": effect - z * sd, "ci_high": effect + z * sd,
         "mu0": po.mu0, "mu1": po.mu1},
        index=index,
    )
    effects.attrs["heterogeneity_slope"] = None if fit is None else b
    effects.attrs["tree_slope"] = None if fit is None else fit.tree_slope
    fields: dict[str, Any] = dict(
        confidence=confidence, estimand="cate", method="cina-zs", n=len(effect), query=query, interval=interval,
        outcome_model=po.source, outcome_network=po.network, outcome_withheld=po.withheld, effects=effects,
    )
    if calibrate:  # the level is the ATE's, so its overlap diagnostics are the effects' too
        fields.update(supported=ate.supported, support_issue=ate.support_issue)
    if fit is not None and x_new is None:
        # the context rows' calibrated effects average to the doubly robust ATE, whose interval is the mean's
        result = EffectEstimate.from_standard_error(float(effect.mean()), float(ate.std_error), **fields)
    else:
        # the rows' errors are correlated, so their mean carries no interval here (estimate() is for averages)
        result = EffectEstimate(float(effect.mean()), **fields)
    result.seconds = time.perf_counter() - start
    return result
