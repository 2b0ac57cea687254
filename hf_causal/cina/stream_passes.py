"""The passes of a chunked estimate, and the plan they fill in (docs/design.md §4.9).

Each pass is a module-level function ``pass(plan, chunk) -> (partial, kept)`` (so a cluster can run it): it
reads one chunk and what the earlier passes fixed in the :class:`Plan`, and returns sums over the chunk's rows.

1. ``scan``: arm sizes, column moments (overall and per arm), per-arm ranges, a few distinct values per column.
2. ``collect``: the rows of the seeded samples (attention landmarks, RBF landmarks), moments of the squares, each
   arm's pairwise products (to choose the cross moments to balance).
3. ``density``: per head, the log row sums over the landmarks; calibration targets; normal equations.
4. ``forward``: each unit's dual (kept per chunk, with its balanced columns for a table in memory); ridge
   leave-one-out scores.
5. ``calibrate`` (a few times): the calibration dual's sums at each arm's requested ``gamma``.
6. ``finish``: the weights; effect, standard error, balance and ESS sums; weights written per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .accumulators import CoMoments, FewValues, Moments, Range
from .calibration import CrossPairs
from .stream_calibration import NewtonArm, exp_sums
from .stream_outcome import rbf_kernel
from .stream_runner import Chunk

ARMS = (1, 0)
#: Largest ``rows x columns`` of balanced columns kept in memory between the calibration passes (160 MB).
KEEP_BALANCED_MAX_VALUES = 20_000_000


@dataclass
class Plan:
    """Everything fixed so far: options, then the standardisation, the samples, the models and the calibration."""

    estimand: str
    moments: int
    outcome_model: str
    clip: float
    n: int = 0
    n_arm: dict[int, int] = field(default_factory=dict)
    mean: np.ndarray | None = None
    sd: np.ndarray | None = None
    keep: np.ndarray | None = None
    non_binary: np.ndarray | None = None
    sq_mean: np.ndarray | None = None
    sq_sd: np.ndarray | None = None
    sq_keep: np.ndarray | None = None
    landmark_ranks: dict[int, np.ndarray] | None = None
    rbf_positions: np.ndarray | None = None
    fit_ranks: dict[int, np.ndarray | None] = field(default_factory=dict)
    forward: Any = None
    rbf: Any = None
    ridge: dict[int, Any] = field(default_factory=dict)
    ols: dict[int, Any] = field(default_factory=dict)
    base_total: dict[int, float] = field(default_factory=dict)
    calibration: dict[int, NewtonArm] = field(default_factory=dict)
    #: the other balance specification's calibration (with the pairwise products when the estimate has none, and
    #: the reverse), whose estimate's gap to this one widens the interval (docs/design.md §4.6)
    alternative: dict[int, NewtonArm] = field(default_factory=dict)
    #: ``{(kind, arm): gamma}``, ``kind`` ``"main"`` or ``"alternative"``: the duals the next calibrate pass evaluates
    requests: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    cross_moments: bool = False
    #: calibrate the alternative specification too, for the interval
    cross_check: bool = False
    cross: CrossPairs | None = None
    #: keep each chunk's balanced columns from the forward pass for the calibration passes (a table in memory, up to
    #: ``KEEP_BALANCED_MAX_VALUES`` values: rebuilding a few hundred product columns on every Newton step would
    #: cost more than the step)
    keep_balanced: bool = False

    # -- per-chunk maps ----------------------------------------------------------------------------------

    def model_input(self, x: np.ndarray) -> np.ndarray:
        """Standardised covariates as the network sees them: constant columns 0, clipped (docs/design.md §3.2)."""
        safe = np.where(self.sd > 1e-12, self.sd, 1.0)
        z = np.where(self.sd > 1e-12, (x - self.mean) / safe, 0.0)
        return np.clip(z, -self.clip, self.clip) if self.clip > 0 else z

    def standardized(self, x: np.ndarray) -> np.ndarray:
        """``standardize_columns``: centred, unit SD, constant columns dropped."""
        return self.features(x, squares=False)

    def features(self, x: np.ndarray, squares: bool = True) -> np.ndarray:
        """``calibration_features(standardize_columns(x))``: the standardised columns, then (``moments=2``) the
        standardised squares of the non-binary ones; the first ``keep.sum()`` columns are the standardised
        covariates. Built in one buffer: the calibration passes compute it for every row, every pass."""
        kept = int(self.keep.sum())
        extra = int(self.sq_keep.sum()) if squares and self.sq_mean is not None else 0
        g = np.empty((len(x), kept + extra))
        std = g[:, :kept]
        np.subtract(x if kept == x.shape[1] else x[:, self.keep], self.mean[self.keep], out=std)
        std /= self.sd[self.keep]
        if extra:
            sq = g[:, kept:]
            np.square(std[:, np.flatnonzero(self.non_binary)[self.sq_keep]], out=sq)
            sq -= self.sq_mean
            sq /= self.sq_sd
        return g

    def balanced(self, x: np.ndarray, g: np.ndarray | None = None) -> np.ndarray:
        """The balanced columns: the calibration features ``g`` (of rows ``x``, computed when not given), then the
        chosen pairwise products of the standardised covariates (``balance_columns``; docs/design.md §4.3). A
        calibration reads the first ``len(target)`` of them: without the products, the features alone."""
        g = self.features(x) if g is None else g
        if self.cross is None:
            return g
        return np.column_stack([g, self.cross.columns(g[:, : int(self.keep.sum())])])

    def design(self, x_std: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The outcome regression's inputs: the calibration features and the RBF landmark features."""
        return np.column_stack([g, rbf_kernel(x_std, self.rbf) @ self.rbf.projection])

    @property
    def squares(self) -> bool:
        return self.moments == 2 and self.non_binary is not None and bool(self.non_binary.any())

    @property
    def balanced_width(self) -> int:
        """Number of columns :meth:`balanced` returns."""
        squares = int(self.sq_keep.sum()) if self.squares and self.sq_keep is not None else 0
        return int(self.keep.sum()) + squares + (len(self.cross.first) if self.cross is not None else 0)

    @property
    def wants_cross(self) -> bool:
        """Whether the collect pass gathers the arms' pairwise products, to choose those to balance (or to
        calibrate the alternative specification with)."""
        return ((self.cross_moments or self.cross_check) and self.moments == 2 and self.estimand != "overlap"
                and int(self.keep.sum()) >= 2)

    def calibrators(self, kind: str) -> dict[int, NewtonArm]:
        """The calibration of the estimate (``"main"``) or of the alternative specification."""
        return self.calibration if kind == "main" else self.alternative

    @property
    def uses_kernel(self) -> bool:
        return self.outcome_model == "kernel"

    @property
    def uses_ols(self) -> bool:
        return self.outcome_model == "none"


def arm_rows(chunk: Chunk, arm: int) -> np.ndarray:
    """Positions in the chunk of the rows of ``arm``."""
    return np.flatnonzero(chunk.t == arm)


def ranked_rows(chunk: Chunk, arm: int, ranks: np.ndarray | None) -> np.ndarray:
    """Positions in the chunk of the rows of ``arm`` whose rank within the arm (over the whole table) is in the
    sorted ``ranks`` (``None``: every row of the arm)."""
    rows = arm_rows(chunk, arm)
    if ranks is None:
        return rows
    before = chunk.treated_before if arm == 1 else chunk.control_before
    lo, hi = np.searchsorted(ranks, [before, before + len(rows)])
    return rows[ranks[lo:hi] - before]


# -- 1. scan ---------------------------------------------------------------------------------------------


def levels_pass(plan: Any, chunk: Chunk) -> tuple[Any, None]:
    """Before the encoding is fixed: check each chunk's columns and collect the categorical levels."""
    found = plan.chunk_levels(chunk.frame, chunk.place)
    return {"levels": _Levels(found)}, None


@dataclass
class _Levels:
    found: dict[str, set[str]]

    def merge(self, other: _Levels) -> _Levels:
        return _Levels({k: self.found.get(k, set()) | other.found.get(k, set()) for k in {**self.found, **other.found}})


def scan_pass(plan: Plan, chunk: Chunk) -> tuple[dict, None]:
    x, t = chunk.x, chunk.t.astype(bool)
    width = x.shape[1]
    return {
        "n": len(t), "n1": int(t.sum()), "all": Moments.of(x), "arm1": Moments.of(x[t]), "arm0": Moments.of(x[~t]),
        "outcome": Moments.of(chunk.y[:, None]), "outcome_range": Range.of(chunk.y[:, None], 1),
        "range1": Range.of(x[t], width), "range0": Range.of(x[~t], width), "few": FewValues.of(x),
    }, None


# -- 2. collect ------------------------------------------------------------------------------------------


def collect_pass(plan: Plan, chunk: Chunk) -> tuple[dict, None]:
    out: dict[str, Any] = {}
    if plan.landmark_ranks is not None:
        rows = np.sort(np.concatenate([ranked_rows(chunk, a, plan.landmark_ranks[a]) for a in ARMS]))
        out["landmarks"] = [(chunk.place.start + rows, chunk.x[rows], chunk.t[rows])]
    if plan.rbf_positions is not None:
        lo, hi = chunk.place.start, chunk.place.start + len(chunk.t)
        hit = plan.rbf_positions[(plan.rbf_positions >= lo) & (plan.rbf_positions < hi)]
        out["rbf"] = [(hit, chunk.x[hit - lo])]
    if plan.squares or plan.wants_cross:
        z = plan.standardized(chunk.x)
        if plan.squares:
            out["squares"] = Moments.of(z[:, plan.non_binary] ** 2)
        if plan.wants_cross:
            for arm in ARMS:
                out[f"cross{arm}"] = CoMoments.of(z[arm_rows(chunk, arm)], z.shape[1])
            out["cross_squares"] = CoMoments.of(z**2, z.shape[1])
    return out, None


# -- 3. density, targets, normal equations ---------------------------------------------------------------


def density_pass(plan: Plan, chunk: Chunk) -> tuple[dict, None]:
    out: dict[str, Any] = {}
    if plan.forward is not None:
        out["lse"] = plan.forward.log_normalisers(plan.model_input(chunk.x)).sum(0)
    g = plan.features(chunk.x)
    x_std = g[:, : int(plan.keep.sum())]
    balanced = plan.balanced(chunk.x, g)
    for arm in ARMS:
        rows = arm_rows(chunk, arm)
        out[f"g{arm}"] = balanced[rows].sum(0)
        if plan.uses_ols:
            out[f"ols{arm}"] = CoMoments.of(np.column_stack([g[rows], chunk.y[rows]]), g.shape[1] + 1)
        if plan.uses_kernel:
            fit = ranked_rows(chunk, arm, plan.fit_ranks.get(arm))
            design = plan.design(x_std[fit], g[fit])
            out[f"ridge{arm}"] = CoMoments.of(np.column_stack([design, chunk.y[fit]]), design.shape[1] + 1)
            out[f"grange{arm}"] = Range.of(g[fit], g.shape[1])
    return out, None


# -- 4. forward ------------------------------------------------------------------------------------------


def forward_pass(plan: Plan, chunk: Chunk) -> tuple[dict, dict]:
    if plan.forward is not None:
        dual = plan.forward.duals(plan.model_input(chunk.x), 2.0 * chunk.t - 1.0)
    else:
        dual = np.asarray(chunk.kept["base"], dtype=np.float64)
    out: dict[str, Any] = {f"base{a}": float(np.clip(dual[chunk.t == a], 0.0, None).sum()) for a in ARMS}
    kept = {"dual": dual}
    g = plan.features(chunk.x) if plan.keep_balanced or plan.uses_kernel else None
    if plan.keep_balanced:
        kept["balanced"] = plan.balanced(chunk.x, g)
    if plan.uses_kernel:
        x_std = g[:, : int(plan.keep.sum())]
        for arm in ARMS:
            fit = ranked_rows(chunk, arm, plan.fit_ranks.get(arm))
            out[f"loo{arm}"] = plan.ridge[arm].loo_sums(plan.design(x_std[fit], g[fit]), chunk.y[fit])
    return out, kept


def base_weights(plan: Plan, chunk: Chunk, rows: np.ndarray, arm: int) -> np.ndarray:
    """The base weights of an arm's rows: the duals, clipped at 0, or 1 where the arm's duals are all 0."""
    if plan.base_total[arm] <= 0:
        return np.ones(len(rows))
    return np.clip(chunk.kept["dual"][rows], 0.0, None)


# -- 5. calibrate ----------------------------------------------------------------------------------------


def calibrate_pass(plan: Plan, chunk: Chunk) -> tuple[dict, None]:
    g = chunk.kept["balanced"] if "balanced" in chunk.kept else plan.balanced(chunk.x)
    out = {}
    for (kind, arm), gamma in plan.requests.items():
        rows = arm_rows(chunk, arm)
        target = plan.calibrators(kind)[arm].target
        out[f"cal{kind}{arm}"] = exp_sums(g[rows, : len(target)], base_weights(plan, chunk, rows, arm), gamma, target)
    return out, None


# -- 6. finish -------------------------------------------------------------------------------------------


def chunk_weights(plan: Plan, chunk: Chunk, g: np.ndarray, kind: str = "main") -> np.ndarray:
    """Each row's final weight (summing to 1 within each arm over the whole table; docs/design.md §4.1); ``g``:
    the rows' balanced columns (:meth:`Plan.balanced`); ``kind``: the estimate's calibration or the alternative."""
    calibration = plan.calibrators(kind)
    w = np.empty(len(chunk.t))
    fixed = {"att": 1, "atc": 0}.get(plan.estimand)
    for arm in ARMS:
        rows = arm_rows(chunk, arm)
        base = base_weights(plan, chunk, rows, arm)
        if arm == fixed:
            w[rows] = 1.0 / plan.n_arm[arm]
        elif arm in calibration:
            w[rows] = calibration[arm].weights(g[rows, : len(calibration[arm].target)], base)
        else:  # the overlap estimand: the normalised base weights
            total = plan.base_total[arm] if plan.base_total[arm] > 0 else plan.n_arm[arm]
            w[rows] = base / total
    return w


def arm_predictions(plan: Plan, arm: int, g: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Arm ``arm``'s kernel ridge predictions for a chunk (features ``g``, RBF kernel ``kernel``), rows outside the
    arm's fit range predicted from inputs clipped to it, as ``KernelOutcomeModel`` does (docs/design.md §4.4)."""
    ridge = plan.ridge[arm]
    if ridge.feature_range is None:
        return ridge.predict_parts(g, kernel, plan.rbf)
    low, high = ridge.feature_range
    outside = ((g < low) | (g > high)).any(1)
    if not outside.any():
        return ridge.predict_parts(g, kernel, plan.rbf)
    kernel = kernel.copy()
    g = g.copy()
    g[outside] = np.clip(g[outside], low, high)
    kernel[outside] = rbf_kernel(g[outside][:, : int(plan.keep.sum())], plan.rbf)
    return ridge.predict_parts(g, kernel, plan.rbf)


def finish_pass(plan: Plan, chunk: Chunk) -> tuple[dict, dict]:
    g = plan.features(chunk.x)
    x_std = g[:, : int(plan.keep.sum())]
    balanced = chunk.kept["balanced"] if "balanced" in chunk.kept else plan.balanced(chunk.x, g)
    w = chunk_weights(plan, chunk, balanced)
    alternative = chunk_weights(plan, chunk, balanced, "alternative") if plan.alternative else None
    y, t = chunk.y, chunk.t
    out: dict[str, Any] = {}
    for arm in ARMS:
        rows = arm_rows(chunk, arm)
        out[f"w{arm}"] = float(w[rows].sum())
        out[f"ww{arm}"] = float(w[rows] @ w[rows])
        out[f"wx{arm}"] = w[rows] @ chunk.x[rows]
    # the weights-only estimate: the value without an outcome model, the interval's weights check with one
    out["weighted"] = float(np.sum(w * (2.0 * t - 1.0) * y))
    if plan.outcome_model == "none":
        if alternative is not None:
            out["alt_value"] = float(np.sum(alternative * (2.0 * t - 1.0) * y))
        for arm in ARMS:
            rows = arm_rows(chunk, arm)
            resid = plan.ols[arm].residuals(g[rows], y[rows])
            out[f"var{arm}"] = float(np.sum(w[rows] ** 2 * resid**2))
        return out, {"weight": w}
    if plan.outcome_model == "kernel":
        kernel = rbf_kernel(x_std, plan.rbf)  # the RBF projection is folded into each arm's coefficients
        m1, m0 = (arm_predictions(plan, arm, g, kernel) for arm in (1, 0))
        resid = np.where(t == 1, y - m1, y - m0)
        for arm in ARMS:  # the fit rows' residuals are leave-one-out, as in memory
            fit = ranked_rows(chunk, arm, plan.fit_ranks.get(arm))
            design = np.column_stack([g[fit], kernel[fit] @ plan.rbf.projection])
            resid[fit] = plan.ridge[arm].loo_residuals(design, y[fit])
    else:  # the in-context network's surfaces, computed in memory beforehand
        m1, m0, resid = chunk.kept["mu1"], chunk.kept["mu0"], chunk.kept["residual"]
    population = {"ate": np.ones(len(t), dtype=bool), "att": t == 1, "atc": t == 0}[plan.estimand]
    out["pop_m1"], out["pop_m0"] = float(m1[population].sum()), float(m0[population].sum())
    out["corr1"] = float(w[t == 1] @ (y - m1)[t == 1])
    out["corr0"] = float(w[t == 0] @ (y - m0)[t == 0])
    if alternative is not None:
        out["alt_corr1"] = float(alternative[t == 1] @ (y - m1)[t == 1])
        out["alt_corr0"] = float(alternative[t == 0] @ (y - m0)[t == 0])
    out["var"] = float(np.sum(w**2 * resid**2))
    return out, {"weight": w}
