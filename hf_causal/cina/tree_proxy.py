"""A second proxy of the effect for the CATE calibration: shallow boosted trees per arm (docs/design.md §4.8).

The outcome models (the in-context network and the kernel model it corrects) are smooth in every covariate they
read. Heterogeneity that is a step or an interaction in a few of many covariates (ACIC 2016: 79 encoded columns)
is what shallow boosted trees find and a kernel smooths away; where the effect is smooth or constant, the trees
add noise. So the trees only ever enter as a *second proxy* of the calibration in :mod:`hf_causal.cina.cate`:
the doubly robust pseudo-outcomes are regressed on both proxies jointly (the best linear predictor of the effect
given the two), and the trees' coefficient is kept only when it is positive beyond :data:`TREE_PROXY_GATE`
heteroscedasticity-robust standard errors. Otherwise the calibration is the one-proxy calibration of the outcome
model, unchanged.

The trees are fitted on the calibration's own folds: each fold's pair (one regressor per arm, on the other
fold's units) predicts the held-out fold for the regression, and the two pairs' average predicts every row asked
about; half their difference is the proxy's spread in the rows' intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: The trees' coefficient must exceed this many robust standard errors to be kept (docs/design.md §4.8: chosen
#: by ``benchmarks/tree_proxy_selection.py`` among no trees and 0 / 2 / 3, on the validation families and fresh
#: draws).
TREE_PROXY_GATE = 3.0
#: ``HistGradientBoostingRegressor`` settings: shallow and few, so four fits cost about 0.15 s at N = 5,000,
#: d = 20 on one thread (the ``cate`` speed target of ``benchmarks/results/cate.md``); no early stopping, whose
#: random validation split would make an estimate depend on the table's size in a second way.
TREE_SETTINGS: dict[str, Any] = {"max_depth": 3, "max_iter": 40, "learning_rate": 0.1, "early_stopping": False,
                                 "random_state": 0}
#: A fold's arm needs this many units for its trees (below it they would be a constant: no proxy).
TREE_MIN_ARM = 40


@dataclass
class TreeProxy:
    """Boosted-tree effect proxies fitted on the calibration's folds.

    Attributes:
        cross_fitted: ``(N,)`` each calibration unit's proxy from the pair fitted without its fold.
        pairs: per fold, the ``(control, treated)`` regressors fitted on the other folds' units.
        scale: the outcome's SD (the trees fit the standardised outcome; their effects are scaled back).
    """

    cross_fitted: np.ndarray
    pairs: list[tuple[Any, Any]]
    scale: float

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(effect, spread)`` of rows ``x``: the folds' pairs' average effect and half the range of their
        effects (the proxy's own instability, a scale for its share of the rows' intervals)."""
        effects = np.stack([pair[1].predict(x) - pair[0].predict(x) for pair in self.pairs]) * self.scale
        return effects.mean(axis=0), 0.5 * (effects.max(axis=0) - effects.min(axis=0))


def outcome_scale(outcome: np.ndarray) -> float:
    """The outcome's SD, the unit the trees fit in (1 where it is zero or not finite)."""
    scale = float(np.std(outcome))
    return scale if np.isfinite(scale) and scale > 0 else 1.0


def folds_hold_arms(treatment: np.ndarray, fold: np.ndarray) -> bool:
    """Whether every fold's context (the other folds) has :data:`TREE_MIN_ARM` units of each arm."""
    return all(min(int(((fold != k) & (treatment == a)).sum()) for a in (0, 1)) >= TREE_MIN_ARM
               for k in np.unique(fold))


def cross_fitted_arm_trees(x: np.ndarray, target: np.ndarray, treatment: np.ndarray, fold: np.ndarray,
                           arm: int) -> tuple[np.ndarray, list[Any]]:
    """Per fold, boosted trees (:data:`TREE_SETTINGS`) fitted to ``target`` on the other folds' units of ``arm``;
    returns every unit's prediction by the trees fitted without its fold, and the trees of each fold."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    held_out, fitted = np.empty(len(target)), []
    for k in np.unique(fold):
        context = (fold != k) & (treatment == arm)
        trees = HistGradientBoostingRegressor(**TREE_SETTINGS).fit(x[context], target[context])
        held_out[fold == k] = trees.predict(x[fold == k])
        fitted.append(trees)
    return held_out, fitted


def fit_tree_proxy(x: np.ndarray, treatment: np.ndarray, outcome: np.ndarray, fold: np.ndarray) -> TreeProxy | None:
    """Per fold, one boosted regressor per arm on the other folds' units; ``None`` when a fold's context has fewer
    than :data:`TREE_MIN_ARM` units of an arm."""
    t = np.asarray(treatment).astype(np.int64)
    if not folds_hold_arms(t, fold):
        return None
    scale = outcome_scale(outcome)
    y = (np.asarray(outcome, dtype=np.float64) - float(np.mean(outcome))) / scale
    (held0, trees0), (held1, trees1) = (cross_fitted_arm_trees(x, y, t, fold, arm) for arm in (0, 1))
    return TreeProxy((held1 - held0) * scale, list(zip(trees0, trees1, strict=True)), scale)


def joint_slopes(pseudo_outcomes: np.ndarray, proxies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients of ``pseudo_outcomes`` on the columns of ``proxies`` ``(N, K)`` with an
    intercept, and their heteroscedasticity-robust (HC0) standard errors (NaN where rounding leaves no positive
    variance; an exactly singular design raises ``numpy.linalg.LinAlgError``)."""
    psi = np.asarray(pseudo_outcomes, dtype=np.float64)
    design = np.asarray(proxies, dtype=np.float64)
    design = design - design.mean(axis=0)
    bread = np.linalg.inv(design.T @ design)
    coef = bread @ design.T @ (psi - psi.mean())
    residual = psi - psi.mean() - design @ coef
    meat = design.T @ (design * residual[:, None] ** 2)
    variance = np.diag(bread @ meat @ bread)
    # a numerically singular design can leave a negative variance: NaN, never a zero that would pass a gate
    return coef, np.sqrt(np.where(variance > 0, variance, np.nan))


def gated_slopes(pseudo_outcomes: np.ndarray, model_proxy: np.ndarray, tree_proxy: np.ndarray,
                 gate: float | None = None) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The two proxies' slopes ``(b_model, b_trees)`` and standard errors when the trees' coefficient in the joint
    regression exceeds ``gate`` standard errors, else ``None`` (the one-proxy calibration stands). A negative
    model coefficient beside kept trees is set to 0 and the trees' slope refitted alone; slopes are clipped to
    ``[0, 1]`` and their standard errors to at most 1, as the one-proxy slope's are. ``gate``: default
    :data:`TREE_PROXY_GATE`, read at call time (the selection script varies it)."""
    gate = TREE_PROXY_GATE if gate is None else gate
    if not np.all(np.isfinite(tree_proxy)) or np.ptp(tree_proxy) == 0:
        return None
    try:
        coef, se = joint_slopes(pseudo_outcomes, np.column_stack([model_proxy, tree_proxy]))
    except np.linalg.LinAlgError:  # the proxies are collinear: the trees add nothing the model's proxy lacks
        return None
    if not (np.all(np.isfinite(coef)) and np.isfinite(se[1]) and coef[1] > gate * se[1]):
        return None
    if coef[0] < 0:
        alone, alone_se = joint_slopes(pseudo_outcomes, np.asarray(tree_proxy)[:, None])
        coef, se = np.array([0.0, alone[0]]), np.array([0.0, alone_se[0]])
    slopes, errors = np.clip(coef, 0.0, 1.0), np.minimum(se, 1.0)
    return (float(slopes[0]), float(slopes[1])), (float(errors[0]), float(errors[1]))
