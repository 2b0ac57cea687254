"""The engine's effect queries: average, conditional and on-the-treated effects, and interventional means.

:class:`EffectQueries` is the part of :class:`~hf_causal.engine.engine.CausalEngine` that combines planned,
sampled or enumerated conditionals into effects (docs/design.md §7.6-7.7); the engine class supplies
``planner``, ``tokenizer``, ``model``, ``seed``, ``context_variables``, ``prefix_variables``,
``max_exact_support``, ``num_threads``, ``batch_size`` and ``_sample_ids`` and ``_tables``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core.options import check_seed
from ..core.results import EffectEstimate, normal_quantile
from .exact import enumeration_support, exact_mean
from .interventional import EXACT_INTERVAL, MONTE_CARLO_INTERVAL
from .planning import Query, describe_value
from .sampling import decode_samples, join_rows, torch_threads


def _rows_equal(ids: np.ndarray | Sequence[Sequence[int]], target: np.ndarray) -> np.ndarray:
    """Which rows of ids equal ``target`` exactly (a boolean vector)."""
    if isinstance(ids, np.ndarray):
        if ids.shape[1] != len(target):
            return np.zeros(len(ids), dtype=bool)
        return (ids == target[None, :]).all(1)
    return np.fromiter((list(t) == target.tolist() for t in ids), dtype=bool, count=len(ids))


def check_n(n: Any) -> int:
    """``n`` as a positive int, or a ``ValueError``."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def check_exact(exact: Any) -> None:
    """Raise a ``TypeError`` unless ``exact`` is ``True``, ``False`` or ``None`` (a truthy string such as
    ``"yes"`` would otherwise insist on enumeration, and ``"no"`` too)."""
    if exact is not None and not isinstance(exact, (bool, np.bool_)):
        raise TypeError(f"exact must be True, False or None, got {exact!r}")


def check_distinct(treatment: str, outcome: str) -> None:
    """Refuse an effect of a variable on itself before either path: it is ``treated - control`` by definition, not
    a question for the model, and the enumeration, which clamps the treatment, would answer 0."""
    if treatment == outcome:
        raise ValueError(f"treatment and outcome must differ, got {treatment!r} for both")


class EffectQueries:
    """Effects from the engine's model: exact by enumeration where a query allows it, else paired Monte Carlo."""

    def _arms(self, treatment: str, treated: Any, control: Any) -> tuple[Any, Any]:
        self.planner.check_names([treatment], "treatment")
        if treated is None or control is None:
            levels = self.tokenizer.codecs[treatment].binary_levels()
            if levels is None:
                raise ValueError(f"treatment {treatment!r} is not binary: pass treated= and control= values")
            control = levels[0] if control is None else control
            treated = levels[1] if treated is None else treated
        for value in (treated, control):
            self.planner.check_range("do", treatment, value)
        return treated, control

    def _numeric_outcome(self, outcome: str) -> None:
        self.planner.check_names([outcome], "outcome")
        reason = self.tokenizer.codecs[outcome].non_numeric_reason()
        if reason is not None:
            raise ValueError(f"outcome {outcome!r} {reason}")

    def _exact_plans(self, query: Query, target: str, exact: bool | None) -> tuple[list, int] | None:
        """The plans of ``query`` up to ``target`` when it is answered by enumeration, else ``None``.

        ``exact=None`` enumerates when the query allows it and its support is at most ``max_exact_support``;
        ``True`` requires it (a ``ValueError`` says why it cannot); ``False`` never enumerates."""
        check_exact(exact)
        if exact is False:
            return None
        if self.prefix_variables:
            reason, support, plans = "the engine attends to a bidirectional text block", None, []
        elif any(self.planner.is_per_row(name, value) for name, value in {**query.do, **query.given}.items()):
            # one evidence value per row is one query per row: the paired Monte-Carlo draws answer it
            reason, support, plans = "the evidence varies per row", None, []
        else:
            plans = self.planner.plans(query, 1, [target])
            support = enumeration_support(self.tokenizer, plans, target)
            reason = ("a variable drawn before the target (or the target) is not one token, or the evidence varies "
                      "per row") if support is None else None
        if reason is None and support > self.max_exact_support and exact is None:
            return None
        if reason is not None:
            if exact:
                raise ValueError(f"exact=True: {target!r} cannot be enumerated here: {reason}; use exact=False")
            return None
        return plans, int(support)

    def _exact_mean(self, plans: list, target: str) -> float:
        with torch_threads(self.num_threads):
            return exact_mean(self.model, self.tokenizer, plans, target, batch_size=self.batch_size)

    def interventional_mean(
        self,
        target: str,
        do: Mapping[str, Any] | None = None,
        given: Mapping[str, Any] | None = None,
        *,
        exact: bool | None = None,
        n: int = 10_000,
        confidence: float = 0.95,
        seed: int | None = None,
    ) -> EffectEstimate:
        """``E[target | do(...), given]`` of a numeric target: exact by enumeration when the query allows it (see
        ``exact`` in :meth:`cate`), else the mean of ``n`` Monte-Carlo draws."""
        check_seed(seed)
        normal_quantile(confidence)  # a bad level fails before any sampling
        query = self.planner.query(do, given)
        self._numeric_outcome(target)
        cond = query.describe()
        label = f"E[{target} | {cond}]" if cond else f"E[{target}]"
        enumerated = self._exact_plans(query, target, exact)
        if enumerated is not None:
            plans, support = enumerated
            return self._exact_estimate(self._exact_mean(plans, target), "mean", label, support, confidence)
        return self.interventional_distribution(target, do=query.do, given=query.given, n=n, seed=seed).mean(confidence)

    @staticmethod
    def _exact_estimate(value: float, estimand: str, query: str, support: int, confidence: float) -> EffectEstimate:
        normal_quantile(confidence)  # a zero-width interval has no z, but the level must still be a level
        return EffectEstimate(
            value, value, value, 0.0, estimand=estimand, method="engine", confidence=confidence, n=support,
            query=query, interval=EXACT_INTERVAL,
        )

    def _paired_effect(
        self,
        treatment: str,
        outcome: str,
        treated: Any,
        control: Any,
        n: int,
        given: Mapping[str, Any],
        prefix_ids: Mapping[str, np.ndarray | list[list[int]]] | None,
        seed: int | None,
        progress: bool | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Outcome draws under ``do(treated)`` and ``do(control)`` sharing every variable that precedes
        the treatment in the order (non-descendants: the same law in both arms, so sharing is exact
        and the difference has a much smaller Monte-Carlo variance than two independent arms); evidence
        after the treatment is clamped in both arms. ``given``, ``treatment`` and ``outcome`` are already
        validated."""
        if treatment in given:
            raise ValueError(f"treatment {treatment!r} cannot be in given=")
        order = self.tokenizer.order
        before = set(order[: order.index(treatment)])
        plans_1 = self.planner.plans(Query({treatment: treated}, dict(given)), n, [outcome], clamp_ids=prefix_ids)
        plans_0 = self.planner.plans(Query({treatment: control}, dict(given)), n, [outcome], clamp_ids=prefix_ids)
        tables_1 = self._tables(plans_1, n)
        tables_0 = self._tables(plans_0, n) if tables_1 is not None else None
        seed_0 = None if seed is None else seed + 1
        if tables_0 is not None:  # both arms from tables, the shared variables drawn once
            ids_1 = self._sample_ids(n, plans_1, seed, progress, tables=tables_1)
            shared = {p.name: ids_1[p.name] for p in plans_1 if p.name in before and p.clamp is None}
            ids_0 = self._sample_ids(n, plans_0, seed_0, progress, tables=tables_0, fixed=shared)
        else:
            # the evidence holds in both arms: variables before the treatment are shared draws (the network feeds
            # them once per batch and both arms continue from its KV cache), later ones are given
            shared = sum(p.name in before for p in plans_1)
            seeds = [self.seed if seed is None else seed, self.seed if seed_0 is None else seed_0]
            ids_1, ids_0 = self._sample_arm_ids(n, [plans_1, plans_0], shared, seeds, progress)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        y1 = decode_samples(self.tokenizer, {outcome: ids_1[outcome]}, rng)[outcome]
        y0 = decode_samples(self.tokenizer, {outcome: ids_0[outcome]}, rng)[outcome]
        return y1.to_numpy(dtype=np.float64), y0.to_numpy(dtype=np.float64)

    @staticmethod
    def _effect(draws: np.ndarray, estimand: str, query: str, confidence: float) -> EffectEstimate:
        """A Monte-Carlo effect: the mean of paired outcome differences, its interval Monte-Carlo only."""
        return EffectEstimate.from_draws(
            draws, confidence=confidence, estimand=estimand, method="engine", query=query,
            interval=MONTE_CARLO_INTERVAL,
        )

    def ate(
        self,
        treatment: str,
        outcome: str,
        *,
        treated: Any = None,
        control: Any = None,
        n: int = 10_000,
        confidence: float = 0.95,
        seed: int | None = None,
        progress: bool | None = None,
        exact: bool | None = None,
    ) -> EffectEstimate:
        """Average treatment effect ``E[Y | do(A=treated)] - E[Y | do(A=control)]``.

        For a binary treatment the defaults are its larger level (treated) vs its smaller level
        (control), e.g. 1 vs 0. Exact by enumeration where the query allows it (see :meth:`cate`); otherwise
        the interval reflects Monte-Carlo error only.
        """
        return self.cate(treatment, outcome, given={}, treated=treated, control=control, n=n,
                         confidence=confidence, seed=seed, progress=progress, exact=exact)

    def cate(
        self,
        treatment: str,
        outcome: str,
        given: Mapping[str, Any],
        *,
        treated: Any = None,
        control: Any = None,
        n: int = 10_000,
        confidence: float = 0.95,
        seed: int | None = None,
        progress: bool | None = None,
        exact: bool | None = None,
    ) -> EffectEstimate:
        """Conditional effect ``E[Y | do(treated), given] - E[Y | do(control), given]``.

        ``given`` must be closed under ancestors in the intervened graph (typically: the
        covariates that precede the treatment together with their own causes); otherwise a
        ``ValueError`` explains what is missing.

        ``exact``: ``None`` (default) answers by enumeration, with no Monte-Carlo error, when every variable
        drawn before the outcome takes one token (categorical, binary, quantile-binned), the evidence is one
        value per variable and the configurations number at most :attr:`max_exact_support` (65,536 by
        default); otherwise by ``n`` paired Monte-Carlo draws. ``True`` insists on enumeration (an error
        says why it cannot), ``False`` always samples. An exact estimate has a zero-width interval: it is
        exact *given the model*; the model's own error is not included.
        """
        n = check_n(n)
        seed = check_seed(seed)
        normal_quantile(confidence)  # a bad level fails before any sampling
        query = self.planner.query(given=given)
        self._numeric_outcome(outcome)
        check_distinct(treatment, outcome)
        treated, control = self._arms(treatment, treated, control)
        cond = "".join(f", {k}={describe_value(v)}" for k, v in query.given.items())
        label = f"E[{outcome}|do({treatment}={treated!r}){cond}] - E[{outcome}|do({treatment}={control!r}){cond}]"
        estimand = "cate" if query.given else "ate"
        if treatment in query.given:
            raise ValueError(f"treatment {treatment!r} cannot be in given=")
        arms = [self._exact_plans(Query({treatment: arm}, dict(query.given)), outcome, exact) for arm in (treated, control)]
        if all(a is not None for a in arms):
            value = self._exact_mean(arms[0][0], outcome) - self._exact_mean(arms[1][0], outcome)
            return self._exact_estimate(value, estimand, label, arms[0][1], confidence)
        y1, y0 = self._paired_effect(treatment, outcome, treated, control, n, query.given, None, seed, progress)
        return self._effect(y1 - y0, estimand, label, confidence)

    def att(
        self,
        treatment: str,
        outcome: str,
        *,
        treated: Any = None,
        control: Any = None,
        n: int = 10_000,
        confidence: float = 0.95,
        seed: int | None = None,
        progress: bool | None = None,
        max_rounds: int = 50,
        data: pd.DataFrame | None = None,
    ) -> EffectEstimate:
        """Effect on the treated ``E[Y(treated) - Y(control) | A = treated]``.

        Rows of the variables preceding the treatment are drawn from ``p(. | A=treated)`` by
        rejection (observational sampling up to the treatment), then both arms are sampled with
        that prefix clamped: the prefix contains ``pa(A)``, so ``Y(a)`` is independent of ``A`` given it.

        With ``data`` (observed rows holding the treatment and every variable before it in the order),
        the prefix is instead the observed treated rows, each repeated to make ``n`` draws (the ATT of
        that sample, as in the usual plug-in estimators); this is required when a context variable
        (e.g. text) precedes the treatment, since the engine does not generate those.
        """
        n = check_n(n)
        seed = check_seed(seed)
        normal_quantile(confidence)  # a bad level fails before any sampling
        self._numeric_outcome(outcome)
        check_distinct(treatment, outcome)
        treated, control = self._arms(treatment, treated, control)
        order = self.tokenizer.order
        prefix = order[: order.index(treatment)]
        formula = f"E[{outcome}({treated!r}) - {outcome}({control!r}) | {treatment}={treated!r}]"
        if data is not None:
            prefix_ids = self._observed_prefix(data, treatment, treated, prefix, n)
            m = len(next(iter(prefix_ids.values()))) if prefix_ids else n
            y1, y0 = self._paired_effect(treatment, outcome, treated, control, m, {}, prefix_ids or None, seed, progress)
            return self._effect(y1 - y0, "att", f"{formula} over the observed treated rows", confidence)
        context = [p for p in prefix if p in self.context_variables]
        if context:
            raise ValueError(f"context variables {context} precede {treatment!r}: pass the observed rows as data=")
        target_ids = np.asarray(self.tokenizer.encode_value(treatment, treated))
        kept: dict[str, list] = {p: [] for p in prefix}
        base = self.seed if seed is None else seed
        accepted = 0
        observational = self.planner.plans(Query(), n, [treatment])
        tables = self._tables(observational, n)
        for r in range(max_rounds):
            ids = self._sample_ids(n, observational, base + 1000 + r, False, tables=tables)
            hits = np.flatnonzero(_rows_equal(ids[treatment], target_ids))
            for p in prefix:
                kept[p].append(ids[p][hits] if isinstance(ids[p], np.ndarray) else [ids[p][i] for i in hits])
            accepted += len(hits)
            if accepted >= n:
                break
        if accepted == 0:
            raise ValueError(f"the model never samples {treatment}={treated!r}; the ATT is not estimable")
        m = min(accepted, n)
        prefix_ids = {p: join_rows(v)[:m] for p, v in kept.items()}
        y1, y0 = self._paired_effect(treatment, outcome, treated, control, m, {}, prefix_ids or None, seed, progress)
        return self._effect(y1 - y0, "att", formula, confidence)

    def _observed_prefix(
        self, data: pd.DataFrame, treatment: str, treated: Any, prefix: Sequence[str], n: int
    ) -> dict[str, np.ndarray | list[list[int]]]:
        """Token ids of the observed treated rows' prefix variables, cycled to ``max(n, rows)`` rows."""
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        missing = [c for c in [treatment, *prefix] if c not in data.columns]
        if missing:
            raise ValueError(f"data lacks the columns {missing} (the treatment and the variables before it)")
        column = data[treatment]
        if column.isna().any():
            first = column.index[column.isna().to_numpy()][0]
            raise ValueError(f"data's treatment column {treatment!r} has missing values (first at row "
                             f"{first.item() if isinstance(first, np.generic) else first!r}); drop those rows first")
        # every value must be one the engine knows (an unknown one is named), and the treated rows are those whose
        # encoding is the treated arm's, so a column stored as strings matches as the engine reads it
        ids = [list(i) for i in self.tokenizer.encode_column(treatment, column.tolist())]
        rows = data[_rows_equal(ids, np.asarray(self.tokenizer.encode_value(treatment, treated)))]
        if rows.empty:
            raise ValueError(f"data has no rows with {treatment}={treated!r}")
        reps = np.resize(np.arange(len(rows)), max(n, len(rows)))
        out: dict[str, np.ndarray | list[list[int]]] = {}
        for p in prefix:
            self.planner.check_range("data", p, rows[p])
            encoded = self.tokenizer.encode_column(p, rows[p].tolist())
            if self.tokenizer.codecs[p].single_token:
                out[p] = np.asarray(encoded, dtype=np.int64)[reps]
            else:
                out[p] = [encoded[i] for i in reps]
        return out
