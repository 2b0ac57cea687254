"""Input checks, standardisation, windows and training of the forecaster (docs/design.md §8)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, TensorDataset

from ..core.training import LoopArguments, TrainingLoop
from .modeling_forecaster import CausalForecasterModel

SeriesLike = np.ndarray | pd.DataFrame


@dataclass
class PreparedSeries:
    """Standardised float32 series (one array per domain) with their original scale."""

    arrays: list[np.ndarray]
    means: list[np.ndarray]
    stds: list[np.ndarray]
    var_names: list[str]


def _named(columns: list[int], names: Sequence[str] | None, var_names: Sequence[str] | None) -> list[Any]:
    """Column positions as the user named them (``var_names``, else a DataFrame's columns), else positions."""
    given = var_names if var_names is not None else names
    if given is None or max(columns, default=0) >= len(given):
        return columns
    return [str(given[c]) for c in columns]


def prepare_series(
    series: SeriesLike | Sequence[SeriesLike], max_lag: int, var_names: Sequence[str] | None = None
) -> PreparedSeries:
    """Validate and standardise one series or a list of independent series.

    Each series is a ``(time, n_vars)`` numpy array or DataFrame; every series is standardised on
    its own (per variable zero mean, unit variance), so domains with different levels and scales
    can be pooled.

    Raises:
        TypeError: ``max_lag`` is not an integer, or a series is not numeric / not array-like.
        ValueError: ``max_lag < 1``, wrong number of dimensions, NaN/inf, constant variables (or ones whose
            variation is lost against their level in float64), mismatched variables across series or too few
            time steps.
    """
    if isinstance(max_lag, bool) or not isinstance(max_lag, int | np.integer):
        raise TypeError(f"max_lag must be an int, got {type(max_lag).__name__}")
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    if isinstance(series, np.ndarray | pd.DataFrame):
        items = [series]
    elif isinstance(series, list | tuple):
        items = list(series)
        if not items:
            raise ValueError("series is an empty list")
    else:
        raise TypeError(
            "series must be a (time, n_vars) numpy array or DataFrame, or a list of them; "
            f"got {type(series).__name__}"
        )
    names: list[str] | None = None
    arrays, means, stds = [], [], []
    for k, item in enumerate(items):
        label = "series" if len(items) == 1 else f"series[{k}]"
        if isinstance(item, pd.DataFrame):
            cols = [str(c) for c in item.columns]
            if names is None:
                names = cols
            elif cols != names:
                raise ValueError(f"{label} has columns {cols}, expected {names} as in series[0]")
            # by position, so that repeated names reach the uniqueness check below
            not_numbers = [(str(c), str(dtype)) for c, dtype in zip(item.columns, item.dtypes, strict=True)
                           if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype)]
            if not_numbers:  # a timestamp column is usually the index not set: its nanoseconds are no variable
                raise TypeError(f"{label} has non-numeric columns {[c for c, _ in not_numbers[:5]]} (dtypes "
                                f"{[d for _, d in not_numbers[:5]]}); a time column belongs in the index")
            try:
                arr = item.to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise TypeError(f"{label} has non-numeric columns: {err}") from err
        elif isinstance(item, np.ndarray):
            if not (np.issubdtype(item.dtype, np.number) or item.dtype == bool) or np.iscomplexobj(item):
                raise TypeError(f"{label} must be numeric (real numbers), got dtype {item.dtype}")
            arr = item.astype(np.float64)
        else:
            raise TypeError(f"{label} must be a numpy array or DataFrame, got {type(item).__name__}")
        if arr.ndim != 2:
            raise ValueError(f"{label} must be 2-D (time, n_vars), got shape {arr.shape}")
        if arrays and arr.shape[1] != arrays[0].shape[1]:
            raise ValueError(f"{label} has {arr.shape[1]} variables, series[0] has {arrays[0].shape[1]}")
        if arr.shape[1] < 1:
            raise ValueError(f"{label} has no variables")
        if not np.all(np.isfinite(arr)):
            bad = sorted({int(c) for c in np.nonzero(~np.isfinite(arr))[1]})
            raise ValueError(f"{label} contains NaN or infinite values (columns {_named(bad, names, var_names)}); "
                             "impute or drop them")
        min_steps = max_lag + 2
        if arr.shape[0] < min_steps:
            raise ValueError(
                f"{label} has {arr.shape[0]} time steps; at least max_lag + 2 = {min_steps} are needed"
            )
        # standardise in units of each column's largest magnitude, so that neither the squares of values near
        # float64's top overflow nor a series of tiny values reads as constant
        scale = np.abs(arr).max(axis=0)
        scale[scale == 0] = 1.0
        scaled = arr / scale
        centre, spread = scaled.mean(axis=0), scaled.std(axis=0)
        mean, std = centre * scale, spread * scale
        flat = spread < 1e-12
        if np.any(flat):
            constant = flat & (arr == arr[0]).all(axis=0)
            if np.any(constant):
                raise ValueError(f"{label} has constant variables (columns "
                                 f"{_named(np.nonzero(constant)[0].tolist(), names, var_names)})")
            # not constant, but varying by a few units in the last places of a large level (values near 1e15 that
            # differ by 1 hold only a handful of distinct float64 values): standardising would amplify rounding
            worst = int(np.argmin(np.where(flat, spread, np.inf)))
            raise ValueError(
                f"{label} has variables whose variation is too small relative to their level to compute with in "
                f"float64 (columns {_named(np.nonzero(flat)[0].tolist(), names, var_names)}: e.g. a spread of "
                f"{std[worst]:.3g} around {mean[worst]:.3g}); subtract a baseline (e.g. each column's first value) "
                "before the values become floats, or drop those columns"
            )
        arrays.append(((scaled - centre) / spread).astype(np.float32))
        means.append(mean)
        stds.append(std)
    n_vars = arrays[0].shape[1]
    total_windows = sum(a.shape[0] - max_lag for a in arrays)
    if total_windows < 50:
        raise ValueError(
            f"too few time steps: {total_windows} training windows of length {max_lag + 1}; "
            "need at least 50 (a few thousand time steps are recommended)"
        )
    if var_names is not None:
        var_names = [str(v) for v in var_names]
        if len(var_names) != n_vars:
            raise ValueError(f"var_names has {len(var_names)} entries, the data has {n_vars} variables")
        names = var_names
    if names is None:
        names = [f"X{i}" for i in range(n_vars)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"variable names must be unique (an edge names its ends), got {repeated} more than once")
    return PreparedSeries(arrays, means, stds, names)


def make_windows(arrays: Sequence[np.ndarray], length: int) -> np.ndarray:
    """All overlapping windows of ``length`` consecutive steps from each array, stacked.

    Windows never cross the boundary between two independent series.
    """
    out = []
    for arr in arrays:
        if arr.shape[0] >= length:
            view = np.lib.stride_tricks.sliding_window_view(arr, length, axis=0)  # (n, d, length)
            out.append(np.ascontiguousarray(view.transpose(0, 2, 1)))
    if not out:
        raise ValueError(f"no series is long enough for windows of {length} steps")
    return np.concatenate(out, axis=0)


def default_max_steps(n_windows: int, batch_size: int) -> int:
    """Training steps used when none are given: about 30 epochs, clipped to ``[300, 1500]``."""
    return int(min(1500, max(300, math.ceil(30 * n_windows / batch_size))))


@dataclass
class TrainingResult:
    """Per-step training losses and the final held-out one-step-ahead MSE (standardised units)."""

    train_losses: list[float]
    val_loss: float | None


def train_forecaster(
    model: CausalForecasterModel,
    train_windows: np.ndarray,
    val_windows: np.ndarray | None = None,
    max_steps: int = 500,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-2,
    seed: int = 0,
    progress: bool = False,
    cpu: bool | None = None,
    eval_every: int | None = None,
    early_stopping: bool = False,
    patience: int = 20,
) -> TrainingResult:
    """Train ``model`` in place with the shared loop (:mod:`hf_causal.core.training`) on windows of
    ``context_length + 1`` steps.

    Every position of a window is trained to forecast the next step (teacher forcing, as in a
    causal language model).

    With ``val_windows``, the last-step forecast error on them is returned. With ``early_stopping``, it is
    measured every ``eval_every`` steps (default ``max_steps // 30``, at least 10), training stops after
    ``patience`` evaluations without an improvement of 1e-4, and the best weights are restored. Early stopping
    is off by default: on the benchmark generators the best-validation checkpoint gave *worse* graphs for
    nonlinear series than the regularised final weights, because a few hundred validation windows are a
    noisy guide (``benchmarks/results/discovery.md``).
    """
    set_seed(seed)
    if cpu is None:
        cpu = not torch.cuda.is_available()
    has_val = val_windows is not None and len(val_windows) > 0
    val_data = torch.from_numpy(np.asarray(val_windows, dtype=np.float32)) if has_val else None
    every = max(10, max_steps // 30) if eval_every is None else max(1, int(eval_every))
    loop = TrainingLoop(
        model,
        LoopArguments(
            max_steps=max_steps,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            warmup_steps=max(1, max_steps // 20),
            cpu=cpu,
            eval_every=every if has_val and early_stopping else None,
            select_best=True,
            patience=patience if early_stopping else None,
            min_improvement=1e-4,
            progress=progress,
            description="training forecaster",
        ),
    )
    data = torch.from_numpy(np.asarray(train_windows, dtype=np.float32))
    loader = DataLoader(
        TensorDataset(data),
        batch_size=min(batch_size, len(data)),
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(seed),
    )

    def batches(accelerator: Any, start: int) -> Iterator[torch.Tensor]:
        prepared = accelerator.prepare(loader)
        while True:  # epochs until the loop has its steps
            for (batch,) in prepared:
                yield batch

    def one_step_error(m: torch.nn.Module) -> float:
        with torch.no_grad():
            windows = val_data.to(loop.device)
            preds = m(past_values=windows[:, :-1]).predictions[:, -1]
            return float(((preds - windows[:, -1]) ** 2).mean())

    result = loop.run(
        batches,
        lambda m, batch: m(past_values=batch[:, :-1], labels=batch[:, 1:]).loss,
        evaluate=one_step_error if has_val else None,
    )
    model = loop.unwrapped_model()
    val_loss = None
    if has_val:
        val_loss = result.best if early_stopping else one_step_error(model)
    loop.accelerator.free_memory()
    return TrainingResult(result.losses, val_loss)
