"""Rules turning a lagged score tensor into a lagged adjacency.

All rules work on scores indexed ``[target, source, lag - 1]`` and first normalise each target's
scores by their maximum (forecast sensitivities differ in scale between targets):

* ``"otsu"``: Otsu's two-class split of all normalised log-scores (pooled over targets); an edge is
  a score in the upper class. Data driven, no parameter.
* ``"gap"``: per target, cut the sorted scores at the largest ratio between consecutive scores
  (among the ``max_parents`` largest).
* ``"topk"``: the ``k`` largest scores of each target (the authors' rule; needs ``k``).
* a float ``c`` in ``(0, 1)``: keep normalised scores ``>= c``.
"""

from __future__ import annotations

import numbers

import numpy as np

THRESHOLD_RULES = ("otsu", "gap", "topk")


def check_top_k(k: object, name: str = "top_k") -> int:
    """``k`` (parents per target for ``"topk"``) as an int ``>= 1``; a fraction such as 2.5 would be cut to 2."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def normalise_per_target(scores: np.ndarray) -> np.ndarray:
    """Divide each target's scores ``scores[j]`` by their maximum (all-zero targets stay zero)."""
    top = scores.reshape(scores.shape[0], -1).max(axis=1)
    top = np.where(top > 0, top, 1.0)
    return scores / top[:, None, None]


def otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold: the cut maximising the between-class variance of ``values``."""
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size < 2 or v[0] == v[-1]:
        return float(v[0]) if v.size else 0.0
    n = v.size
    csum = np.cumsum(v)
    k = np.arange(1, n)
    w0, w1 = k / n, (n - k) / n
    m0 = csum[:-1] / k
    m1 = (csum[-1] - csum[:-1]) / (n - k)
    between = w0 * w1 * (m0 - m1) ** 2
    between[v[1:] == v[:-1]] = -1.0  # cuts must fall between distinct values
    best = int(np.argmax(between))
    return float(0.5 * (v[best] + v[best + 1]))


def threshold_scores(
    scores: np.ndarray,
    rule: str | float = "otsu",
    k: int | None = None,
    max_parents: int | None = None,
) -> np.ndarray:
    """Boolean adjacency ``[target, source, lag - 1]`` from scores by ``rule``.

    Args:
        scores: non-negative ``(n_vars, n_vars, max_lag)`` scores indexed ``[target, source, lag-1]``.
        rule: ``"otsu"``, ``"gap"``, ``"topk"`` or a relative cut in ``(0, 1)``.
        k: parents per target for ``"topk"``.
        max_parents: for ``"gap"``, only cuts among the ``max_parents`` largest scores are considered
            (default: half of the candidates, at least 1).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 3 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must have shape (n_vars, n_vars, max_lag), got {scores.shape}")
    if np.any(~np.isfinite(scores)) or np.any(scores < 0):
        raise ValueError("scores must be finite and non-negative")
    norm = normalise_per_target(scores)
    n_targets = norm.shape[0]
    flat = norm.reshape(n_targets, -1)
    if isinstance(rule, int | float) and not isinstance(rule, bool):
        if not 0.0 < float(rule) < 1.0:
            raise ValueError(f"a numeric threshold must be in (0, 1), got {rule}")
        return norm >= float(rule)
    if rule == "otsu":
        positive = flat[flat > 0]
        if positive.size == 0:
            return np.zeros_like(norm, dtype=bool)
        cut = otsu_threshold(np.log(positive))
        return (norm > 0) & (np.log(np.where(norm > 0, norm, 1.0)) > cut)
    if rule == "topk":
        if k is None:
            raise ValueError("rule 'topk' needs k >= 1")
        k = min(check_top_k(k, "k"), flat.shape[1])
        out = np.zeros_like(flat, dtype=bool)
        order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
        np.put_along_axis(out, order, True, axis=1)
        return out.reshape(norm.shape)
    if rule == "gap":
        m = flat.shape[1]
        limit = max(1, m // 2) if max_parents is None else max(1, min(int(max_parents), m - 1))
        out = np.zeros_like(flat, dtype=bool)
        for j in range(n_targets):
            order = np.argsort(-flat[j], kind="stable")
            s = np.log(np.maximum(flat[j][order], 1e-12))
            gaps = s[:limit] - s[1 : limit + 1]
            n_keep = int(np.argmax(gaps)) + 1
            out[j, order[:n_keep]] = True
        return out.reshape(norm.shape)
    raise ValueError(f"unknown threshold rule {rule!r}; use one of {THRESHOLD_RULES} or a float in (0, 1)")
