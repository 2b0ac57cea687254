"""Exact answers from the model by enumeration, with no Monte-Carlo error (docs/design.md §7.4, §7.6).

When every variable the sampler would draw before the target takes one token (categorical, binary, or a
quantile-binned number) and the target is numeric and one token, ``E[target | do(...), given]`` is a finite sum
over the configurations of those free variables:

    E = sum_c  prod_j p(x_j = c_j | x_<j)  *  sum_k p(target = k | c) * value_k

with every factor read off the model's conditional (the softmax restricted to the variable's own value tokens,
as the sampler draws it). All configurations are scored in batched forward passes, one sequence each. The cost
is the support size (the product of the free variables' numbers of values), so the engine switches to this path
only below :data:`DEFAULT_MAX_SUPPORT` configurations; above it, and for free sequence, text or digit-coded
variables, per-row evidence or a bidirectional text block, it samples.

The same scoring tabulates the conditionals themselves (:func:`conditional_tables`): drawing rows from those
tables is sampling from the model without running it per row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .planning import VariablePlan
from .tokenization_causal import CausalSequenceTokenizer

#: Largest number of configurations enumerated by default (``CausalEngine.max_exact_support``).
DEFAULT_MAX_SUPPORT = 65_536
#: Logits held at once (configurations x positions x vocabulary) while scoring.
MAX_LOGITS = 50_000_000
#: Rows drawn at once from a conditional table (bounds the comparison matrix).
SAMPLE_CHUNK = 65_536
#: Queries whose tables need at most this many sequences are drawn from tables even for few rows.
TABULATE_ALWAYS = 4096
#: Seeds the table draws' generator apart from the dequantising one (``[seed, TABLE_STREAM]``).
TABLE_STREAM = 7


def _free_sizes(tokenizer: CausalSequenceTokenizer, plans: Sequence[VariablePlan]) -> list[int] | None:
    """Numbers of values of the free (sampled) variables of ``plans`` in order, or ``None`` when one is not one
    token, a clamp varies per row or a sequence is partially fixed."""
    sizes = []
    for plan in plans:
        if plan.fixed_positions or (plan.clamp is not None and len(plan.clamp) != 1):
            return None
        if plan.clamp is None:
            codec = tokenizer.codecs[plan.name]
            if not codec.single_token:
                return None
            sizes.append(codec.size)
    return sizes


def enumeration_support(tokenizer: CausalSequenceTokenizer, plans: Sequence[VariablePlan], target: str) -> int | None:
    """Configurations of the free variables before ``target`` in ``plans``, or ``None`` when the query cannot be
    enumerated (a free variable or the target is not one token, evidence varies per row, or a partial
    intervention)."""
    target_codec = tokenizer.codecs[target]
    if not target_codec.single_token or target_codec.non_numeric_reason() is not None:
        return None
    sizes = _free_sizes(tokenizer, [p for p in plans if p.name != target])
    return None if sizes is None else math.prod(sizes)  # Python ints: 20 binned variables overflow int64


class _Layout:
    """The token layout shared by every configuration of a query's free variables up to ``upto``: ``<bos>``,
    then each variable's start token (none in the compact layout) and value tokens (clamped values fixed, free
    ones filled per configuration), then ``upto``'s start token: the last column's logits give ``upto``'s
    conditional, and those of the column before a free value its own."""

    def __init__(self, tokenizer: CausalSequenceTokenizer, plans: Sequence[VariablePlan], upto: str) -> None:
        columns: list[int] = [tokenizer.bos_token_id]
        self.free: list[VariablePlan] = []
        self.positions: list[int] = []  # column of each free variable's value token
        for plan in plans:
            if plan.name == upto:
                break
            columns.extend(tokenizer.lead_ids(plan.name))
            if plan.clamp is None:
                self.free.append(plan)
                self.positions.append(len(columns))
                columns.append(-1)
            else:
                columns.extend(int(i) for i in plan.clamp[0])
        columns.extend(tokenizer.lead_ids(upto))
        self.template = np.array(columns, dtype=np.int64)
        self.values = [np.asarray(tokenizer.allowed_ids(p.name, 0), dtype=np.int64) for p in self.free]
        self.sizes = [len(v) for v in self.values]
        self.support = math.prod(self.sizes)

    def ids(self, index: np.ndarray) -> np.ndarray:
        """Token ids of the configurations ``index`` (row-major over the free variables, the first slowest)."""
        ids = np.tile(self.template, (len(index), 1))
        digits = np.unravel_index(index, self.sizes) if self.sizes else ()
        for column, local, values in zip(self.positions, digits, self.values):
            ids[:, column] = values[local]
        return ids

    def batch_size(self, model: torch.nn.Module, batch_size: int) -> int:
        vocab = int(getattr(model.config, "vocab_size", 1) or 1)
        return max(1, min(batch_size, MAX_LOGITS // (len(self.template) * vocab)))  # a backbone's vocabulary is large


def _restricted_log_softmax(logits: torch.Tensor, allowed: np.ndarray) -> torch.Tensor:
    """``log p`` over ``allowed`` ids: the softmax restricted to a variable's value tokens, as the sampler draws."""
    return torch.log_softmax(logits[..., torch.as_tensor(allowed, device=logits.device)].double(), dim=-1)


def _logits(model: torch.nn.Module, ids: np.ndarray, device: torch.device) -> torch.Tensor:
    input_ids = torch.as_tensor(ids, device=device)
    return model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits


@torch.inference_mode()
def exact_mean(
    model: torch.nn.Module,
    tokenizer: CausalSequenceTokenizer,
    plans: Sequence[VariablePlan],
    target: str,
    batch_size: int = 4096,
) -> float:
    """``E[target | plans]`` by enumeration (module docstring); ``plans`` are the query's plans up to ``target``."""
    layout = _Layout(tokenizer, plans, target)
    device = next(model.parameters()).device
    target_ids = np.asarray(tokenizer.allowed_ids(target, 0))
    scores = torch.as_tensor(np.asarray(tokenizer.codecs[target].score_columns(), dtype=np.float64), device=device)
    step = layout.batch_size(model, batch_size)
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for start in range(0, layout.support, step):
            index = np.arange(start, min(layout.support, start + step))
            ids = layout.ids(index)
            logits = _logits(model, ids, device)
            log_p = torch.zeros(len(index), dtype=torch.float64, device=device)
            for column, values in zip(layout.positions, layout.values):
                restricted = _restricted_log_softmax(logits[:, column - 1], values)
                chosen = torch.as_tensor(np.searchsorted(values, ids[:, column]), device=device)  # sorted ids
                log_p = log_p + restricted.gather(1, chosen[:, None]).squeeze(1)
            outcome = torch.exp(_restricted_log_softmax(logits[:, -1], target_ids)) @ scores
            total += float((torch.exp(log_p) * outcome).sum())
    finally:
        model.train(was_training)
    return total


def tabulation_size(tokenizer: CausalSequenceTokenizer, plans: Sequence[VariablePlan]) -> int | None:
    """Sequences :func:`conditional_tables` scores for ``plans`` (one per configuration of the free variables before
    each free variable), or ``None`` when a free variable is not one token or a clamp varies per row."""
    sizes = _free_sizes(tokenizer, plans)
    if sizes is None:
        return None
    return sum(math.prod(sizes[:j]) for j in range(len(sizes)))


@dataclass
class ConditionalTables:
    """The model's conditionals of a query's free (sampled) variables, tabulated.

    Attributes:
        names: the free variables in order.
        values: each one's global value ids (the columns of its table).
        tables: ``tables[j]`` is ``(prod(sizes[:j]), sizes[j])``: ``p(x_j | earlier free values)``, rows indexed
            row-major by the earlier free variables' local values (the first slowest).
    """

    names: list[str]
    values: list[np.ndarray]
    tables: list[np.ndarray]

    def sample(
        self, n: int, rng: np.random.Generator, fixed: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """``n`` ancestral draws: each free variable's global ids, ``(n, 1)`` int64.

        ``fixed``: global ids ``(n, 1)`` (or ``(n,)``) to take as already drawn for some free variables, e.g. the
        confounders shared by the two arms of a paired effect; the later variables are drawn given them."""
        fixed = dict(fixed or {})
        out: dict[str, np.ndarray] = {}
        row = np.zeros(n, dtype=np.int64)
        for name, values, table in zip(self.names, self.values, self.tables):
            if name in fixed:
                local = np.searchsorted(values, np.asarray(fixed[name]).reshape(n))
            else:
                local = np.empty(n, dtype=np.int64)
                cdf = np.cumsum(table, axis=1)
                for start in range(0, n, SAMPLE_CHUNK):  # bounded memory: (chunk, values) comparisons at a time
                    rows = row[start : start + SAMPLE_CHUNK]
                    u = rng.random(len(rows)) * cdf[rows, -1]  # scaled by each row's total: no draw past the end
                    local[start : start + SAMPLE_CHUNK] = (u[:, None] >= cdf[rows]).sum(1)
                local = np.minimum(local, len(values) - 1)
            out[name] = values[local][:, None]
            row = row * len(values) + local
        return out


@torch.inference_mode()
def conditional_tables(
    model: torch.nn.Module, tokenizer: CausalSequenceTokenizer, plans: Sequence[VariablePlan], batch_size: int = 4096
) -> ConditionalTables:
    """Score every configuration of the free variables before each free variable of ``plans`` (see
    :func:`tabulation_size`) and return the model's conditionals as :class:`ConditionalTables`."""
    device = next(model.parameters()).device
    names, values, tables = [], [], []
    was_training = model.training
    model.eval()
    try:
        for plan in plans:
            if plan.clamp is not None:
                continue
            layout = _Layout(tokenizer, plans, plan.name)
            allowed = np.asarray(tokenizer.allowed_ids(plan.name, 0), dtype=np.int64)
            step = layout.batch_size(model, batch_size)
            parts = []
            for start in range(0, layout.support, step):
                ids = layout.ids(np.arange(start, min(layout.support, start + step)))
                logits = _logits(model, ids, device)[:, -1]
                parts.append(torch.exp(_restricted_log_softmax(logits, allowed)).cpu().numpy())
            names.append(plan.name)
            values.append(allowed)
            tables.append(np.concatenate(parts, axis=0))
    finally:
        model.train(was_training)
    return ConditionalTables(names, values, tables)
