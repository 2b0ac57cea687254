"""Exact interventional expectations by enumeration, with no Monte-Carlo error (docs/design.md §7.6).

When every variable the sampler would draw before the target takes one token (categorical, binary, or a
quantile-binned number) and the target is numeric and one token, ``E[target | do(...), given]`` is a finite sum
over the configurations of those free variables:

    E = sum_c  prod_j p(x_j = c_j | x_<j)  *  sum_k p(target = k | c) * value_k

with every factor read off the model's conditional (the softmax restricted to the variable's own value tokens,
as the sampler draws it). All configurations are scored in batched forward passes, one sequence each. The cost
is the support size (the product of the free variables' numbers of values), so the engine switches to this path
only below :data:`DEFAULT_MAX_SUPPORT` configurations; above it, and for free sequence, text or digit-coded
variables, per-row evidence or a bidirectional text block, it samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .planning import VariablePlan
from .tokenization_causal import CausalSequenceTokenizer

#: Largest number of configurations enumerated by default (``CausalEngine.max_exact_support``).
DEFAULT_MAX_SUPPORT = 65_536
#: Logits held at once (configurations x positions x vocabulary) while scoring.
MAX_LOGITS = 50_000_000


def enumeration_support(tokenizer: CausalSequenceTokenizer, plans: Sequence[VariablePlan], target: str) -> int | None:
    """Configurations of the free variables before ``target`` in ``plans``, or ``None`` when the query cannot be
    enumerated (a free variable or the target is not one token, evidence varies per row, or a partial
    intervention)."""
    target_codec = tokenizer.codecs[target]
    if not target_codec.single_token or target_codec.non_numeric_reason() is not None:
        return None
    support = 1
    for plan in plans:
        if plan.name == target:
            continue
        if plan.fixed_positions:
            return None
        if plan.clamp is None:
            codec = tokenizer.codecs[plan.name]
            if not codec.single_token:
                return None
            support *= codec.size
        elif len(plan.clamp) != 1:
            return None
    return support


@torch.inference_mode()
def exact_mean(
    model: torch.nn.Module,
    tokenizer: CausalSequenceTokenizer,
    plans: Sequence[VariablePlan],
    target: str,
    batch_size: int = 4096,
) -> float:
    """``E[target | plans]`` by enumeration (module docstring); ``plans`` are the query's plans up to ``target``."""
    free = [p for p in plans if p.name != target and p.clamp is None]
    device = next(model.parameters()).device
    # token layout, the same for every configuration: <bos>, then <start_v> and v's value tokens, then <start_target>
    columns: list[np.ndarray | int] = [tokenizer.bos_token_id]
    free_position: dict[str, int] = {}
    for plan in plans:
        if plan.name == target:
            break
        columns.append(tokenizer.start_ids[plan.name])
        if plan.clamp is None:
            free_position[plan.name] = len(columns)
            columns.append(-1)  # filled per configuration
        else:
            columns.extend(int(i) for i in plan.clamp[0])
    columns.append(tokenizer.start_ids[target])
    template = np.array(columns, dtype=np.int64)
    values = [np.asarray(tokenizer.allowed_ids(p.name, 0), dtype=np.int64) for p in free]
    sizes = [len(v) for v in values]
    support = int(np.prod(sizes)) if sizes else 1
    target_ids = torch.as_tensor(np.asarray(tokenizer.allowed_ids(target, 0)), dtype=torch.long, device=device)
    scores = torch.as_tensor(np.asarray(tokenizer.codecs[target].score_columns(), dtype=np.float64), device=device)
    vocab = int(getattr(model.config, "vocab_size", 1) or 1)
    batch_size = max(1, min(batch_size, MAX_LOGITS // (len(template) * vocab)))  # a backbone's vocabulary is large
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for start in range(0, support, batch_size):
            index = np.arange(start, min(support, start + batch_size))
            ids = np.tile(template, (len(index), 1))
            digits = np.unravel_index(index, sizes) if sizes else ()
            for plan, local, vals in zip(free, digits, values):
                ids[:, free_position[plan.name]] = vals[local]
            input_ids = torch.as_tensor(ids, device=device)
            logits = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits.double()
            log_p = torch.zeros(len(index), dtype=torch.float64, device=device)
            for plan, vals in zip(free, values):
                pos = free_position[plan.name]
                allowed = torch.as_tensor(vals, device=device)
                restricted = torch.log_softmax(logits[:, pos - 1, allowed], dim=-1)
                chosen = torch.searchsorted(allowed, input_ids[:, pos].contiguous())  # sorted within a variable
                log_p = log_p + restricted.gather(1, chosen[:, None]).squeeze(1)
            outcome = torch.softmax(logits[:, -1, target_ids], dim=-1) @ scores
            total += float((torch.exp(log_p) * outcome).sum())
    finally:
        model.train(was_training)
    return total
