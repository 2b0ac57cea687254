"""Scores of an estimated lagged graph against the truth (F1, AUROC, SHD)."""

from __future__ import annotations

import numpy as np


def auroc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the binary labels ``truth`` (ties count half).

    Returns NaN when ``truth`` has only one class.
    """
    y = np.asarray(truth, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"truth and scores differ in size: {y.shape} vs {s.shape}")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < s.size:  # average ranks over ties
        j = i
        while j + 1 < s.size and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def lagged_graph_metrics(
    truth: np.ndarray, adjacency: np.ndarray, scores: np.ndarray | None = None
) -> dict[str, float]:
    """Precision, recall, F1, SHD (and AUROC when ``scores`` is given) of a lagged graph.

    All arrays are ``(n_vars, n_vars, max_lag)`` in the same layout. Edges of a lagged graph are
    oriented by time, so the structural Hamming distance is the number of differing entries
    (missing plus extra edges).
    """
    truth = np.asarray(truth, dtype=bool)
    adjacency = np.asarray(adjacency, dtype=bool)
    if truth.shape != adjacency.shape:
        raise ValueError(f"truth {truth.shape} and adjacency {adjacency.shape} differ in shape")
    tp = int(np.sum(truth & adjacency))
    fp = int(np.sum(~truth & adjacency))
    fn = int(np.sum(truth & ~adjacency))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out = {"precision": precision, "recall": recall, "f1": f1, "shd": float(fp + fn)}
    if scores is not None:
        out["auroc"] = auroc(truth, scores)
    return out
