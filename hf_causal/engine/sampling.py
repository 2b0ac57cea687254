"""Batched, KV-cached, constrained ancestral sampling of causal token sequences.

A query is a *plan*: the variables to walk through in topological order, each either sampled,
clamped to given tokens (``do()`` values and conditioning evidence), or partially fixed
(a sequence variable with some positions intervened on). All rows of a batch advance in
lockstep; rows whose variable-length value has already ended feed padding tokens that are
masked out of attention and do not advance their position ids, so every row sees exactly the
positions it saw in training.

Only the tokens valid for the current variable and position are ever sampled (constrained
decoding). Tokens that need no logits (start tokens, clamped values) are buffered and fed to
the model together with the next sampled token, so a tabular row under ``do()`` costs one
forward call per *sampled* variable.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import DynamicCache, PreTrainedModel

from .modeling_causal_ar import output_cache
from .planning import VariablePlan
from .tokenization_causal import CausalSequenceTokenizer


def _copy_cache(cache: DynamicCache) -> DynamicCache:
    """An independent copy of a sampling stream's KV cache."""
    return DynamicCache(ddp_cache_data=[(layer.keys, layer.values) for layer in cache.layers])


class _Stream:
    """The batch's token stream: a KV cache, per-row position ids and a buffer of unfed tokens."""

    def __init__(self, model: PreTrainedModel, batch: int, device: torch.device, pad_id: int) -> None:
        self.model, self.batch, self.device, self.pad_id = model, batch, device, pad_id
        self.cache = DynamicCache()
        self.mask = torch.zeros(batch, 0, dtype=torch.long, device=device)
        self.position = torch.zeros(batch, dtype=torch.long, device=device)
        self.pending: list[tuple[torch.Tensor, torch.Tensor, bool]] = []
        has_linear_head = getattr(model, "has_linear_head", None)
        self.linear_head = bool(has_linear_head()) if has_linear_head is not None else False
        # each row's last hidden state (linear head) or full logits after its last real token
        self.state: torch.Tensor | None = None

    def push(self, tokens: torch.Tensor, valid: torch.Tensor | None = None, prefix: bool = False) -> None:
        """Queue ``tokens`` ``[batch, k]``; ``valid`` marks real tokens (others are padding). ``prefix`` tokens
        form the bidirectional prefix block (``CausalARModel.forward``'s ``prefix_mask``), which must be fed in
        the first chunk: tokens already in the cache cannot see later ones."""
        if tokens.dim() == 1:
            tokens = tokens[:, None]
        if valid is None:
            valid = torch.ones_like(tokens)
        elif valid.dim() == 1:
            valid = valid[:, None]
        if prefix and self.mask.size(1) > 0:
            raise RuntimeError("the bidirectional prefix must be fed before any other token")
        self.pending.append((tokens.to(self.device), valid.to(self.device).long(), prefix))

    @torch.inference_mode()
    def fork(self) -> _Stream:
        """An independent copy of the stream: both continue from here. Queued tokens are fed first, so that they
        are computed once for both; the KV cache is then copied once."""
        if self.pending:
            self._feed()
        twin = _Stream.__new__(_Stream)
        twin.__dict__.update(self.__dict__)
        twin.cache = _copy_cache(self.cache)
        twin.pending = []
        summary = getattr(self.model, "_summary_states", None)  # a text summary head's running sums (per cache)
        if summary is not None and self.cache in summary:
            summary[twin.cache] = summary[self.cache]
        return twin

    @torch.inference_mode()
    def next_logits(self, token_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Feed the queued tokens; return each row's logits after its last real token, of ``token_ids`` only
        (``(batch, len(token_ids))``, float) or of the whole vocabulary (``None``).

        With a linear LM head (``CausalARModel.has_linear_head``) the stream keeps each row's last hidden state
        and computes only the logits asked for: a step draws among one variable's few value tokens, so the
        full head would spend most of its work on logits that are thrown away."""
        if self.pending:
            self._feed()
        if self.state is None:
            raise RuntimeError("no tokens fed yet")
        if self.linear_head:
            head = self.model.get_output_embeddings()
            if token_ids is None:
                return head(self.state).float()
            return self.model.token_logits(self.state, token_ids).float()
        return self.state if token_ids is None else self.state[:, token_ids]

    def _feed(self) -> None:
        """Run the queued tokens through the model in one chunk, extending the KV cache and each row's state."""
        tokens = torch.cat([t for t, _, _ in self.pending], dim=1)
        valid = torch.cat([v for _, v, _ in self.pending], dim=1)
        prefix = torch.cat([torch.full_like(v, int(p)) for _, v, p in self.pending], dim=1).bool() & valid.bool()
        self.pending = []
        tokens = torch.where(valid.bool(), tokens, torch.full_like(tokens, self.pad_id))
        positions = self.position[:, None] + valid.cumsum(1) - valid
        self.mask = torch.cat([self.mask, valid], dim=1)
        # the state after each row's last real token in this chunk; when that is the chunk's last column for every
        # row (the usual case), only that column's logits are computed (a pretrained backbone's vocabulary makes
        # full-chunk logits large)
        k = tokens.size(1)
        last = (valid * torch.arange(1, k + 1, device=self.device)).argmax(1)
        has = valid.sum(1) > 0
        only_last = bool(((last == k - 1) | ~has).all())
        inputs = {"input_ids": tokens, "attention_mask": self.mask, "position_ids": positions,
                  "past_key_values": self.cache, "use_cache": True,
                  "prefix_mask": prefix if bool(prefix.any()) else None}
        if self.linear_head:
            out, self.cache = self.model.hidden_states(**inputs)
        else:
            result = self.model(**inputs, logits_to_keep=1 if only_last else 0)
            self.cache = output_cache(result)
            out = result.logits
        self.position = self.position + valid.sum(1)
        rows = torch.arange(self.batch, device=self.device)
        new = out[:, -1] if only_last else out[rows, last]
        if not self.linear_head:  # float logits of the kept rows only (a backbone's vocabulary is large)
            new = new.float()
        self.state = new if self.state is None else torch.where(has[:, None], new, self.state)


def _draw(
    restricted: torch.Tensor, allowed: torch.Tensor, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """Sample one global id per row among the ``allowed`` ids (the variable's valid tokens here), given the
    logits ``restricted`` ``(batch, len(allowed))`` of those ids only.

    Gumbel-max: ``argmax(logit / T + Gumbel noise)`` is a draw from the softmax restricted to the allowed ids,
    without a softmax or a multinomial over the whole vocabulary."""
    if temperature <= 0:
        return allowed[restricted.argmax(-1)]
    # the generator lives on the model's device (see sample_tokens): no device round trip per token
    u = torch.rand(restricted.shape, generator=generator, device=restricted.device, dtype=restricted.dtype)
    gumbel = -torch.log(-torch.log(u.clamp_min(torch.finfo(u.dtype).tiny)))
    return allowed[(restricted / temperature + gumbel).argmax(-1)]


def _run_plans(
    stream: _Stream,
    tokenizer: CausalSequenceTokenizer,
    plans: Sequence[VariablePlan],
    rows: slice,
    generator: torch.Generator,
    temperature: float,
    prefix_variables: Collection[str],
    out: dict[str, np.ndarray | list[list[int]]],
) -> None:
    """Walk ``plans`` on ``stream`` (which already holds everything before them), writing each variable's ids to
    ``out``."""
    device, batch = stream.device, stream.batch
    for plan in plans:
        name, codec = plan.name, tokenizer.codecs[plan.name]
        in_prefix = name in prefix_variables
        for lead in tokenizer.lead_ids(name):  # its <start_VAR> (none in the compact layout)
            stream.push(torch.full((batch,), lead, dtype=torch.long), prefix=in_prefix)
        if plan.clamp is not None:
            tokens, valid, chosen = _clamped_tokens(tokenizer, plan, rows)
            stream.push(tokens, valid, prefix=in_prefix)
            out[name] = chosen
            continue
        end_id = tokenizer.end_token_id(name)
        min_length = max(plan.fixed_positions, default=-1) + 1
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        picked: list[torch.Tensor] = []
        for position in range(codec.length()):
            allowed_ids = tokenizer.allowed_ids(name, position)
            if end_id is not None and position < min_length:
                allowed_ids = allowed_ids[allowed_ids != end_id]
            if position in plan.fixed_positions:
                token = torch.full((batch,), plan.fixed_positions[position], dtype=torch.long, device=device)
            else:
                allowed = torch.as_tensor(allowed_ids, dtype=torch.long, device=device)
                token = _draw(stream.next_logits(allowed), allowed, temperature, generator)
            token = torch.where(done, torch.full_like(token, tokenizer.pad_token_id), token)
            picked.append(token)
            stream.push(token, ~done)
            if end_id is not None:
                done = done | (token == end_id)
                if bool(done.all()):
                    break
        mat = torch.stack(picked, dim=1).cpu().numpy()
        if end_id is None:  # fixed length: no padding to strip, the matrix is the answer
            out[name] = mat
        else:
            pad = tokenizer.pad_token_id
            out[name] = [[int(t) for t in row if t != pad] for row in mat]


def _sample_batch(
    model: PreTrainedModel,
    tokenizer: CausalSequenceTokenizer,
    arms: Sequence[Sequence[VariablePlan]],
    shared: int,
    rows: slice,
    generators: Sequence[torch.Generator],
    temperature: float,
    prefix_variables: Collection[str] = (),
) -> list[dict[str, np.ndarray | list[list[int]]]]:
    """One batch of every arm: the first arm walks its first ``shared`` plans, each arm then continues from a
    fork of that stream with its own plans and generator."""
    device = next(model.parameters()).device
    batch = rows.stop - rows.start
    stream = _Stream(model, batch, device, tokenizer.pad_token_id)
    stream.push(torch.full((batch,), tokenizer.bos_token_id, dtype=torch.long), prefix=bool(prefix_variables))
    common: dict[str, np.ndarray | list[list[int]]] = {}
    _run_plans(stream, tokenizer, arms[0][:shared], rows, generators[0], temperature, prefix_variables, common)
    outs = []
    for k, (plans, generator) in enumerate(zip(arms, generators)):
        out = dict(common)
        _run_plans(stream if k == len(arms) - 1 else stream.fork(), tokenizer, plans[shared:], rows, generator,
                   temperature, prefix_variables, out)
        outs.append(out)
    return outs


def sample_tokens(
    model: PreTrainedModel,
    tokenizer: CausalSequenceTokenizer,
    plans: Sequence[VariablePlan],
    n: int,
    *,
    batch_size: int = 4096,
    seed: int = 0,
    temperature: float = 1.0,
    progress: bool = False,
    prefix_variables: Collection[str] = (),
) -> dict[str, np.ndarray | list[list[int]]]:
    """Sample ``n`` rows following ``plans``; returns each variable's global ids per row: an ``(n, length)``
    array for a fixed-length value (one-token variables, digits), one list per row for a variable-length one.

    ``prefix_variables``: clamped variables that, with ``<bos>``, form the model's bidirectional prefix block
    (they must come first in the order; see ``CausalARModel.forward``)."""
    return sample_arms(model, tokenizer, [plans], 0, n, batch_size=batch_size, seeds=[seed], temperature=temperature,
                       progress=progress, prefix_variables=prefix_variables)[0]


def sample_arms(
    model: PreTrainedModel,
    tokenizer: CausalSequenceTokenizer,
    arms: Sequence[Sequence[VariablePlan]],
    shared: int,
    n: int,
    *,
    batch_size: int = 4096,
    seeds: Sequence[int],
    temperature: float = 1.0,
    progress: bool = False,
    prefix_variables: Collection[str] = (),
) -> list[dict[str, np.ndarray | list[list[int]]]]:
    """:func:`sample_tokens` for several arms (e.g. the two ``do()`` values of an effect) whose first ``shared``
    plans are the same: those variables are drawn once per row (by the first arm's generator) and every arm
    continues from them, each with its own generator (``seeds``, one per arm).

    The result per arm is what :func:`sample_tokens` gives for that arm with the shared variables clamped to the
    first arm's draws; the shared prefix is fed to the model once per batch and its KV cache forked, where a
    clamped replay would feed it again for every other arm.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if len(seeds) != len(arms) or not arms:
        raise ValueError(f"expected one seed per arm, got {len(seeds)} seeds for {len(arms)} arms")
    if any([p.name for p in plans[:shared]] != [p.name for p in arms[0][:shared]] for plans in arms):
        raise ValueError("the arms must share their first plans")
    for plan in (p for plans in arms for p in plans):
        if plan.clamp is not None and len(plan.clamp) not in (1, n):
            raise ValueError(f"clamp of {plan.name!r} has {len(plan.clamp)} rows; expected 1 or {n}")
    # a generator on the model's device keeps sampling there, with no device round trip per token
    device = next(model.parameters()).device
    generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
    was_training = model.training
    model.eval()
    parts: list[dict[str, list]] = [{p.name: [] for p in plans} for plans in arms]
    try:
        starts = range(0, n, batch_size)
        for start in tqdm(starts, desc="sampling", unit="batch", disable=not progress or len(starts) < 2):
            outs = _sample_batch(
                model, tokenizer, arms, shared, slice(start, min(n, start + batch_size)), generators, temperature,
                prefix_variables,
            )
            for arm_parts, out in zip(parts, outs):
                for name, ids in out.items():
                    arm_parts[name].append(ids)
    finally:
        model.train(was_training)
    return [{name: join_rows(chunks) for name, chunks in arm_parts.items()} for arm_parts in parts]


def join_rows(chunks: Sequence[np.ndarray | list[list[int]]]) -> np.ndarray | list[list[int]]:
    """Concatenate per-batch id rows: arrays stay one array (fixed-length values), lists one list."""
    if all(isinstance(c, np.ndarray) for c in chunks):
        return np.concatenate(chunks, axis=0)
    return [list(r) for c in chunks for r in c]


def repeat_rows(ids: np.ndarray | Sequence[Sequence[int]], n: int) -> np.ndarray | list[list[int]]:
    """A single row of ids repeated ``n`` times (rows already ``n`` long are returned as they are)."""
    if len(ids) == n:
        return ids
    if len(ids) != 1:
        raise ValueError(f"expected 1 or {n} rows of ids, got {len(ids)}")
    if isinstance(ids, np.ndarray):
        return np.repeat(ids, n, axis=0)
    return [list(ids[0])] * n


@torch.inference_mode()
def next_value_probabilities(
    model: PreTrainedModel,
    tokenizer: CausalSequenceTokenizer,
    prefix: Sequence[VariablePlan],
    target: str,
    n: int,
    *,
    batch_size: int = 4096,
    progress: bool = False,
    prefix_variables: Collection[str] = (),
) -> np.ndarray:
    """Exact ``p(target | prefix)`` per row for a single-token ``target`` (one forward pass, no sampling).

    Every plan in ``prefix`` must be clamped (the variables before ``target`` in the order, each fixed by
    ``do()`` or evidence). Returns an ``(n, k)`` array over the target's ``k`` local values.
    ``prefix_variables``: as in :func:`sample_tokens`.
    """
    if any(p.clamp is None for p in prefix):
        raise ValueError("every variable before the target must be clamped")
    local_ids = torch.as_tensor(np.asarray(tokenizer.allowed_ids(target, 0)), dtype=torch.long)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        starts = range(0, n, batch_size)
        for start in tqdm(starts, desc="scoring", unit="batch", disable=not progress or len(starts) < 2):
            rows = slice(start, min(n, start + batch_size))
            batch = rows.stop - rows.start
            stream = _Stream(model, batch, device, tokenizer.pad_token_id)
            stream.push(torch.full((batch,), tokenizer.bos_token_id, dtype=torch.long), prefix=bool(prefix_variables))
            for plan in prefix:
                in_prefix = plan.name in prefix_variables
                for lead in tokenizer.lead_ids(plan.name):
                    stream.push(torch.full((batch,), lead, dtype=torch.long), prefix=in_prefix)
                tokens, valid, _ = _clamped_tokens(tokenizer, plan, rows)
                stream.push(tokens, valid, prefix=in_prefix)
            for lead in tokenizer.lead_ids(target):
                stream.push(torch.full((batch,), lead, dtype=torch.long))
            logits = stream.next_logits(local_ids.to(device))
            out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out, axis=0).astype(np.float64)


def _clamped_tokens(
    tokenizer: CausalSequenceTokenizer, plan: VariablePlan, rows: slice
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray | list[list[int]]]:
    """Right-padded ``(tokens, valid)`` of a clamped plan's value ids for ``rows``, and the ids themselves."""
    batch = rows.stop - rows.start
    if len(plan.clamp) == 1:  # one clamp for every row (a do() value): broadcast, no per-row loop
        shared = np.asarray(plan.clamp[0], dtype=np.int64).reshape(1, -1)
        chosen = np.repeat(shared, batch, axis=0)
        ids = torch.from_numpy(chosen.copy())
        return ids, torch.ones_like(ids), chosen
    if isinstance(plan.clamp, np.ndarray):  # per-row ids of a fixed-length value
        chosen = np.asarray(plan.clamp[rows], dtype=np.int64)
        ids = torch.from_numpy(chosen.copy())
        return ids, torch.ones_like(ids), chosen
    chosen_rows = [list(plan.clamp[i]) for i in range(rows.start, rows.stop)]
    width = max(len(c) for c in chosen_rows)
    tokens = torch.full((batch, width), tokenizer.pad_token_id, dtype=torch.long)
    valid = torch.zeros((batch, width), dtype=torch.long)
    for i, c in enumerate(chosen_rows):
        tokens[i, : len(c)] = torch.tensor(c, dtype=torch.long)
        valid[i, : len(c)] = 1
    return tokens, valid, chosen_rows


def decode_samples(
    tokenizer: CausalSequenceTokenizer,
    samples: Mapping[str, np.ndarray | list[list[int]]],
    rng: np.random.Generator,
    exact: dict[str, list[object]] | None = None,
) -> pd.DataFrame:
    """Turn sampled ids into a DataFrame in the original value space.

    Args:
        exact: per-row values to report verbatim for clamped variables (``do()`` values of
            continuous variables would otherwise come back dequantised).
    """
    exact = exact or {}
    columns: dict[str, object] = {}
    for name in tokenizer.order:
        if name not in samples:
            continue
        if name in exact:
            columns[name] = exact[name]
            continue
        codec, ids = tokenizer.codecs[name], samples[name]
        values = None
        if codec.single_token:
            if isinstance(ids, np.ndarray):
                first = ids[:, 0].astype(np.int64)
            else:
                first = np.fromiter((r[0] for r in ids), dtype=np.int64, count=len(ids))
            values = codec.decode_many(first - tokenizer.offsets[name], rng)
        columns[name] = values if values is not None else [tokenizer.decode_value(name, r, rng) for r in ids]
    return pd.DataFrame(columns)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (``None``: leave torch's setting), then restore.

    Tiny models gain nothing from many threads, and on a shared or oversubscribed machine several
    threads can make each step many times slower.
    """
    if n is None:
        yield
        return
    if n <= 0:
        raise ValueError(f"num_threads must be positive, got {n}")
    saved = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(saved)
