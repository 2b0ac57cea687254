"""Matplotlib view of lagged graphs (matplotlib is imported only when plotting)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


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
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("panels is empty")
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
