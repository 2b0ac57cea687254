"""The estimator protocol of the benchmark harness and the per-run record it produces.

An estimator is anything with

* ``name: str`` -- the label used in reports;
* ``estimate(X, T, Y, estimand) -> EffectEstimate`` -- ``X`` ``(N, d)`` float, ``T`` ``(N,)`` 0/1 int, ``Y`` ``(N,)``
  float, ``estimand`` ``"ate"`` or ``"att"``; raise :class:`EstimatorSkipped` to decline a dataset
  (e.g. too large for an O(N^2) solver);

and optionally

* ``requires: tuple[str, ...]`` -- importable module names; if one is missing the estimator is reported
  as skipped on every dataset (never silently dropped);
* ``max_n: int | None`` -- datasets with more units are reported as skipped without calling it;
* ``has_intervals: bool`` -- whether it returns 95% intervals (for the report's legend);
* ``uses_truth: bool`` -- an *oracle* row, not a method: the harness calls
  ``estimate(X, T, Y, estimand, truth=meta)`` with the dataset's per-unit truth (``meta["mu0"]``, ``meta["mu1"]``)
  and reports it as skipped on datasets without one (LaLonde). Oracle names start with ``oracle_``, and the
  reports keep them out of the rankings: they bound what a method could reach, they do not compete.

The harness times ``estimate`` itself (wall clock), so an estimator should do all of its work there.
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hf_causal.core.results import EffectEstimate

ESTIMANDS = ("ate", "att")


def record_lines(path: Any) -> list[str]:
    """The non-blank lines of a JSON-lines records file, gzip-compressed when its name ends in ``.gz`` (the records
    kept in the repository, ``benchmarks/results/records/``)."""
    path = Path(path)
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    return [line for line in text.splitlines() if line.strip()]


class EstimatorSkipped(Exception):
    """Raised by an estimator (or the harness) to report that a dataset was skipped, with the reason."""


@runtime_checkable
class Estimator(Protocol):
    """What the harness needs from a method (see the module docstring for the optional attributes)."""

    name: str

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """Estimate ``estimand`` on one dataset."""
        ...


@dataclass
class FunctionEstimator:
    """Wrap a plain function ``fn(X, T, Y, estimand) -> EffectEstimate | float`` as an :class:`Estimator`."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray, str], EffectEstimate | float]
    requires: tuple[str, ...] = ()
    max_n: int | None = None
    has_intervals: bool = False

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """Call the wrapped function; a bare number becomes an :class:`EffectEstimate` without interval."""
        out = self.fn(X, T, Y, estimand)
        return out if isinstance(out, EffectEstimate) else EffectEstimate(value=float(out))


def unavailable_reason(estimator: Any) -> str | None:
    """Why ``estimator`` cannot run at all here (a missing required module), or ``None`` if it can."""
    missing = [m for m in getattr(estimator, "requires", ()) if importlib.util.find_spec(m) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (pip install 'hf-causal[bench]')"
    return None


@dataclass
class Record:
    """One (method, dataset) result.

    ``status`` is ``"ok"``, ``"skipped"`` (declined, too large, or a missing package; ``note`` says why) or
    ``"error"`` (the estimator raised; ``note`` holds the exception). ``seconds`` is the wall time of
    ``estimate`` (0 when it did not run).
    """

    suite: str
    dataset: str
    method: str
    estimand: str
    n: int
    truth: float
    status: str
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    seconds: float = 0.0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def abs_error(self) -> float | None:
        """``|estimate - truth|`` for a successful run, else ``None``."""
        if self.status != "ok" or self.estimate is None:
            return None
        return abs(self.estimate - self.truth)

    @property
    def covered(self) -> bool | None:
        """Whether the 95% interval contains the truth (``None`` without an interval)."""
        if self.status != "ok" or self.ci_low is None or self.ci_high is None:
            return None
        if not (np.isfinite(self.ci_low) and np.isfinite(self.ci_high)):
            return None
        return bool(self.ci_low <= self.truth <= self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)
