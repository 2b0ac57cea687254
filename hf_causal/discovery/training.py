"""Input checks, standardisation, window sampling and accelerate training of the forecaster."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from .modeling_forecaster import CausalForecasterModel

SeriesLike = np.ndarray | pd.DataFrame


@dataclass
class PreparedSeries:
    """Standardised float32 series (one array per domain) with their original scale."""

    arrays: list[np.ndarray]
    means: list[np.ndarray]
    stds: list[np.ndarray]
    var_names: list[str]


def prepare_series(
    series: SeriesLike | Sequence[SeriesLike], max_lag: int, var_names: Sequence[str] | None = None
) -> PreparedSeries:
    """Validate and standardise one series or a list of independent series.

    Each series is a ``(time, n_vars)`` numpy array or DataFrame; every series is standardised on
    its own (per variable zero mean, unit variance), so domains with different levels and scales
    can be pooled.

    Raises:
        TypeError: ``max_lag`` is not an integer, or a series is not numeric / not array-like.
        ValueError: ``max_lag < 1``, wrong number of dimensions, NaN/inf, constant variables,
            mismatched variables across series or too few time steps.
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
            try:
                arr = item.to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise TypeError(f"{label} has non-numeric columns: {err}") from err
        elif isinstance(item, np.ndarray):
            if not (np.issubdtype(item.dtype, np.number) or item.dtype == bool):
                raise TypeError(f"{label} must be numeric, got dtype {item.dtype}")
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
            raise ValueError(f"{label} contains NaN or infinite values (columns {bad}); impute or drop them")
        min_steps = max_lag + 2
        if arr.shape[0] < min_steps:
            raise ValueError(
                f"{label} has {arr.shape[0]} time steps; at least max_lag + 2 = {min_steps} are needed"
            )
        mean, std = arr.mean(axis=0), arr.std(axis=0)
        if np.any(std < 1e-12):
            raise ValueError(
                f"{label} has constant variables (columns {np.nonzero(std < 1e-12)[0].tolist()})"
            )
        arrays.append(((arr - mean) / std).astype(np.float32))
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
    """Train ``model`` in place with AdamW + cosine decay on windows of ``context_length + 1`` steps.

    Every position of a window is trained to forecast the next step (teacher forcing, as in a
    causal language model). Training runs through :class:`accelerate.Accelerator`.

    With ``val_windows``, the last-step forecast error on them is measured every ``eval_every``
    steps (default ``max_steps // 30``) and the final one is returned. With ``early_stopping``,
    training stops after ``patience`` evaluations without improvement and the best weights are
    restored. It is off by default: on the benchmark generators the best-validation checkpoint
    gave *worse* graphs for nonlinear series than the regularised final weights (dropout 0.1,
    weight decay 0.1), because a few hundred validation windows are a noisy guide.
    """
    set_seed(seed)
    if cpu is None:
        cpu = not torch.cuda.is_available()
    accelerator = Accelerator(cpu=cpu)
    data = torch.from_numpy(np.asarray(train_windows, dtype=np.float32))
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        TensorDataset(data),
        batch_size=min(batch_size, len(data)),
        shuffle=True,
        drop_last=True,
        generator=generator,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    warmup = max(1, max_steps // 20)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, max_steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    has_val = val_windows is not None and len(val_windows) > 0
    if has_val:
        val_data = torch.from_numpy(np.asarray(val_windows, dtype=np.float32)).to(accelerator.device)
    every = max(10, max_steps // 30) if eval_every is None else max(1, int(eval_every))
    best_loss, best_state, bad_evals = float("inf"), None, 0

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            preds = model(past_values=val_data[:, :-1]).predictions[:, -1]
            loss = float(((preds - val_data[:, -1]) ** 2).mean())
        model.train()
        return loss

    model.train()
    losses: list[float] = []
    bar = tqdm(total=max_steps, desc="training forecaster", disable=not progress, leave=False)
    step = 0
    while step < max_steps:
        for (batch,) in loader:
            out = model(past_values=batch[:, :-1], labels=batch[:, 1:])
            accelerator.backward(out.loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(out.loss.detach()))
            step += 1
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
            if has_val and early_stopping and (step % every == 0 or step >= max_steps):
                current = evaluate()
                if current < best_loss - 1e-4:
                    best_loss, bad_evals = current, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad_evals += 1
                if early_stopping and bad_evals >= patience:
                    step = max_steps
            if step >= max_steps:
                break
    bar.close()
    model = accelerator.unwrap_model(model)
    model.eval()
    val_loss = None
    if has_val:
        if early_stopping and best_state is not None:
            model.load_state_dict(best_state)
            val_loss = best_loss
        else:
            val_loss = evaluate()
            model.eval()
    accelerator.free_memory()
    return TrainingResult(losses, val_loss)
