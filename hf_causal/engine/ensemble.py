"""``EngineEnsemble``: effects whose interval includes the engine's estimation error, by the bootstrap.

An engine's own interval covers the Monte-Carlo error of its draws only (docs/design.md §7.8): it shrinks to
zero with more draws even when the fitted model is off, because it is conditional on that model. The model's
estimation error (finite rows, binning, the optimisation) is the spread of the answer over the rows the engine
could have been trained on. :meth:`EngineEnsemble.bootstrap` trains ``n_engines`` engines, each on a resample
of the rows drawn with replacement and with its own seed, asks each the same question, and reports the mean of
their answers with the standard deviation across them as the standard error (a normal bootstrap interval).

Cost: ``n_engines`` times the training of one engine, and ``n_engines`` times every query. Twenty engines give a
usable standard error; the interval is still conditional on the graph (no hidden confounders, the right DAG).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.options import check_seed
from ..core.results import EffectEstimate, normal_quantile
from .engine import CausalEngine
from .graph import CausalGraph
from .training_args import EngineTrainingArguments

#: What an ensemble's interval accounts for (``{k}``: the number of engines).
BOOTSTRAP_INTERVAL = (
    "the fitted model's estimation error (a bootstrap over {k} engines, each trained on a resample of the rows) "
    "and Monte-Carlo error; not errors in the graph"
)


class EngineEnsemble:
    """Engines trained on bootstrap resamples of one table; :meth:`ate`, :meth:`cate`, :meth:`att` and
    :meth:`mean` combine their answers into an :class:`~hf_causal.core.results.EffectEstimate` whose interval includes the
    estimation error (module docstring).

    Args:
        engines: at least two engines over the same causal graph.
    """

    def __init__(self, engines: Sequence[CausalEngine]) -> None:
        engines = list(engines)
        if len(engines) < 2:
            raise ValueError(f"an ensemble needs at least 2 engines, got {len(engines)}")
        if not all(isinstance(e, CausalEngine) for e in engines):
            raise TypeError("an ensemble holds CausalEngine instances")
        if any(e.graph != engines[0].graph for e in engines[1:]):
            raise ValueError("the engines of an ensemble must share one causal graph")
        self.engines = engines

    def __len__(self) -> int:
        return len(self.engines)

    @property
    def graph(self) -> CausalGraph:
        """The causal graph the engines share."""
        return self.engines[0].graph

    @classmethod
    def bootstrap(
        cls,
        data: pd.DataFrame,
        graph: CausalGraph,
        args: EngineTrainingArguments | None = None,
        *,
        n_engines: int = 20,
        seed: int = 0,
        **settings: Any,
    ) -> EngineEnsemble:
        """Train ``n_engines`` engines (:meth:`CausalEngine.train`), each on ``len(data)`` rows drawn with
        replacement and with seed ``seed + i``; ``args`` / ``settings`` as for one engine. With ``output_dir``,
        engine ``i`` is written to ``output_dir/engine-i``. Costs ``n_engines`` trainings.
        """
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        if not isinstance(n_engines, (int, np.integer)) or n_engines < 2:
            raise ValueError(f"n_engines must be an integer >= 2, got {n_engines!r}")
        seed = check_seed(seed, optional=False)
        rng = np.random.default_rng(seed)
        output_dir = settings.pop("output_dir", None)
        engines = []
        for i in range(int(n_engines)):
            rows = data.iloc[rng.integers(0, len(data), len(data))].reset_index(drop=True)
            out = None if output_dir is None else os.path.join(str(output_dir), f"engine-{i}")
            engines.append(CausalEngine.train(rows, graph, args, seed=seed + i, output_dir=out, **settings))
        return cls(engines)

    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Write engine ``i`` to ``path/engine-i``."""
        for i, engine in enumerate(self.engines):
            engine.save_pretrained(os.path.join(str(path), f"engine-{i}"))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> EngineEnsemble:
        """Load the ``engine-i`` folders of ``path`` (``kwargs`` go to :meth:`CausalEngine.from_pretrained`)."""
        folders = sorted(Path(path).glob("engine-*"), key=lambda p: int(p.name.split("-")[-1]))
        if not folders:
            raise FileNotFoundError(f"no engine-* folders in {path}")
        return cls([CausalEngine.from_pretrained(f, **kwargs) for f in folders])

    def _combine(self, estimates: list[EffectEstimate], confidence: float) -> EffectEstimate:
        values = np.array([e.value for e in estimates], dtype=np.float64)
        first = estimates[0]
        return EffectEstimate.from_standard_error(
            float(values.mean()), float(values.std(ddof=1)), confidence=confidence, estimand=first.estimand,
            method="engine-bootstrap", query=first.query, n=int(sum(e.n for e in estimates)),
            interval=BOOTSTRAP_INTERVAL.format(k=len(estimates)),
        )

    def _each(self, method: str, *args: Any, confidence: float = 0.95, **kwargs: Any) -> EffectEstimate:
        normal_quantile(confidence)  # a bad level fails before any sampling
        return self._combine([getattr(e, method)(*args, **kwargs) for e in self.engines], confidence)

    def ate(self, treatment: str, outcome: str, *, confidence: float = 0.95, **kwargs: Any) -> EffectEstimate:
        """:meth:`CausalEngine.ate` of every engine, combined (``kwargs``: ``treated``, ``control``, ``n`` ...)."""
        return self._each("ate", treatment, outcome, confidence=confidence, **kwargs)

    def cate(
        self, treatment: str, outcome: str, given: dict[str, Any], *, confidence: float = 0.95, **kwargs: Any
    ) -> EffectEstimate:
        """:meth:`CausalEngine.cate` of every engine, combined."""
        return self._each("cate", treatment, outcome, given, confidence=confidence, **kwargs)

    def att(self, treatment: str, outcome: str, *, confidence: float = 0.95, **kwargs: Any) -> EffectEstimate:
        """:meth:`CausalEngine.att` of every engine, combined (with ``data=``, over the observed treated rows)."""
        return self._each("att", treatment, outcome, confidence=confidence, **kwargs)

    def mean(
        self,
        target: str,
        do: dict[str, Any] | None = None,
        given: dict[str, Any] | None = None,
        *,
        n: int = 10_000,
        confidence: float = 0.95,
        exact: bool | None = None,
    ) -> EffectEstimate:
        """``E[target | do(...), given]`` (:meth:`CausalEngine.interventional_mean`: exact where the query allows
        it, else ``n`` draws) of every engine, combined."""
        normal_quantile(confidence)
        means = [e.interventional_mean(target, do, given, n=n, exact=exact) for e in self.engines]
        return self._combine(means, confidence)
