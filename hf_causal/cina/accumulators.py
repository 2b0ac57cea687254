"""Sums over rows that merge across chunks and partitions (docs/design.md §4.9).

Every quantity a streamed estimate needs from the data is one of these: column moments (Chan's parallel
update, so a mean far from zero loses no precision), co-moment matrices of the regressions' normal equations,
per-column minima and maxima, a few distinct values per column, and the shifted exponential sums of the
calibration's log-sum-exp. A chunk makes one, two merge into one, and the order of merging changes the result
only by rounding: that is what makes a streamed or distributed estimate equal the in-memory one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class _Chan:
    """Count, mean and centred second moment, merged with Chan et al.'s parallel update."""

    n: float
    mean: np.ndarray

    def _second(self) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _outer(delta: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def merge(self, other: _Chan) -> _Chan:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        second = self._second() + other._second() + self._outer(delta) * (self.n * other.n / n)
        return type(self)(n, self.mean + delta * (other.n / n), second)


@dataclass
class Moments(_Chan):
    """Count, mean and sum of squared deviations of each column."""

    n: float
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> Moments:
        x = np.asarray(x, dtype=np.float64)
        if len(x) == 0:
            return cls(0.0, np.zeros(x.shape[1:]), np.zeros(x.shape[1:]))
        mean = x.mean(0)
        # a column too large for float64 overflows to inf here, which the streamed estimate's scale check reports
        with np.errstate(over="ignore", invalid="ignore"):
            return cls(float(len(x)), mean, ((x - mean) ** 2).sum(0))

    def _second(self) -> np.ndarray:
        return self.m2

    @staticmethod
    def _outer(delta: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return delta**2

    @property
    def var(self) -> np.ndarray:
        """Population variance (``ddof=0``, as ``np.var``)."""
        return self.m2 / max(self.n, 1.0)


@dataclass
class CoMoments(_Chan):
    """Count, mean vector and centred cross-product matrix ``sum (z - mean)(z - mean)^T`` of rows ``z``."""

    n: float
    mean: np.ndarray
    cross: np.ndarray

    @classmethod
    def of(cls, z: np.ndarray, width: int | None = None) -> CoMoments:
        z = np.asarray(z, dtype=np.float64)
        p = z.shape[1] if width is None else width
        if len(z) == 0:
            return cls(0.0, np.zeros(p), np.zeros((p, p)))
        mean = z.mean(0)
        centred = z - mean
        return cls(float(len(z)), mean, centred.T @ centred)

    def _second(self) -> np.ndarray:
        return self.cross

    @staticmethod
    def _outer(delta: np.ndarray) -> np.ndarray:
        return np.outer(delta, delta)

    @property
    def mean_product(self) -> np.ndarray:
        """The uncentred second moment ``mean(z zᵀ)`` of the rows."""
        return self.cross / max(self.n, 1.0) + np.outer(self.mean, self.mean)


@dataclass
class Range:
    """Per-column minimum and maximum."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, width: int) -> Range:
        if len(x) == 0:
            return cls(np.full(width, np.inf), np.full(width, -np.inf))
        return cls(x.min(0), x.max(0))

    def merge(self, other: Range) -> Range:
        return Range(np.minimum(self.low, other.low), np.maximum(self.high, other.high))


@dataclass
class FewValues:
    """Up to ``limit`` distinct values of each column: enough to tell a 0/1 column from a non-binary one."""

    values: list[set[float]]
    limit: int = 3

    @classmethod
    def of(cls, x: np.ndarray, limit: int = 3) -> FewValues:
        return cls([set()] * x.shape[1], limit).update(x)

    def update(self, x: np.ndarray) -> FewValues:
        out = []
        for j, seen in enumerate(self.values):
            col = x[:, j]
            if len(seen) < self.limit and len(col):
                if seen and np.isin(col, list(seen)).all():  # the common case: nothing new, no sort needed
                    out.append(seen)
                    continue
                seen = seen | set(np.unique(col)[: self.limit].tolist())
                seen = set(sorted(seen)[: self.limit])
            out.append(seen)
        return FewValues(out, self.limit)

    def merge(self, other: FewValues) -> FewValues:
        return FewValues([set(sorted(a | b)[: self.limit]) for a, b in zip(self.values, other.values)], self.limit)

    def counts(self) -> np.ndarray:
        return np.array([len(v) for v in self.values])


@dataclass
class ExpSums:
    """``sum_i b_i exp(z_i - shift)`` times ``1``, ``x_i`` and ``x_i x_i^T``, with the running ``shift = max z``.

    The calibration's dual (docs/design.md §4.2) needs ``log sum b e^z`` with its gradient and Hessian; keeping
    the sums relative to the largest ``z`` seen so far is the log-sum-exp trick across chunks.
    """

    shift: float
    total: float
    first: np.ndarray
    second: np.ndarray

    @classmethod
    def of(cls, z: np.ndarray, b: np.ndarray, xc: np.ndarray) -> ExpSums:
        p = xc.shape[1]
        if len(z) == 0:
            return cls(-np.inf, 0.0, np.zeros(p), np.zeros((p, p)))
        shift = float(z.max())
        e = b * np.exp(z - shift)
        root = xc * np.sqrt(e)[:, None]  # root^T root: a symmetric product, half the work of xc^T diag(e) xc
        return cls(shift, float(e.sum()), e @ xc, root.T @ root)

    def merge(self, other: ExpSums) -> ExpSums:
        if other.total == 0 and other.shift == -np.inf:
            return self
        if self.total == 0 and self.shift == -np.inf:
            return other
        shift = max(self.shift, other.shift)
        a, b = np.exp(self.shift - shift), np.exp(other.shift - shift)
        return ExpSums(shift, self.total * a + other.total * b, self.first * a + other.first * b,
                       self.second * a + other.second * b)


def merge(a: Any, b: Any) -> Any:
    """Merge two partial results of a pass: dicts key by key, objects with ``merge``, lists concatenated,
    ``None`` as the empty value, numbers and arrays added."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict):
        return {k: merge(a.get(k), b.get(k)) for k in {**a, **b}}
    if hasattr(a, "merge"):
        return a.merge(b)
    if isinstance(a, list):
        return a + b
    return a + b
