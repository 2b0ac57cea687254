"""Query planning: ``do=`` / ``given=`` checked once, then turned into one :class:`VariablePlan` per variable.

A query is validated when it enters the public API (:meth:`QueryPlanner.query`: mappings, known variables, no
variable both intervened on and conditioned on); everything after that works on the validated :class:`Query`.
:meth:`QueryPlanner.plans` then decides, variable by variable in the topological order, whether it is clamped
(intervened on, given, or an observed prefix) or sampled, and stops after the last variable the query needs.
Conditioning is exact only for evidence closed under ancestors in the intervened graph (docs/design.md §7).
A numeric value outside the range seen in training is reported (:class:`OutOfRangeWarning`, or a ``ValueError``
with ``out_of_range="raise"``): the codecs would otherwise clamp it to their edge without a word (§7.1).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .graph import CausalGraph
from .tokenization_causal import CausalSequenceTokenizer

#: What a query does with a ``do=`` / ``given=`` value outside the range seen in training.
OUT_OF_RANGE_ACTIONS = ("warn", "raise", "ignore")


class OutOfRangeWarning(UserWarning):
    """A query value lies outside the range seen in training: the model extrapolates (it clamps to the edge)."""


@dataclass
class VariablePlan:
    """How one variable is produced during sampling.

    Attributes:
        name: the variable.
        clamp: global token ids of the value (without start token), one list per row or a single
            list shared by all rows; ``None`` samples the variable.
        fixed_positions: for a sampled sequence variable, ``{position: global id}`` tokens forced at
            those positions (a partial intervention); the end token is forbidden before the last one.
    """

    name: str
    clamp: Sequence[Sequence[int]] | None = None
    fixed_positions: dict[int, int] = field(default_factory=dict)


def describe_value(value: Any) -> str:
    """A query value as a label shows it: its repr, or, for one value per row (an array, a Series), their count."""
    if isinstance(value, (np.ndarray, pd.Series)):
        return f"<{len(value):,} values, one per row>"
    return repr(value)


@dataclass(frozen=True)
class Query:
    """A validated query: interventions ``do`` and evidence ``given`` (plain dicts, known variables, disjoint)."""

    do: dict[str, Any] = field(default_factory=dict)
    given: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``do(A=1), Z=2``: the query's conditions, readable."""
        return ", ".join([f"do({k}={describe_value(v)})" for k, v in self.do.items()]
                         + [f"{k}={describe_value(v)}" for k, v in self.given.items()])


class QueryPlanner:
    """Validates queries and builds sampling plans for one tokenizer (its graph, order and codecs).

    Args:
        tokenizer: the engine's tokenizer.
        context_variables: variables trained as context only: a query must give them.
        out_of_range: ``"warn"`` (default), ``"raise"`` or ``"ignore"`` a numeric value outside the range seen
            in training (:meth:`check_range`).
    """

    def __init__(
        self, tokenizer: CausalSequenceTokenizer, context_variables: Sequence[str] = (), out_of_range: str = "warn"
    ) -> None:
        if out_of_range not in OUT_OF_RANGE_ACTIONS:
            raise ValueError(f"out_of_range must be one of {OUT_OF_RANGE_ACTIONS}, got {out_of_range!r}")
        self.tokenizer = tokenizer
        self.context_variables = tuple(context_variables)
        self.out_of_range = out_of_range

    @property
    def graph(self) -> CausalGraph:
        """The causal graph."""
        return self.tokenizer.graph

    @property
    def order(self) -> list[str]:
        """The variables in topological (sequence) order."""
        return self.tokenizer.order

    # -- validation (once, at the public API) -----------------------------------------------------------

    def check_names(self, names: Sequence[str], role: str) -> None:
        """Raise ``ValueError`` naming the first unknown variable."""
        for n in names:
            if n not in self.graph:
                raise ValueError(f"{role}: unknown variable {n!r}; known: {self.order}")

    def query(self, do: Mapping[str, Any] | None = None, given: Mapping[str, Any] | None = None) -> Query:
        """Check ``do`` and ``given`` and return them as a :class:`Query`."""
        checked = {}
        for role, value in (("do", do), ("given", given)):
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise TypeError(f"{role} must be a mapping {{variable: value}}, got {type(value).__name__}")
            self.check_names(list(value), role)
            checked[role] = dict(value)
        both = set(checked["do"]) & set(checked["given"])
        if both:
            raise ValueError(f"variables {sorted(both)} are both intervened on and conditioned on")
        for role in ("do", "given"):
            for name, value in checked[role].items():
                self.check_range(role, name, value)
        return Query(checked["do"], checked["given"])

    def check_range(self, role: str, name: str, value: Any) -> None:
        """Warn about (or, with ``out_of_range="raise"``, refuse) numeric values of ``name`` outside the range
        seen in training; ``value`` is one value or, as in :meth:`is_per_row`, one per row."""
        codec = self.tokenizer.codecs[name]
        if self.out_of_range == "ignore" or codec.partial_positions(value):
            return
        note = codec.out_of_range(list(value) if self.is_per_row(name, value) else [value])
        if note is None:
            return
        message = f"{role} {name!r}: {note}"
        if self.out_of_range == "raise":
            raise ValueError(message)
        warnings.warn(message, OutOfRangeWarning, stacklevel=4)

    def is_per_row(self, name: str, value: Any) -> bool:
        """Whether ``value`` holds one value per row (a Series, an array, or a list unless a list is one value)."""
        return isinstance(value, (pd.Series, np.ndarray)) or (
            isinstance(value, list) and not self.tokenizer.codecs[name].list_is_one_value
        )

    # -- plans --------------------------------------------------------------------------------------------

    def value_plan(self, name: str, value: Any, n: int, per_row: bool) -> VariablePlan:
        """The plan that clamps ``name`` to ``value`` (or fixes some positions of a sequence)."""
        codec = self.tokenizer.codecs[name]
        if codec.partial_positions(value):
            fixed = {}
            for pos, element in value.items():
                if not isinstance(pos, (int, np.integer)) or pos < 0 or pos >= codec.max_length:
                    raise ValueError(f"{name!r}: partial intervention positions must be ints in [0, {codec.max_length})")
                fixed[int(pos)] = self.tokenizer.element_token_id(name, element)
            return VariablePlan(name, fixed_positions=fixed)
        if per_row:
            values = list(value)
            if len(values) != n:
                raise ValueError(f"{name!r}: got {len(values)} per-row values for n={n}")
            return VariablePlan(name, clamp=self.tokenizer.encode_column(name, values))
        return VariablePlan(name, clamp=[self.tokenizer.encode_value(name, value)])

    def plans(
        self,
        query: Query,
        n: int,
        targets: Sequence[str],
        clamp_ids: Mapping[str, list[list[int]]] | None = None,
    ) -> list[VariablePlan]:
        """One plan per variable up to the last one needed for ``targets`` (and the evidence).

        Args:
            query: the validated query.
            n: rows to sample.
            targets: variables the caller needs (their ancestors in the intervened graph are generated too).
            clamp_ids: token ids to clamp per variable (e.g. a prefix shared between two arms).
        """
        self.check_names(list(targets), "target")
        do, given = query.do, query.given
        partial = {k for k, v in do.items() if self.tokenizer.codecs[k].partial_positions(v)}
        cut = set(do) - partial
        clamp_ids = dict(clamp_ids or {})
        fixed = cut | set(given) | set(clamp_ids)
        for g in given:
            missing = self.graph.ancestors(g, intervened=cut) - fixed
            if missing:
                raise ValueError(
                    f"conditioning on {g!r} needs its ancestors {sorted(missing)} fixed too (given= or do=): "
                    "the engine conditions by clamping tokens, which is exact only for evidence that is "
                    "closed under ancestors in the intervened graph; posterior inference over upstream "
                    "variables (e.g. conditioning on a descendant of the treatment alone) is not supported"
                )
        wanted = set(targets) | set(given) | set(clamp_ids)
        needed = wanted | self.graph.ancestors(wanted, intervened=cut)
        last = max(self.order.index(v) for v in needed)
        plans = []
        for name in self.order[: last + 1]:
            if name in clamp_ids:
                plans.append(VariablePlan(name, clamp=clamp_ids[name]))
            elif name in do:
                plans.append(self.value_plan(name, do[name], n, per_row=False))
            elif name in given:
                plans.append(self.value_plan(name, given[name], n, per_row=self.is_per_row(name, given[name])))
            elif name in self.context_variables:
                raise ValueError(
                    f"{name!r} was trained as a context variable (no model of its values): give it with given= "
                    "(per-row values), or use att(..., data=) for the effect on the treated"
                )
            else:
                plans.append(VariablePlan(name))
        return plans

    def verbatim_values(self, query: Query, n: int) -> dict[str, list[Any]]:
        """Per-row clamped values of variables that do not decode exactly (binned numbers), reported as given."""
        out = {}
        for k, v in {**query.given, **query.do}.items():
            if self.tokenizer.codecs[k].decodes_exactly:
                continue
            out[k] = list(v) if isinstance(v, (pd.Series, np.ndarray, list)) else [v] * n
        return out

    def scoring_plans(self, query: Query, target: str) -> tuple[list[VariablePlan], int]:
        """Clamped plans of every variable before ``target`` and the number of rows they define (exact
        probabilities need every earlier variable fixed and a one-token target)."""
        self.check_names([target], "target")
        codec = self.tokenizer.codecs[target]
        if not codec.single_token:
            raise ValueError(
                f"{target!r} is a {codec.kind} variable; exact probabilities need a categorical or binned "
                "continuous (quantile codec) target: use sample() for the others"
            )
        lengths = {len(v) for k, v in query.given.items() if self.is_per_row(k, v)}
        if len(lengths) > 1:
            raise ValueError(f"per-row given= values have different lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 1
        if target in query.do or target in query.given:
            raise ValueError(f"{target!r} is both the target and fixed by do=/given=")
        before = self.order[: self.order.index(target)]
        loose = [v for v in before if v not in query.do and v not in query.given]
        if loose:
            raise ValueError(
                f"exact probabilities of {target!r} need every variable before it in the order "
                f"({before}) fixed by given= or do=; {loose} are not: use sample() to marginalise them"
            )
        plans = self.plans(query, n, [target])[:-1]
        if any(p.fixed_positions for p in plans):
            raise ValueError("partial interventions are not supported here: use sample()")
        return plans, n
