"""Plots of every wing's results, in one place (matplotlib is imported only when a plot is drawn).

* :func:`plot_balance` -- love plot of standardised mean differences before and after weighting (CInA);
* :func:`plot_weights` -- histogram of balancing weights per arm (CInA);
* :func:`plot_effects` -- per-unit effects with their intervals against a covariate (CInA's CATE);
* :func:`plot_interventional_distribution` -- one or more interventional distributions (the engine);
* :func:`plot_lagged_graph` -- lagged causal graphs as heat maps, one per lag (discovery).

Each returns the matplotlib ``Axes`` (or ``Figure`` for multi-panel plots) so callers can style or save it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def pyplot(headless: bool = False) -> Any:
    """``matplotlib.pyplot``, with a clear error when matplotlib is missing (``headless``: the Agg backend)."""
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError("plotting needs matplotlib: pip install matplotlib  (or pip install 'hf-causal[plot]')") from err
    if headless:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_balance(balance: pd.DataFrame, ax: Any = None, top: int = 30, title: str = "Covariate balance") -> Any:
    """Love plot: ``|smd_before|`` (open) and ``|smd_after|`` (filled) per covariate, the ``top`` most imbalanced.

    Args:
        balance: DataFrame indexed by covariate with ``smd_before`` and ``smd_after`` columns.
        ax: axes to draw on (default: a new figure sized to the rows).
        top: how many covariates to show (largest ``|smd_before|``).
        title: axes title.
    """
    missing = {"smd_before", "smd_after"} - set(balance.columns)
    if missing:
        raise ValueError(f"balance table lacks the columns {sorted(missing)}")
    plt = pyplot()
    table = balance.reindex(balance["smd_before"].abs().sort_values().index)[-top:]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.25 * len(table) + 1.5))
    y = np.arange(len(table))
    ax.scatter(table["smd_before"].abs(), y, marker="o", facecolors="none", edgecolors="tab:red", label="before")
    ax.scatter(table["smd_after"].abs(), y, marker="o", color="tab:blue", label="after")
    ax.axvline(0.1, color="grey", linestyle="--", linewidth=0.8)
    ax.set_yticks(y, table.index)
    ax.set_xlabel("|standardised mean difference|")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return ax


def plot_weights(weights: np.ndarray, treatment: np.ndarray, ax: Any = None, bins: int = 40) -> Any:
    """Histogram of weights scaled by arm size (1 = uniform), one colour per arm, log counts."""
    weights = np.asarray(weights, dtype=np.float64)
    t = np.asarray(treatment).astype(bool)
    if weights.shape != t.shape:
        raise ValueError(f"weights {weights.shape} and treatment {t.shape} must have the same shape")
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for arm, label, color in ((t, "treated", "tab:orange"), (~t, "control", "tab:blue")):
        ax.hist(weights[arm] * arm.sum(), bins=bins, alpha=0.6, label=label, color=color)
    ax.set_xlabel("weight x arm size (1 = uniform)")
    ax.set_ylabel("units")
    ax.set_yscale("log")
    ax.legend()
    return ax


def plot_effects(effects: pd.DataFrame, covariate: Any, ax: Any = None) -> Any:
    """Per-unit effects against a covariate: points with interval bars, sorted by the covariate, and a zero line.

    Args:
        effects: one row per unit with ``cate``, ``ci_low``, ``ci_high``.
        covariate: the rows' covariate values (array or Series; a Series' name labels the axis).
        ax: axes to draw on (default: a new figure).
    """
    values = np.asarray(covariate, dtype=np.float64).reshape(-1)
    if len(values) != len(effects):
        raise ValueError(f"covariate has {len(values)} values for {len(effects)} effects")
    missing = {"cate", "ci_low", "ci_high"} - set(effects.columns)
    if missing:
        raise ValueError(f"effects lack the columns {sorted(missing)}")
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    order = np.argsort(values, kind="stable")
    x, cate = values[order], effects["cate"].to_numpy()[order]
    low, high = effects["ci_low"].to_numpy()[order], effects["ci_high"].to_numpy()[order]
    ax.errorbar(x, cate, yerr=[cate - low, high - cate], fmt="o", markersize=2, alpha=0.5, elinewidth=0.5)
    ax.axhline(0.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel(str(getattr(covariate, "name", None) or "covariate"))
    ax.set_ylabel("effect (CATE)")
    return ax


def plot_interventional_distribution(
    samples: Mapping[str, Sequence[Any]] | Sequence[Any],
    discrete: bool,
    ax: Any = None,
    bins: int = 40,
    xlabel: str = "",
) -> Any:
    """Draws of one or more interventional distributions, overlaid.

    Args:
        samples: the draws, or ``{label: draws}`` to compare several queries (e.g. ``do(A=0)`` vs ``do(A=1)``).
        discrete: bar chart of probabilities per value (discrete targets) instead of density histograms.
        ax: axes to draw on (default: a new figure).
        bins: histogram bins for continuous targets.
        xlabel: the target's name.
    """
    groups = dict(samples) if isinstance(samples, Mapping) else {"": samples}
    if not groups:
        raise ValueError("no samples to plot")
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    if discrete:
        table = pd.DataFrame({k: pd.Series(list(v)).value_counts(normalize=True) for k, v in groups.items()})
        table = table.fillna(0.0).sort_index()
        table.plot.bar(ax=ax, rot=0, legend=len(groups) > 1)
        ax.set_ylabel("probability")
    else:
        values = {k: pd.to_numeric(pd.Series(list(v)), errors="raise").to_numpy(dtype=np.float64) for k, v in groups.items()}
        edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
        for label, draws in values.items():
            ax.hist(draws, bins=edges, density=True, alpha=0.5, label=label or None)
        ax.set_ylabel("density")
        if len(groups) > 1:
            ax.legend()
    ax.set_xlabel(xlabel)
    return ax


def plot_lagged_graph(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray | None]],
    var_names: Sequence[str] | None = None,
    path: str | None = None,
) -> Any:
    """Draw lagged graphs side by side: one row per panel, one heat map per lag.

    Args:
        panels: ``(title, adjacency, scores)`` triples; arrays are ``(n_vars, n_vars, max_lag)``
            indexed ``[source, target, lag - 1]``. Cells are coloured by ``scores`` (or by the
            adjacency when ``scores`` is None) and edges are marked with a dot.
        var_names: axis labels (default ``X0..``).
        path: save the figure there (PNG, 120 dpi) when given.

    Returns:
        The matplotlib figure.
    """
    if not panels:
        raise ValueError("panels is empty")
    plt = pyplot(headless=path is not None)
    n_vars, _, max_lag = np.asarray(panels[0][1]).shape
    names = list(var_names) if var_names is not None else [f"X{i}" for i in range(n_vars)]
    fig, axes = plt.subplots(
        len(panels), max_lag, figsize=(2.4 * max_lag + 0.8, 2.4 * len(panels) + 0.3), squeeze=False
    )
    for row, (title, adjacency, scores) in enumerate(panels):
        adjacency = np.asarray(adjacency, dtype=bool)
        values = adjacency.astype(float) if scores is None else np.asarray(scores, dtype=float)
        for lag in range(max_lag):
            ax = axes[row][lag]
            ax.imshow(values[:, :, lag], vmin=0.0, vmax=max(1e-12, values.max()), cmap="Blues")
            src, tgt = np.nonzero(adjacency[:, :, lag])
            ax.scatter(tgt, src, s=18, c="crimson", marker="o")
            ax.set_xticks(range(n_vars), names, fontsize=7)
            ax.set_yticks(range(n_vars), names, fontsize=7)
            ax.set_title(f"{title}: lag {lag + 1}", fontsize=8)
            if lag == 0:
                ax.set_ylabel("source", fontsize=8)
            ax.set_xlabel("target", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
