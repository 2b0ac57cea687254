"""``InterventionalDistribution``: Monte-Carlo draws of ``p(target | do(...), given)`` and what to read off them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.results import EffectEstimate

#: What the engine's intervals account for (docs/design.md §7).
MONTE_CARLO_INTERVAL = (
    "Monte-Carlo error of the draws only, not the fitted model's estimation error "
    "(EngineEnsemble.bootstrap gives an interval that includes it)"
)
#: What an enumerated (exact) answer's zero-width interval means.
EXACT_INTERVAL = (
    "exact given the model (enumerated, no Monte-Carlo error); not the fitted model's estimation error "
    "(EngineEnsemble.bootstrap gives an interval that includes it)"
)


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

    def mean(self, confidence: float = 0.95) -> EffectEstimate:
        """``E[target | do(...)]`` (numeric targets)."""
        values = pd.to_numeric(self.samples, errors="raise").to_numpy(dtype=np.float64)
        return EffectEstimate.from_draws(
            values, confidence=confidence, estimand="mean", method="engine", query=f"E[{self.query}]",
            interval=MONTE_CARLO_INTERVAL,
        )

    def probabilities(self) -> pd.DataFrame:
        """``P(target = v | do(...))`` with Monte-Carlo standard errors, one row per observed value."""
        if not self.discrete:
            raise ValueError(f"{self.target!r} is continuous; use mean(), quantiles() or samples")
        n = len(self.samples)
        p = self.samples.value_counts(normalize=True).sort_index()
        return pd.DataFrame({"probability": p, "std_error": np.sqrt(p * (1 - p) / n)})

    def probability(self, value: object) -> EffectEstimate:
        """``P(target = value | do(...))`` as an estimate."""
        return EffectEstimate.from_draws(
            (self.samples == value).to_numpy(dtype=np.float64), estimand="probability", method="engine",
            query=f"P({self.target}={value!r} | ...)", interval=MONTE_CARLO_INTERVAL,
        )

    def quantiles(self, q: list[float] | np.ndarray = (0.1, 0.25, 0.5, 0.75, 0.9)) -> pd.Series:
        """Quantiles of a numeric target."""
        return pd.to_numeric(self.samples).quantile(list(q))

    def plot(self, ax: Any = None, bins: int = 40) -> Any:
        """Histogram (continuous) or bar chart of probabilities (discrete) of the draws; returns the axes."""
        from ..core.plotting import plot_interventional_distribution

        ax = plot_interventional_distribution(self.samples, self.discrete, ax=ax, bins=bins, xlabel=self.target)
        ax.set_title(self.query)
        return ax
