"""Public entry point: :func:`discover_lagged_graph`."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.options import check_seed
from .attribution import ATTRIBUTION_METHODS, lagged_attributions
from .configuration_forecaster import ForecasterConfig
from .modeling_forecaster import CausalForecasterModel
from .thresholding import check_top_k, normalise_per_target, threshold_scores
from .training import SeriesLike, default_max_steps, make_windows, prepare_series, train_forecaster


@dataclass
class LaggedCausalGraph:
    """A time-lagged causal graph recovered from a forecaster's attributions.

    Attributes:
        scores: ``(n_vars, n_vars, max_lag)`` float array indexed ``[source, target, lag - 1]``:
            mean absolute attribution of the forecast of ``target`` at ``t`` to ``source`` at
            ``t - lag``, divided by the largest score of that target (so each target's top score is 1).
        adjacency: boolean array, same shape and layout; ``adjacency[i, j, l - 1]`` means
            ``X_i(t - l) -> X_j(t)``. Self-lags (``i == j``) are included.
        var_names: variable names (DataFrame columns, or ``X0, X1, ...``).
        max_lag: largest lag scored.
        attribution: attribution method used.
        threshold: thresholding rule used.
        raw_scores: un-normalised scores, same layout as ``scores``.
        model: the trained :class:`CausalForecasterModel` (``save_pretrained`` to keep it).
        val_loss: held-out one-step-ahead MSE of the forecaster (standardised units; 1.0 is the
            error of predicting the mean), or None when nothing was held out.
        train_losses: per-step training losses.
    """

    scores: np.ndarray
    adjacency: np.ndarray
    var_names: list[str]
    max_lag: int
    attribution: str
    threshold: str | float
    raw_scores: np.ndarray
    model: CausalForecasterModel | None = None
    val_loss: float | None = None
    train_losses: list[float] = field(default_factory=list, repr=False)

    @property
    def n_vars(self) -> int:
        """Number of variables in the series."""
        return len(self.var_names)

    def edges(self) -> pd.DataFrame:
        """The edges as a DataFrame with columns ``source, target, lag, score``, best first."""
        src, tgt, lag = np.nonzero(self.adjacency)
        frame = pd.DataFrame(
            {
                "source": [self.var_names[i] for i in src],
                "target": [self.var_names[j] for j in tgt],
                "lag": (lag + 1).astype(int),
                "score": self.scores[src, tgt, lag],
            }
        )
        return frame.sort_values("score", ascending=False, ignore_index=True)

    def summary_adjacency(self) -> np.ndarray:
        """``(n_vars, n_vars)`` boolean ``[source, target]``: an edge at any lag."""
        return self.adjacency.any(axis=2)

    def plot(self, path: str | None = None, truth: np.ndarray | None = None) -> Any:
        """Heat maps of the scores, one per lag, edges marked (and the true graph beside it, when given).

        Args:
            path: save the figure there (PNG) when given.
            truth: a true ``(n_vars, n_vars, max_lag)`` adjacency to draw as a second row.

        Returns:
            The matplotlib figure (:func:`hf_causal.core.plotting.plot_lagged_graph`).
        """
        from ..core.plotting import plot_lagged_graph

        panels = [("recovered", self.adjacency, self.scores)]
        if truth is not None:
            truth = np.asarray(truth, dtype=bool)
            if truth.shape != self.adjacency.shape:  # each lag's panel indexes [source, target] of this graph
                raise ValueError(f"truth must have the graph's shape (n_vars, n_vars, max_lag) = "
                                 f"{self.adjacency.shape}, got {truth.shape}")
            panels.append(("truth", truth, None))
        if path is not None and not Path(path).parent.is_dir():  # before drawing, not from deep in the PNG writer
            raise ValueError(f"cannot save the plot to {str(path)!r}: the folder {str(Path(path).parent)!r} "
                             "does not exist")
        return plot_lagged_graph(panels, self.var_names, path=path)

    def rethreshold(self, rule: str | float = "gap", k: int | None = None) -> LaggedCausalGraph:
        """The same scores cut by another rule (see :func:`~hf_causal.discovery.threshold_scores`)."""
        adj = threshold_scores(self.raw_scores.transpose(1, 0, 2), rule, k=k).transpose(1, 0, 2)
        return LaggedCausalGraph(
            self.scores,
            adj,
            self.var_names,
            self.max_lag,
            self.attribution,
            rule,
            self.raw_scores,
            self.model,
            self.val_loss,
            self.train_losses,
        )


def discover_lagged_graph(
    series: SeriesLike | Sequence[SeriesLike],
    max_lag: int,
    *,
    var_names: Sequence[str] | None = None,
    attribution: str = "lrp",
    threshold: str | float = "gap",
    top_k: int | None = None,
    context_length: int | None = None,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    dropout: float = 0.1,
    max_steps: int | None = None,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    weight_decay: float = 0.1,
    val_fraction: float = 0.1,
    early_stopping: bool = False,
    n_attribution_windows: int = 2000,
    seed: int = 0,
    progress: bool = False,
    cpu: bool | None = None,
) -> LaggedCausalGraph:
    """Recover a time-lagged causal graph by attributing a transformer forecaster's predictions.

    A small causal-masked transformer (:class:`CausalForecasterModel`) is trained to forecast
    ``x_{t+1}`` from the last ``context_length`` steps of the standardised series. The absolute
    attribution of each forecast ``x_hat_{t+1, j}`` to each lagged input ``x_{t+1-l, i}`` is averaged
    over windows into a score per ``(source, target, lag)``; scores are normalised per target and
    cut by ``threshold`` (the largest gap in each target's sorted scores by default).

    Args:
        series: a ``(time, n_vars)`` numpy array or DataFrame, or a list of them (independent
            series of the same variables, e.g. several domains); each is standardised separately.
        max_lag: largest lag ``>= 1`` to score.
        var_names: names of the variables (default: DataFrame columns or ``X0..``).
        attribution: ``"lrp"`` (default: layer-wise relevance propagation, the authors' choice and
            the best-ranking one in ``benchmarks/results/discovery.md``), ``"gradient"`` or
            ``"input_x_gradient"``.
        threshold: ``"gap"`` (default: per target, cut at the largest ratio between consecutive
            sorted scores), ``"otsu"``, ``"topk"`` (with ``top_k``) or a float in ``(0, 1)``
            cutting the per-target normalised scores.
        top_k: parents per target for ``threshold="topk"``.
        context_length: window length of the forecaster (default ``max_lag``; must be ``>= max_lag``).
        hidden_size, num_layers, num_heads, dropout: forecaster size.
        max_steps: training steps (default: about 30 epochs, between 300 and 1500).
        batch_size, learning_rate, weight_decay: AdamW training settings.
        val_fraction: fraction of each series (its end) held out to report ``val_loss`` (and for
            early stopping); 0 trains on everything.
        early_stopping: stop when the held-out error stops improving and keep the best checkpoint
            (off by default: it measured worse on nonlinear series, see ``train_forecaster``).
        n_attribution_windows: training windows (chosen at random) whose attributions are averaged.
        seed: seed for initialisation, batching and window choice (results are deterministic).
        progress: show a tqdm progress bar while training.
        cpu: force CPU (default: use CUDA when available).

    Returns:
        A :class:`LaggedCausalGraph` with ``scores`` and boolean ``adjacency`` of shape
        ``(n_vars, n_vars, max_lag)`` indexed ``[source, target, lag - 1]``.

    Raises:
        TypeError: non-numeric data or a non-integer ``max_lag``.
        ValueError: NaN/inf, wrong shapes, ``max_lag < 1``, too few time steps, bad options.
    """
    if attribution not in ATTRIBUTION_METHODS:
        raise ValueError(f"attribution must be one of {ATTRIBUTION_METHODS}, got {attribution!r}")
    if threshold == "topk" and top_k is None:
        raise ValueError("threshold='topk' needs top_k >= 1")
    if top_k is not None:
        check_top_k(top_k)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"learning_rate must be a finite positive number, got {learning_rate!r}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):  # NaN would reach torch's optimiser unnamed
        raise ValueError(f"learning_rate must be a finite positive number, got {learning_rate!r}")
    check_seed(seed, optional=False)
    if not 0.0 <= val_fraction < 0.5:
        raise ValueError(f"val_fraction must be in [0, 0.5), got {val_fraction}")
    for name, value in (("batch_size", batch_size), ("n_attribution_windows", n_attribution_windows)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    prepared = prepare_series(series, max_lag, var_names)
    context = max_lag if context_length is None else int(context_length)
    if context < max_lag:
        raise ValueError(f"context_length ({context}) must be >= max_lag ({max_lag})")
    n_vars = len(prepared.var_names)

    train_parts, val_parts = [], []
    for arr in prepared.arrays:
        n_val = int(round(val_fraction * arr.shape[0]))
        if n_val >= context + 1 and arr.shape[0] - n_val >= context + 1:
            train_parts.append(arr[:-n_val])
            val_parts.append(arr[-n_val:])
        else:
            train_parts.append(arr)
    train_windows = make_windows(train_parts, context + 1)
    val_windows = make_windows(val_parts, context + 1) if val_parts else None
    if len(train_windows) < 50:
        raise ValueError(f"too few time steps: only {len(train_windows)} training windows")

    torch.manual_seed(seed)
    config = ForecasterConfig(
        n_vars=n_vars,
        context_length=context,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        intermediate_size=2 * hidden_size,
        dropout=dropout,
    )
    model = CausalForecasterModel(config)
    steps = default_max_steps(len(train_windows), batch_size) if max_steps is None else int(max_steps)
    if steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    result = train_forecaster(
        model,
        train_windows,
        val_windows,
        max_steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        seed=seed,
        progress=progress,
        cpu=cpu,
        early_stopping=early_stopping,
    )
    rng = np.random.default_rng(seed)
    inputs = train_windows[:, 1:]  # the last `context` steps: forecasts of the step after them
    if len(inputs) > n_attribution_windows:
        inputs = inputs[rng.choice(len(inputs), n_attribution_windows, replace=False)]
    raw = lagged_attributions(model, inputs, max_lag, method=attribution)  # [target, source, lag]
    if not np.all(np.isfinite(result.train_losses)) or not np.all(np.isfinite(raw)):
        # a diverged forecaster's attributions are NaN: name the cause rather than let the thresholding blame the
        # scores
        what = "loss" if not np.all(np.isfinite(result.train_losses)) else "attribution scores"
        raise ValueError(f"training the forecaster diverged (non-finite {what} with learning_rate={learning_rate:g}); "
                         "try a smaller learning_rate")
    adj = threshold_scores(raw, threshold, k=top_k)
    norm = normalise_per_target(raw)
    return LaggedCausalGraph(
        scores=norm.transpose(1, 0, 2).copy(),
        adjacency=adj.transpose(1, 0, 2).copy(),
        var_names=prepared.var_names,
        max_lag=int(max_lag),
        attribution=attribution,
        threshold=threshold,
        raw_scores=raw.transpose(1, 0, 2).copy(),
        model=model,
        val_loss=result.val_loss,
        train_losses=result.train_losses,
    )
