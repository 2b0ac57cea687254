"""Result objects of engine queries: effects and interventional distributions with Monte-Carlo errors."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CausalEstimate:
    """A Monte-Carlo estimate with its standard error and a normal confidence interval.

    Attributes:
        value: the point estimate.
        stderr: Monte-Carlo standard error (sampling error of the engine's draws only: it does
            not include the uncertainty of the fitted model).
        ci_low, ci_high: ``confidence`` interval ``value -/+ z * stderr``.
        n_samples: Monte-Carlo draws used.
        estimand: what was estimated, e.g. ``"ATE E[Y|do(A=1)] - E[Y|do(A=0)]"``.
        confidence: level of the interval.
    """

    value: float
    stderr: float
    ci_low: float
    ci_high: float
    n_samples: int
    estimand: str
    confidence: float = 0.95

    @classmethod
    def from_draws(cls, draws: np.ndarray, estimand: str, confidence: float = 0.95) -> CausalEstimate:
        """Mean of i.i.d. draws with the standard error ``sd / sqrt(n)``."""
        draws = np.asarray(draws, dtype=np.float64)
        if draws.size == 0:
            raise ValueError("no draws")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        value = float(draws.mean())
        stderr = float(draws.std(ddof=1) / np.sqrt(draws.size)) if draws.size > 1 else float("nan")
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        return cls(value, stderr, value - z * stderr, value + z * stderr, int(draws.size), estimand, confidence)

    def __float__(self) -> float:
        return self.value

    def __str__(self) -> str:
        pct = round(100 * self.confidence)
        return f"{self.estimand}: {self.value:.4g} (s.e. {self.stderr:.2g}; {pct}% CI [{self.ci_low:.4g}, {self.ci_high:.4g}])"


@dataclass(frozen=True)
class InterventionalDistribution:
    """Monte-Carlo draws of ``p(target | do(...), given)``.

    Attributes:
        target: the variable.
        samples: the draws, in the original value space.
        discrete: whether the target takes finitely many values (probabilities are meaningful).
        query: a readable description of the query.
    """

    target: str
    samples: pd.Series
    discrete: bool
    query: str

    def mean(self, confidence: float = 0.95) -> CausalEstimate:
        """``E[target | do(...)]`` (numeric targets)."""
        values = pd.to_numeric(self.samples, errors="raise").to_numpy(dtype=np.float64)
        return CausalEstimate.from_draws(values, f"E[{self.query}]", confidence)

    def probabilities(self) -> pd.DataFrame:
        """``P(target = v | do(...))`` with Monte-Carlo standard errors, one row per observed value."""
        if not self.discrete:
            raise ValueError(f"{self.target!r} is continuous; use mean(), quantiles() or samples")
        n = len(self.samples)
        p = self.samples.value_counts(normalize=True).sort_index()
        return pd.DataFrame({"probability": p, "stderr": np.sqrt(p * (1 - p) / n)})

    def probability(self, value: object) -> CausalEstimate:
        """``P(target = value | do(...))`` as an estimate."""
        return CausalEstimate.from_draws((self.samples == value).to_numpy(dtype=np.float64), f"P({self.target}={value!r} | ...)")

    def quantiles(self, q: list[float] | np.ndarray = (0.1, 0.25, 0.5, 0.75, 0.9)) -> pd.Series:
        """Quantiles of a numeric target."""
        return pd.to_numeric(self.samples).quantile(list(q))
