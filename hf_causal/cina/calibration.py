"""Estimand calibration and balance diagnostics (numpy, O(N d)): docs/design.md §4.

:func:`estimand_weights` turns raw balancing weights into weights for the ATE, ATT or ATC by entropy balancing
(:func:`calibrate_to_target`) of :func:`calibration_features`; :func:`effective_sample_size` and
:func:`standardized_mean_differences` are the diagnostics an estimate reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.options import ESTIMANDS, MOMENTS

#: The calibration's dual ridge is ``CALIBRATION_RIDGE_SCALE / n_arm`` (:func:`calibration_ridge`): the dual of
#: penalising the residual imbalance ``δ`` by ``(n_arm / (2 · scale)) |δ|²``, so 1 balances to within about one
#: standard error of a mean and larger values leave more of the CInA weights' own balance in place for the outcome
#: model to correct. Chosen on fresh draws, never the benchmark suites' (``benchmarks/results/
#: calibration_ridge_selection.md``), and settled by a fourth draw (docs/design.md §4.2).
CALIBRATION_RIDGE_SCALE = 10.0


def calibration_ridge(n_arm: float) -> float:
    """The dual ridge of an arm of ``n_arm`` units: :data:`CALIBRATION_RIDGE_SCALE` ``/ n_arm``."""
    return CALIBRATION_RIDGE_SCALE / n_arm


class OverlapWarning(UserWarning):
    """Raised (as a warning) when the weights concentrate on very few units: overlap is poor."""


def calibrate_to_target(
    x: np.ndarray,
    base: np.ndarray,
    target_mean: np.ndarray,
    ridge: float = 1e-9,
    max_iter: int = 100,
) -> tuple[np.ndarray, float]:
    """Entropy balancing: reweight ``base`` (minimum KL) so the weighted mean of ``x`` hits ``target_mean``.

    Solves the convex dual ``min_g log sum_i b_i exp(g . (x_i - m)) + ridge/2 |g|^2`` by damped Newton.
    The small ridge keeps the problem solvable when the target is (nearly) outside the convex hull of
    ``x`` (no overlap); the returned residual imbalance then says how far it fell short.

    Returns:
        ``(weights, max_abs_residual)`` with weights summing to 1.
    """
    x = np.asarray(x, dtype=np.float64)
    b = np.clip(np.asarray(base, dtype=np.float64), 0.0, None)
    if b.sum() <= 0:
        b = np.ones_like(b)
    b = b / b.sum()
    keep = b > 0
    xc = x - np.asarray(target_mean, dtype=np.float64)
    g = np.zeros(x.shape[1])

    def objective(gam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        z = xc[keep] @ gam
        zmax = z.max()
        e = b[keep] * np.exp(z - zmax)
        total = e.sum()
        p = e / total
        mean = p @ xc[keep]
        val = math.log(total) + zmax + 0.5 * ridge * gam @ gam
        return val, p, mean

    val, p, mean = objective(g)
    for _ in range(max_iter):
        grad = mean + ridge * g
        if np.max(np.abs(grad)) < 1e-10:
            break
        centred = xc[keep] - mean
        hess = (centred * p[:, None]).T @ centred + ridge * np.eye(len(g))
        step = np.linalg.solve(hess + 1e-12 * np.eye(len(g)), grad)
        t = 1.0
        while t > 1e-8:
            new_val, new_p, new_mean = objective(g - t * step)
            if new_val <= val - 1e-4 * t * grad @ step:
                break
            t *= 0.5
        else:
            break
        g = g - t * step
        val, p, mean = new_val, new_p, new_mean
    weights = np.zeros_like(b)
    weights[keep] = p
    return weights, float(np.max(np.abs(mean))) if len(mean) else 0.0


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, dtype=np.float64)
    denom = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / denom) if denom > 0 else 0.0


def standardized_mean_differences(
    x: np.ndarray, treatment: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Standardised mean difference per covariate, ``(mean_1 - mean_0) / pooled unweighted SD``.

    With ``weights`` (normalised within each arm) the means are weighted; the denominator stays the
    unweighted pooled SD so that before/after values are comparable (the usual love-plot convention).
    A column that is constant within each arm has no pooled SD: its SMD is 0 when both arms hold the same
    value and infinite (signed) when they differ, since then the arms do not overlap at all.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(treatment).astype(bool)
    if weights is None:
        m1, m0 = x[t].mean(0), x[~t].mean(0)
    else:
        w = np.asarray(weights, dtype=np.float64)
        m1 = (w[t, None] * x[t]).sum(0) / w[t].sum()
        m0 = (w[~t, None] * x[~t]).sum(0) / w[~t].sum()
    return smd_from_moments(m1, m0, x[t].var(0), x[~t].var(0))


def smd_from_moments(mean1: np.ndarray, mean0: np.ndarray, var1: np.ndarray, var0: np.ndarray) -> np.ndarray:
    """:func:`standardized_mean_differences` from each arm's (weighted) means and unweighted variances: what a
    streamed estimate keeps (docs/design.md §4.7, §4.9)."""
    sd = np.sqrt(0.5 * (var1 + var0))
    gap = mean1 - mean0
    # no spread within the arms: any difference between them is a complete separation, never "balanced"
    degenerate = np.where(np.abs(gap) > 1e-12, np.copysign(np.inf, gap), 0.0)
    return np.where(sd > 1e-12, gap / np.where(sd > 1e-12, sd, 1.0), degenerate)


#: Smallest absolute standardised mean difference after weighting that counts as imbalanced (the love plot's
#: reference line; docs/design.md §4.7). Small arms tolerate more: see :func:`imbalance_tolerance`.
BALANCED_SMD = 0.1
#: Fewest effective units an arm's weights may rest on before the estimate counts as unsupported.
MIN_EFFECTIVE_UNITS = 5.0


def imbalance_tolerance(n_treated: int, n_control: int) -> float:
    """The largest |SMD| after weighting that the diagnostics accept: ``max(0.1, 2 sqrt(1/N1 + 1/N0))``.

    ``sqrt(1/N1 + 1/N0)`` is the standard error of a difference in means of a standardised covariate between
    arms of these sizes: a randomised trial's chance imbalance, which the calibration deliberately leaves
    (its ridge balances to within a few standard errors, docs/design.md §4.2), so a small dataset must not count
    as unsupported for it.
    """
    return max(BALANCED_SMD, 2.0 * math.sqrt(1.0 / max(n_treated, 1) + 1.0 / max(n_control, 1)))


def support_issue(
    smd_after: dict[str, float],
    ess: dict[str, float],
    residual_imbalance: float = 0.0,
    tolerance: float = BALANCED_SMD,
    calibrated: bool = True,
) -> str:
    """Why the overlap diagnostics of a weighting estimate fail, in one line; ``""`` when they pass.

    They fail when an arm's weights rest on fewer than :data:`MIN_EFFECTIVE_UNITS` effective units, when a
    covariate's weighted |SMD| exceeds ``tolerance`` (:func:`imbalance_tolerance`), or when the calibration
    left a standardised moment (a mean or, with ``moments=2``, a square) further than that from its target:
    the arms do not overlap enough for the weights to compare like with like, so the estimate extrapolates
    (docs/design.md §4.6-§4.7).

    Args:
        smd_after: ``{covariate: SMD after weighting}``.
        ess: ``{arm label: Kish effective sample size}``.
        residual_imbalance: the calibration's largest residual standardised gap.
        tolerance: the largest acceptable |SMD| after weighting.
        calibrated: whether the weights were calibrated to the estimand's moments. Uncalibrated weights (the raw
            ``"overlap"`` target) can leave imbalance that calibration would remove, so the line then says that
            the weights, not necessarily the overlap, fall short.
    """
    reasons = [
        f"the {arm} weights rest on {value:.1f} effective units (fewer than {MIN_EFFECTIVE_UNITS:g})"
        for arm, value in ess.items()
        if value < MIN_EFFECTIVE_UNITS
    ]
    worst = max(smd_after, key=lambda k: abs(smd_after[k]), default=None)
    if worst is not None and not abs(smd_after[worst]) <= tolerance:
        reasons.append(
            f"weighting leaves {worst!r} imbalanced (|SMD| {abs(smd_after[worst]):.2f} after weighting, "
            f"above {tolerance:.2g})"
        )
    elif residual_imbalance > tolerance:
        reasons.append(
            f"the calibration cannot match the target moments (largest standardised gap {residual_imbalance:.2f}, "
            f"above {tolerance:.2g})"
        )
    if not reasons:
        return ""
    if not calibrated:
        return ("; ".join(reasons) + ": these weights are not calibrated to the covariates' moments, so the arms "
                "stay unlike (estimand 'ate', 'att' or 'atc' calibrates them and says whether the overlap allows it)")
    return "; ".join(reasons) + ": the arms do not overlap enough, so the estimate extrapolates"


def estimand_weights(
    x_std: np.ndarray, treatment: np.ndarray, base: np.ndarray, estimand: str
) -> tuple[np.ndarray, float]:
    """Turn raw balancing weights into weights for ``estimand``; returns ``(weights, residual imbalance)``."""
    t = treatment.astype(bool)
    weights = base.astype(np.float64).copy()
    if estimand == "overlap":
        return weights, 0.0
    if estimand == "ate":
        target = x_std.mean(0)
        arms = (t, ~t)
    elif estimand == "att":
        target = x_std[t].mean(0)
        weights[t] = 1.0 / t.sum()
        arms = (~t,)
    elif estimand == "atc":
        target = x_std[~t].mean(0)
        weights[~t] = 1.0 / (~t).sum()
        arms = (t,)
    else:
        raise ValueError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")
    residual = 0.0
    for arm in arms:
        # balance to within a few standard errors rather than exactly: exact mean balancing of many covariates in a
        # small arm gives extreme weights, and several times the error on held-out synthetic datasets (§4.2)
        w, res = calibrate_to_target(x_std[arm], base[arm], target, ridge=calibration_ridge(arm.sum()))
        weights[arm] = w
        residual = max(residual, res)
    return weights, residual


def calibration_features(x_std: np.ndarray, moments: int = 2) -> np.ndarray:
    """The columns whose weighted means the calibration matches: ``x_std`` (``moments=1``), plus the
    standardised squares of its non-binary columns (``moments=2``; squares of 0/1 columns repeat them)."""
    if moments not in MOMENTS:
        raise ValueError(f"moments must be one of {MOMENTS}, got {moments!r}")
    if moments == 1 or x_std.shape[1] == 0:
        return x_std
    non_binary = np.array([np.unique(col).size > 2 for col in x_std.T])
    if not non_binary.any():
        return x_std
    return np.column_stack([x_std, standardize_columns(x_std[:, non_binary] ** 2)])


#: Pairwise products of the standardised covariates that ``cross_moments=True`` balances: this many per covariate
#: column, at most :data:`MAX_CROSS_MOMENTS` in all. Chosen on a fresh draw (seed 1) of the OOD families, never the
#: benchmark suites' draw (``benchmarks/results/cross_moments_selection.md``; docs/design.md §4.3).
CROSS_MOMENTS_PER_COLUMN = 2
MAX_CROSS_MOMENTS = 200
#: Bound, in SDs, of each balanced product (:meth:`CrossPairs.columns`).
CROSS_MOMENT_CLIP = 5.0


@dataclass(frozen=True)
class CrossPairs:
    """The pairwise products a calibration balances: columns ``first[k] * second[k]`` of the standardised
    covariates, centred by ``mean`` and scaled by ``sd`` (over all rows)."""

    first: np.ndarray
    second: np.ndarray
    mean: np.ndarray
    sd: np.ndarray

    def columns(self, x_std: np.ndarray) -> np.ndarray:
        """``(len(x_std), k)`` standardised products of rows of standardised covariates, clipped to
        ``±CROSS_MOMENT_CLIP``: the product of two skewed columns has tails tens of SDs long, and a column like that
        makes the calibration's dual ill-conditioned (hundreds of Newton steps, weights on a few units)."""
        return np.clip((x_std[:, self.first] * x_std[:, self.second] - self.mean) / self.sd, -CROSS_MOMENT_CLIP,
                       CROSS_MOMENT_CLIP)


def choose_cross_pairs(
    mean1: np.ndarray, mean0: np.ndarray, product1: np.ndarray, product0: np.ndarray, n1: float, n0: float,
    square_product: np.ndarray,
) -> CrossPairs:
    """The pairs ``i < j`` whose products ``z_i z_j`` differ most between the arms beyond what the arms' means
    explain: ranked by the gap between the arms' covariances of ``z_i`` and ``z_j``, in units of the product's SD.

    ``mean1`` / ``mean0``: each arm's mean of ``z``; ``product1`` / ``product0``: each arm's mean of ``z zᵀ``
    (``d x d``); ``n1`` / ``n0`` the arm sizes; ``square_product``: the mean of ``z² (z²)ᵀ`` over all rows, for the
    products' SDs. The count is :data:`CROSS_MOMENTS_PER_COLUMN` per column, at most :data:`MAX_CROSS_MOMENTS`
    (docs/design.md §4.3).
    """
    d = product1.shape[0]
    first, second = np.triu_indices(d, 1)
    count = min(CROSS_MOMENTS_PER_COLUMN * d, MAX_CROSS_MOMENTS, len(first))
    mean = (n1 * product1 + n0 * product0) / (n1 + n0)
    sd = np.sqrt(np.clip(square_product - mean**2, 0.0, None))[first, second]
    varies = sd > 1e-8
    # the arms' covariances, not their raw product means: a product of two covariates whose means differ differs
    # too, and balancing the means already removes that part (ranking by raw means put those pairs first and
    # sent LaLonde NSW+PSID's ATT error from $25 to $936)
    gap = (product1 - np.outer(mean1, mean1)) - (product0 - np.outer(mean0, mean0))
    score = np.where(varies, np.abs(gap)[first, second] / np.where(varies, sd, 1.0), -1.0)
    chosen = np.sort(np.argsort(-score, kind="stable")[:count])
    chosen = chosen[score[chosen] > 0]
    a, b = first[chosen], second[chosen]
    return CrossPairs(a, b, mean[a, b], sd[chosen])


def cross_pairs_of(x_std: np.ndarray, treatment: np.ndarray) -> CrossPairs:
    """:func:`choose_cross_pairs` from rows in memory."""
    t = np.asarray(treatment).astype(bool)
    z1, z0, sq = x_std[t], x_std[~t], x_std**2
    return choose_cross_pairs(z1.mean(0), z0.mean(0), z1.T @ z1 / len(z1), z0.T @ z0 / len(z0), len(z1), len(z0),
                              sq.T @ sq / len(sq))


def balance_columns(
    x_std: np.ndarray, treatment: np.ndarray, moments: int = 2, cross_moments: bool = False
) -> np.ndarray:
    """What the weights balance: :func:`calibration_features`, plus (``moments=2`` and ``cross_moments``) the
    standardised pairwise products that :func:`choose_cross_pairs` picks."""
    features = calibration_features(x_std, moments)
    if moments < 2 or not cross_moments or x_std.shape[1] < 2:
        return features
    products = cross_pairs_of(x_std, treatment).columns(x_std)
    return np.column_stack([features, products]) if products.shape[1] else features


def standardize_columns(x: np.ndarray) -> np.ndarray:
    """Centre and scale each column to unit SD, dropping constant columns (numpy)."""
    sd = x.std(0)
    keep = sd > 1e-12
    return (x[:, keep] - x[:, keep].mean(0)) / sd[keep]


class CovariateMap:
    """:func:`standardize_columns` and :func:`calibration_features` fitted on one dataset and applicable to new
    rows (their centring, scaling and kept columns are the fitted dataset's): the covariate map of the outcome
    models, which predict at rows they were not fitted on.

    On the fitted rows, ``standardized(x)`` equals ``standardize_columns(x)`` and ``balanced(x)`` equals
    ``calibration_features(standardize_columns(x), moments)``. Other rows are clipped, column by column, to the
    range the fitted rows span: an outcome model fitted on that range is not asked to extrapolate beyond it (a
    covariate value far outside it, or the square of one whose fitted squares barely vary, would otherwise send a
    linear prediction to any size).
    """

    def __init__(self, x: np.ndarray, moments: int = 2) -> None:
        if moments not in MOMENTS:
            raise ValueError(f"moments must be one of {MOMENTS}, got {moments!r}")
        x = np.asarray(x, dtype=np.float64)
        sd = x.std(0)
        self.keep = sd > 1e-12
        self.mean, self.sd = x[:, self.keep].mean(0), sd[self.keep]
        self.low, self.high = None, None
        x_std = self.standardized(x)
        self.low, self.high = x_std.min(0), x_std.max(0)
        self.squares = moments == 2 and x_std.shape[1] > 0
        self.non_binary = np.array([np.unique(col).size > 2 for col in x_std.T], dtype=bool)
        self.squares = self.squares and bool(self.non_binary.any())
        if self.squares:
            sq = x_std[:, self.non_binary] ** 2
            sq_sd = sq.std(0)
            self.sq_keep = sq_sd > 1e-12
            self.sq_mean, self.sq_sd = sq[:, self.sq_keep].mean(0), sq_sd[self.sq_keep]
            scaled = (sq[:, self.sq_keep] - self.sq_mean) / self.sq_sd
            self.sq_low, self.sq_high = scaled.min(0), scaled.max(0)

    def standardized(self, x: np.ndarray) -> np.ndarray:
        """Rows centred and scaled with the fitted statistics (constant columns dropped, clipped to the fitted range)."""
        z = (np.asarray(x, dtype=np.float64)[:, self.keep] - self.mean) / self.sd
        return z if self.low is None else np.clip(z, self.low, self.high)

    def balanced(self, x: np.ndarray) -> np.ndarray:
        """The calibration features of rows: standardised columns, plus standardised squares (``moments=2``)."""
        x_std = self.standardized(x)
        if not self.squares:
            return x_std
        sq = x_std[:, self.non_binary] ** 2
        scaled = np.clip((sq[:, self.sq_keep] - self.sq_mean) / self.sq_sd, self.sq_low, self.sq_high)
        return np.column_stack([x_std, scaled])
