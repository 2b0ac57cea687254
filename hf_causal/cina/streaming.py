"""Effects from tables larger than memory: the estimate as passes over row chunks (docs/design.md §4.9).

:func:`estimate_stream` takes a parquet file, folder or glob, a DataFrame, a ``datasets.Dataset`` /
``IterableDataset`` or an iterator of pandas chunks, and returns the :class:`~hf_causal.core.results.EffectEstimate`
that ``CInAModel.estimate`` returns for the same table in memory: the in-memory estimate runs this same code
on a table of one partition (:func:`estimate_arrays`), so the two agree to rounding (1e-8 relative is tested).
Memory is bounded by the chunk size: per-row results (the duals) go to disk between passes, and the weights
can be written back per row to parquet (``weights_path``). With a Dask ``client`` the passes run on the
cluster's workers, one task per partition, and the driver merges their partial sums.

Exact, whatever the chunking: the standardisation, the calibration (its Newton steps are sums over rows), the
least-squares and ridge normal equations, the effect, its interval and the balance table. Fixed by seeded
draws that depend on the arm sizes only, identical in memory and streamed: the attention landmarks (an
arm-stratified sample, docs/design.md §3.5), the outcome model's 200 RBF landmarks and its fit sample of at most
50,000 units per arm (docs/design.md §4.4). The estimate does depend on those samples, as the in-memory one does.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core.options import DEFAULT_ESTIMAND, DEFAULT_MOMENTS, DEFAULT_OUTCOME_MODEL, check_estimator_options
from ..core.results import EffectEstimate
from ..data.inputs import MIN_UNITS_PER_ARM, check_arm_ranges
from ..data.sources import (
    DEFAULT_CHUNK_ROWS,
    ArrayPartition,
    TableSource,
    as_table_source,
    prepare_weights_folder,
)
from ..data.stream_checks import StreamSchema
from .calibration import (
    OverlapWarning,
    calibration_ridge,
    choose_cross_pairs,
    imbalance_tolerance,
    smd_from_moments,
    support_issue,
)
from .outcome import RBFLandmarkFeatures
from .stream_calibration import NewtonArm
from .stream_forward import LandmarkForward
from .stream_outcome import ArmLeastSquares, ArmRidge
from .stream_passes import (
    ARMS,
    KEEP_BALANCED_MAX_VALUES,
    Plan,
    calibrate_pass,
    collect_pass,
    density_pass,
    finish_pass,
    forward_pass,
    levels_pass,
    scan_pass,
)
from .stream_runner import LocalRunner

#: The outcome model's RBF landmarks and per-arm fit sample, with their seed (docs/design.md §4.4).
OUTCOME_LANDMARKS, MAX_FIT_UNITS, SAMPLE_SEED = 200, 50_000, 0
#: Above this many units, exact attention (a model without landmark units) is refused on a stream.
STREAM_EXACT_MAX_UNITS = 50_000


def streams_forward(model: Any) -> bool:
    """Whether ``model``'s base weights come from its own value network (a ``CInAModel`` whose
    ``balancing_weights`` is not overridden), which the chunked forward pass reproduces."""
    cls = type(model)
    return all(hasattr(model, a) for a in ("embed", "layers", "dual_head", "config")) and getattr(
        cls.balancing_weights, "__qualname__", ""
    ) == "CInAModel.balancing_weights"


#: Widen the interval by the gap between the estimate and the one that balances the other set of second moments
#: (with the pairwise products when the estimate has none, and the reverse; docs/design.md §4.6).
INTERVAL_BALANCE_CHECK = True
#: Widen an augmented estimate's interval by its gap to the weights-only estimate (the same weights, no outcome
#: model): where the weights and the outcome model disagree, one of them is biased (docs/design.md §4.6).
INTERVAL_WEIGHTS_CHECK = True


def landmark_ranks(n1: int, n0: int, size: int, seed: int = 0) -> dict[int, np.ndarray]:
    """Sorted within-arm ranks of ``size`` landmark units, stratified by arm as ``landmark_indices`` shares them
    (each arm its share, at least one per non-empty arm), drawn with numpy's seeded ``choice``: ``O(size)``
    memory whatever the arm sizes, and the same units in memory, streamed or on a cluster."""
    low, high = max(int(n1 > 0), size - n0), min(n1, size - int(n0 > 0))
    take = min(max(round(size * n1 / (n1 + n0)), low), high)
    rng = np.random.default_rng(seed)
    return {1: np.sort(rng.choice(n1, take, replace=False)), 0: np.sort(rng.choice(n0, size - take, replace=False))}


def _check_arms(n1: int, n0: int) -> None:
    if n1 == 0 or n0 == 0:
        raise ValueError(f"treatment has a single arm ({n1} treated, {n0} controls): no effect can be estimated")
    if min(n1, n0) < MIN_UNITS_PER_ARM:
        raise ValueError(
            f"too few units per arm ({n1} treated, {n0} controls); at least {MIN_UNITS_PER_ARM} of each are needed"
        )


#: What a table (or chunk iterator) whose chunks hold no rows is told.
NO_ROWS = "the table has no rows (every chunk is empty)"


def check_table_scales(scan: dict, names: Sequence[str]) -> None:
    """Refuse what the in-memory checks refuse but no single chunk shows: a covariate whose variance over the whole
    table overflows float64 (standardising it would silently zero it), and an outcome that is constant or whose
    variance overflows (:func:`~hf_causal.data.inputs.validate_outcome`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        overflowing = ~np.isfinite(scan["all"].var)
        outcome_var = float(scan["outcome"].var[0])
    if overflowing.any():
        cols = [names[i] for i in np.flatnonzero(overflowing)][:5]
        raise ValueError(f"covariate columns {cols} have values too large to standardise in float64 (their variance "
                         "over the table overflows); rescale them")
    if not np.isfinite(outcome_var):
        raise ValueError("the outcome's values are too large to compute with in float64 (their variance over the table "
                         "overflows); rescale the outcome")
    low, high = float(scan["outcome_range"].low[0]), float(scan["outcome_range"].high[0])
    if low == high:
        raise ValueError(f"the outcome is constant (every row is {low:g}): there is no "
                         "variation for an effect to be estimated from")


def _prepare(plan: Plan, model: Any, runner: Any, scan: dict, use_forward: bool, names: Sequence[str]) -> None:
    """After the scan: the standardisation, the seeded samples, then the collect pass and the fitted pieces."""
    check_table_scales(scan, names)
    plan.mean, plan.sd = scan["all"].mean, np.sqrt(scan["all"].var)
    plan.keep = plan.sd > 1e-12
    plan.non_binary = scan["few"].counts()[plan.keep] > 2
    n, n1 = plan.n, plan.n_arm[1]
    if use_forward:
        size = model.config.landmark_units
        if size and n > size:
            plan.landmark_ranks = landmark_ranks(n1, n - n1, int(size))
        else:
            if not runner.table.in_memory and n > STREAM_EXACT_MAX_UNITS:
                raise ValueError(
                    f"exact attention needs all {n:,} units at once: set model.config.landmark_units (e.g. 256) to "
                    "stream this table"
                )
            plan.landmark_ranks = {1: None, 0: None}
    if plan.uses_kernel:
        plan.rbf_positions = np.random.default_rng(SAMPLE_SEED).choice(n, min(n, OUTCOME_LANDMARKS), replace=False)
        rng = np.random.default_rng(SAMPLE_SEED)  # then each arm's fit sample, as KernelOutcomeModel draws it
        for arm in ARMS:
            size = plan.n_arm[arm]
            plan.fit_ranks[arm] = None if size <= MAX_FIT_UNITS else np.sort(rng.choice(size, MAX_FIT_UNITS, replace=False))
    collected, _ = runner.run("collect", collect_pass, plan)
    collected = collected or {}
    if plan.squares:
        sq_sd = np.sqrt(collected["squares"].var)
        plan.sq_keep = sq_sd > 1e-12
        plan.sq_mean, plan.sq_sd = collected["squares"].mean[plan.sq_keep], sq_sd[plan.sq_keep]
    if plan.wants_cross:
        treated, control = collected["cross1"], collected["cross0"]
        plan.cross = choose_cross_pairs(treated.mean, control.mean, treated.mean_product, control.mean_product,
                                        treated.n, control.n, collected["cross_squares"].mean_product)
    if plan.uses_kernel:
        found = {int(p): row for hits, rows in collected["rbf"] for p, row in zip(hits, rows)}
        rows = np.array([found[int(p)] for p in plan.rbf_positions]).reshape(-1, len(names))
        plan.rbf = RBFLandmarkFeatures.from_landmarks(plan.standardized(rows))
    if use_forward:
        positions = np.concatenate([p for p, _, _ in collected["landmarks"]])
        order = np.argsort(positions)
        x_l = np.concatenate([x for _, x, _ in collected["landmarks"]])[order]
        t_l = np.concatenate([t for _, _, t in collected["landmarks"]])[order]
        plan.forward = LandmarkForward(model, plan.model_input(x_l), 2.0 * t_l - 1.0)


def _balance(scan: dict, done: dict, names: Sequence[str]) -> pd.DataFrame:
    before = smd_from_moments(scan["arm1"].mean, scan["arm0"].mean, scan["arm1"].var, scan["arm0"].var)
    after = smd_from_moments(done["wx1"] / done["w1"], done["wx0"] / done["w0"], scan["arm1"].var, scan["arm0"].var)
    return pd.DataFrame({"smd_before": before, "smd_after": after}, index=pd.Index(list(names), name="covariate"))


def run_estimate(
    model: Any,
    runner: Any,
    names: Sequence[str],
    sources: Sequence[str] | None,
    estimand: str,
    method: str,
    moments: int,
    outcome_model: str,
    start: float,
    warn_ess_fraction: float = 0.05,
    weights_path: str | None = None,
    keep_weights: bool = False,
    use_forward: bool = True,
    stacklevel: int = 3,
    cross_moments: bool = False,
) -> EffectEstimate:
    """The passes of ``hf_causal.cina.stream_passes`` on a runner (local or Dask), then the estimate."""
    used = "none" if estimand == "overlap" else outcome_model
    clip = float(getattr(model.config, "covariate_clip", 0.0)) if use_forward else 0.0
    plan = Plan(estimand, moments, used, clip, cross_moments=cross_moments, cross_check=INTERVAL_BALANCE_CHECK)
    scan, scanned = runner.run("scan", scan_pass, plan)
    if scan is None or int(scan["n"]) == 0:
        raise ValueError(NO_ROWS)
    runner.set_arm_counts(scanned)
    plan.n, n1 = int(scan["n"]), int(scan["n1"])
    plan.n_arm = {1: n1, 0: plan.n - n1}
    _check_arms(n1, plan.n - n1)
    check_arm_ranges(scan["range1"].low, scan["range1"].high, scan["range0"].low, scan["range0"].high, names, sources)
    _prepare(plan, model, runner, scan, use_forward, names)
    plan.keep_balanced = runner.table.in_memory and plan.n * plan.balanced_width <= KEEP_BALANCED_MAX_VALUES

    dens, _ = runner.run("density", density_pass, plan)
    if plan.forward is not None:
        plan.forward.fix_density(dens["lse"] / plan.n)
    target = {"ate": (dens["g1"] + dens["g0"]) / plan.n, "att": dens["g1"] / n1, "atc": dens["g0"] / (plan.n - n1)}
    for arm in ARMS:
        if plan.uses_ols:
            plan.ols[arm] = ArmLeastSquares(dens[f"ols{arm}"])
        if plan.uses_kernel:
            plan.ridge[arm] = ArmRidge(dens[f"ridge{arm}"], (dens[f"grange{arm}"].low, dens[f"grange{arm}"].high))
    fwd, forward_results = runner.run("forward", forward_pass, plan, keep=True)
    plan.base_total = {arm: fwd[f"base{arm}"] for arm in ARMS}
    for arm in plan.ridge:
        plan.ridge[arm].choose(fwd[f"loo{arm}"])

    _start_calibrations(plan, target[estimand] if estimand in target else None)
    step = 0
    while True:
        plan.requests = {(kind, a): c.request() for kind in ("main", "alternative")
                         for a, c in plan.calibrators(kind).items() if c.request() is not None}
        if not plan.requests:
            break
        step += 1
        sums, _ = runner.run(f"calibrate {step}", calibrate_pass, plan, kept=forward_results)
        for kind, arm in list(plan.requests):
            plan.calibrators(kind)[arm].receive(sums[f"cal{kind}{arm}"])
    plan.requests = {}
    done, finished = runner.run("weights", finish_pass, plan, kept=forward_results, keep=keep_weights, sink=weights_path)
    return _result(plan, scan, done, names, method, start, warn_ess_fraction, stacklevel,
                   _gather_weights(finished) if keep_weights else None)


def _start_calibrations(plan: Plan, target: np.ndarray | None) -> None:
    """The Newton iterations of the arms the estimand recalibrates toward ``target`` (the balanced columns' means),
    and with the balance check those of the other set of second moments (docs/design.md §4.6)."""
    products = len(plan.cross.first) if plan.cross is not None else 0
    features = plan.balanced_width - products
    # the products are the last columns: a calibration without them reads the features, the prefix
    width = features + (products if plan.cross_moments else 0)
    other = features + (0 if plan.cross_moments else products)
    for arm in {"ate": ARMS, "att": (0,), "atc": (1,)}.get(plan.estimand, ()):
        total = plan.base_total[arm] if plan.base_total[arm] > 0 else float(plan.n_arm[arm])
        plan.calibration[arm] = NewtonArm(target[:width], calibration_ridge(plan.n_arm[arm]), total)
        if plan.cross_check and products:
            plan.alternative[arm] = NewtonArm(target[:other], calibration_ridge(plan.n_arm[arm]), total)


def _gather_weights(results: Sequence[Any]) -> np.ndarray:
    parts = [store.get(k)["weight"] for r in results for store in [r.store] for k in range(r.chunks)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _result(plan: Plan, scan: dict, done: dict, names: Sequence[str], method: str, start: float,
            warn_ess_fraction: float, stacklevel: int, weights: np.ndarray | None) -> EffectEstimate:
    n1, n0 = plan.n_arm[1], plan.n_arm[0]
    alternative = None
    if plan.outcome_model == "none":
        value = done["weighted"]
        se = math.sqrt(sum(done[f"var{a}"] * plan.n_arm[a] / plan.ols[a].dof for a in ARMS))
        alternative = done.get("alt_value")
    else:
        n_pop = {"ate": plan.n, "att": n1, "atc": n0}[plan.estimand]

        def augmented(corrections: str) -> float:  # the model's population means plus one set of weights' corrections
            return (done["pop_m1"] / n_pop + done[f"{corrections}1"]) - (done["pop_m0"] / n_pop + done[f"{corrections}0"])

        value = augmented("corr")
        se = math.sqrt(done["var"])
        if "alt_corr1" in done:
            alternative = augmented("alt_corr")
    gaps = []
    if alternative is not None:
        # the estimate's sensitivity to what is balanced, a measured scale of the bias the residual-based standard
        # error leaves out: its variance gets the squared gap (docs/design.md §4.6)
        se = math.hypot(se, alternative - value)
        gaps.append("the gap to the estimate that balances the other set of moments")
    if plan.outcome_model != "none" and INTERVAL_WEIGHTS_CHECK:
        # and its sensitivity to the outcome model: the gap to the weights alone (docs/design.md §4.6)
        se = math.hypot(se, done["weighted"] - value)
        gaps.append("the gap to the weights-only estimate")
    interval = "sampling noise plus " + ", plus ".join(gaps) if gaps else ""
    ess = {a: (done[f"w{a}"] ** 2 / done[f"ww{a}"] if done[f"ww{a}"] > 0 else 0.0) for a in ARMS}
    for label, a in (("treated", 1), ("control", 0)):
        if ess[a] < max(5.0, warn_ess_fraction * plan.n_arm[a]):
            warnings.warn(
                f"poor overlap: the {label} weights have an effective sample size of {ess[a]:.1f} out of "
                f"{plan.n_arm[a]} units; the estimate rests on very few units and may be unreliable",
                OverlapWarning,
                stacklevel=stacklevel + 1,
            )
    balance = _balance(scan, done, names)
    residual = max((c.residual for c in plan.calibration.values()), default=0.0)
    issue = support_issue(dict(zip(names, balance["smd_after"])), {"treated": ess[1], "control": ess[0]}, residual,
                          imbalance_tolerance(n1, n0), calibrated=plan.estimand != "overlap")
    return EffectEstimate.from_standard_error(
        value, se, estimand=plan.estimand, method=method, weights=weights,
        ess_treated=ess[1], ess_control=ess[0], balance=balance, n=plan.n, n_treated=n1,
        seconds=time.perf_counter() - start, max_residual_imbalance=residual, outcome_model=plan.outcome_model,
        supported=not issue, support_issue=issue, interval=interval,
    )


def estimate_arrays(model: Any, x: np.ndarray, names: Sequence[str], sources: Sequence[str] | None, t: np.ndarray,
                    y: np.ndarray, estimand: str, method: str, moments: int, outcome_model: str, start: float,
                    warn_ess_fraction: float = 0.05, extras: dict[str, np.ndarray] | None = None,
                    chunk_rows: int = DEFAULT_CHUNK_ROWS, cross_moments: bool = False) -> EffectEstimate:
    """The in-memory estimate: validated arrays as a one-partition table, through :func:`run_estimate`.

    ``extras`` may hold per-row ``base`` weights (per-dataset CInA, or a model whose ``balancing_weights`` is its
    own) and the in-context network's ``mu1``, ``mu0``, ``residual`` (``outcome_model="pretrained"``)."""
    extras = dict(extras or {})
    runner = LocalRunner(TableSource([ArrayPartition(x, t, y, extras)], "the arrays"), None, chunk_rows)
    result = run_estimate(model, runner, names, sources, estimand, method, moments, outcome_model, start,
                          warn_ess_fraction, keep_weights=True, use_forward="base" not in extras, stacklevel=4,
                          cross_moments=cross_moments)
    result.treatment = t
    return result


def estimate_stream(
    model: Any,
    source: Any,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] | None = None,
    estimand: str = DEFAULT_ESTIMAND,
    method: str = "cina-zs",
    moments: int = DEFAULT_MOMENTS,
    outcome_model: str = DEFAULT_OUTCOME_MODEL,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    weights_path: str | None = None,
    client: Any = None,
    progress: bool = False,
    warn_ess_fraction: float = 0.05,
    cross_moments: bool = False,
) -> EffectEstimate:
    """Estimate an effect from a table read in chunks (module docstring); ``CInAModel.estimate(source,
    treatment="t", outcome="y", ...)`` calls this.

    Args:
        model: a ``CInAModel`` (zero-shot; its value network runs chunk by chunk against its landmark units).
        source: parquet file / folder / glob / list of files, DataFrame, ``datasets.Dataset`` or
            ``IterableDataset``, or an iterator of DataFrames (or a callable returning one).
        treatment, outcome: column names; ``covariates``: covariate columns (default: every other column).
        estimand, moments, outcome_model, cross_moments: as for ``CInAModel.estimate``; ``outcome_model`` is ``"kernel"`` or
            ``"none"`` (the in-context network needs the whole table in memory), and ``"auto"``
            means ``"kernel"`` here.
        chunk_rows: rows per chunk (memory is proportional to it, not to the table).
        weights_path: a folder to write each row's weight to (parquet, columns ``row``, ``treatment``,
            ``weight``; one file per partition).
        client: a ``dask.distributed.Client``: run the passes on its workers (``pip install hf-causal[dask]``).
        progress: a progress bar per pass.

    Returns:
        The :class:`~hf_causal.core.results.EffectEstimate` (without per-row ``weights``: see ``weights_path``).

    Raises:
        ValueError: bad input, naming the chunk and the row (nothing is estimated); ``"pretrained"`` or
            ``method="cina"``, which need the table in memory.
    """
    start = time.perf_counter()
    check_estimator_options(estimand=estimand, method=method, moments=moments, outcome_model=outcome_model)
    if method != "cina-zs":
        raise ValueError("a streamed estimate runs the zero-shot model (method='cina-zs'); per-dataset CInA "
                         "optimises one value per unit and needs the table in memory")
    if outcome_model == "pretrained" and estimand != "overlap":
        raise ValueError("outcome_model='pretrained' reads the whole table in context and is not available on a "
                         "stream; use outcome_model='kernel' (what 'auto' uses on a stream) or 'none'")
    if outcome_model == "auto":  # the in-context outcome network reads the whole table: a stream gets the kernel
        outcome_model = "kernel"
    if not streams_forward(model):
        raise TypeError("a streamed estimate needs a CInAModel (its value network runs chunk by chunk)")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int | np.integer) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}")
    table = as_table_source(source)
    runner = None
    try:
        schema = StreamSchema(table.head(), treatment, outcome, covariates)
        if client is not None:
            from .distributed import DaskRunner

            runner = DaskRunner(client, table, schema, chunk_rows, progress)
        else:
            runner = LocalRunner(table, schema, chunk_rows, progress)
        if schema.categorical:
            levels, _ = runner.run("levels", levels_pass, schema, encode=False)
            if levels is None:
                raise ValueError(NO_ROWS)
            schema.set_levels(levels["levels"].found)
        if weights_path is not None:
            prepare_weights_folder(weights_path)
        return run_estimate(model, runner, schema.names, schema.sources, estimand, method, moments, outcome_model,
                            start, warn_ess_fraction, weights_path=str(weights_path) if weights_path else None,
                            cross_moments=cross_moments)
    finally:
        if runner is not None:
            runner.cleanup()
        table.cleanup()


__all__ = ["estimate_arrays", "estimate_stream", "landmark_ranks", "run_estimate"]
