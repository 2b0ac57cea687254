"""Memory-linear softmax attention that also returns the row log-normalisers.

CInA needs two things from one attention pass: the attention output ``out = softmax(S) V`` and
``log h = logsumexp(S)`` (the per-unit factor of the implied balancing kernel, docs/design.md §2).
SDPA kernels return no log-normaliser and the eager path materialises an N x N matrix, so this
module computes both in row chunks and recomputes the chunks in the backward pass (the
FlashAttention trick). Peak memory is ``O(chunk_size * M)`` instead of ``O(N * M)``.

On CPU the forward pass also tiles the keys (blocks of ``CPU_KEY_BLOCK``, combined with an online
softmax: running max and sum), so that a tile of scores and its key/value block stay in cache. With
row chunks alone, a cache-sized chunk at N = 100,000 has 10 rows and every chunk streams all N keys
and values from memory again, so the time grew faster than quadratically in N (``benchmarks/scale_benchmark.py``
measures it). See docs/design.md §3.4. :func:`landmark_indices` draws the landmark units of §3.5 and §5.1.
"""

from __future__ import annotations

import torch

DEFAULT_CHUNK_ELEMENTS = 2**24  # ~64 MB of float32 scores per chunk
CPU_CHUNK_ELEMENTS = 2**20  # cap on CPU, see _effective_chunk
CPU_KEY_BLOCK = 2048  # keys per tile in the CPU forward pass (more keys than this are tiled)


def _chunk_rows(n_rows: int, n_keys: int, batch: int, chunk_elements: int) -> int:
    return max(1, min(n_rows, chunk_elements // max(1, n_keys * batch)))


def _effective_chunk(chunk_elements: int, device: torch.device) -> int:
    # On CPU the chunk loop is memory-bound: a chunk that stays in cache is several times faster than a 64 MB one
    # (measured at N = 10,000 on 2 cores). GPUs prefer few large chunks, so only CPU is capped.
    return min(chunk_elements, CPU_CHUNK_ELEMENTS) if device.type == "cpu" else chunk_elements


def _scores(q: torch.Tensor, k: torch.Tensor, scale: float, key_bias: torch.Tensor | None) -> torch.Tensor:
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if key_bias is not None:
        s = s + key_bias.unsqueeze(-2)
    return s


class _ChunkedAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, key_bias, scale, chunk_elements):  # type: ignore[override]
        batch, n_rows, _ = q.shape
        n_keys = k.shape[-2]
        step = _chunk_rows(n_rows, n_keys, batch, _effective_chunk(chunk_elements, q.device))
        ctx.scale = scale
        ctx.step = step
        # one key block (plain row chunks) unless the CPU forward has more keys than a cache-sized block
        block = CPU_KEY_BLOCK if q.device.type == "cpu" and n_keys > CPU_KEY_BLOCK else n_keys
        out, lse = _tiled_forward(q, k, v, key_bias, scale, _effective_chunk(chunk_elements, q.device), block)
        ctx.save_for_backward(q, k, v, key_bias, out, lse)
        return out, lse

    @staticmethod
    def backward(ctx, grad_out, grad_lse):  # type: ignore[override]
        q, k, v, key_bias, out, lse = ctx.saved_tensors
        scale, step = ctx.scale, ctx.step
        if grad_out is None:
            grad_out = torch.zeros_like(out)
        if grad_lse is None:
            grad_lse = torch.zeros_like(lse)
        dq = torch.zeros_like(q)
        dk = torch.zeros_like(k)
        dv = torch.zeros_like(v)
        for start in range(0, q.shape[1], step):
            rows = slice(start, start + step)
            s = _scores(q[:, rows], k, scale, key_bias)
            p = torch.exp(s - lse[:, rows].unsqueeze(-1))
            g_out = grad_out[:, rows]
            dv += torch.matmul(p.transpose(-1, -2), g_out)
            dp = torch.matmul(g_out, v.transpose(-1, -2))
            delta = (g_out * out[:, rows]).sum(-1) - grad_lse[:, rows]
            ds = p * (dp - delta.unsqueeze(-1))
            dq[:, rows] = torch.matmul(ds, k) * scale
            dk += torch.matmul(ds.transpose(-1, -2), q[:, rows]) * scale
        return dq, dk, dv, None, None, None


def _tiled_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_bias: torch.Tensor | None,
    scale: float,
    chunk_elements: int,
    block: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward pass over (row chunk x key block) tiles with an online softmax (see the module docstring).

    With ``block`` = the number of keys this is the plain row-chunked pass (no rescaling happens)."""
    batch, n_rows, _ = q.shape
    n_keys = k.shape[-2]
    step = _chunk_rows(n_rows, block, batch, chunk_elements)
    out = q.new_empty(batch, n_rows, v.shape[-1])
    lse = q.new_empty(batch, n_rows)
    k_t = k.transpose(-1, -2)
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        q_rows = q[:, rows]
        run_max = run_sum = acc = None
        for key_start in range(0, n_keys, block):
            keys = slice(key_start, key_start + block)
            if key_bias is None:
                s = torch.matmul(q_rows, k_t[..., keys]).mul_(scale)
            else:
                s = torch.baddbmm(key_bias[:, keys].unsqueeze(-2), q_rows, k_t[..., keys], alpha=scale)
            block_max = s.amax(dim=-1, keepdim=True)
            new_max = block_max if run_max is None else torch.maximum(run_max, block_max)
            # one exp per score, in place: the loop is memory-bound, so every pass over the tile counts.
            # While every key so far is padding the max is -inf: shift by 0 instead (those exps are 0 anyway).
            shift = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
            p = s.sub_(shift).exp_()
            block_sum = p.sum(dim=-1, keepdim=True)
            block_out = torch.matmul(p, v[:, keys])
            if run_max is None:
                run_sum, acc = block_sum, block_out
            else:
                rescale = torch.exp(run_max - shift)  # the earlier blocks' terms under the new shift
                run_sum = run_sum.mul_(rescale).add_(block_sum)
                acc = acc.mul_(rescale).add_(block_out)
            run_max = new_max
        out[:, rows] = acc.div_(run_sum)
        lse[:, rows] = (run_max + run_sum.log()).squeeze(-1)
    return out, lse


def chunked_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    key_mask: torch.Tensor | None = None,
    scale: float = 1.0,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax attention over keys, computed in row chunks, returning ``(out, lse)``.

    Args:
        query: ``(B, N, D)`` queries.
        key: ``(B, M, D)`` keys.
        value: ``(B, M, C)`` values.
        key_mask: optional ``(B, M)`` boolean, ``True`` for real keys; padded keys get zero weight.
        scale: multiplier of the dot products (e.g. ``1/sqrt(D)``).
        chunk_elements: upper bound on the number of scores held in memory at once.

    Returns:
        ``out`` of shape ``(B, N, C)`` with ``out_i = sum_j softmax_j(s_ij) v_j`` and ``lse`` of shape
        ``(B, N)`` with ``lse_i = log sum_j exp(s_ij)`` over unmasked keys.
    """
    if query.dim() != 3 or key.dim() != 3 or value.dim() != 3:
        raise ValueError("chunked_attention expects 3-D (batch, units, features) tensors")
    key_bias = None
    if key_mask is not None:
        if not bool(key_mask.any(-1).all()):
            raise ValueError("every dataset in the batch needs at least one unmasked unit")
    if key_mask is not None and not bool(key_mask.all()):  # no bias pass when nothing is padded
        key_bias = torch.zeros(key_mask.shape, dtype=query.dtype, device=query.device)
        key_bias = key_bias.masked_fill(~key_mask.bool(), float("-inf"))
    # One dtype, at least float32, with autocast off: the custom backward runs outside autocast and needs
    # matching dtypes, and the log-normalisers feed the balancing weights' exponentials, too sensitive for bf16.
    dtype = torch.promote_types(torch.promote_types(query.dtype, key.dtype), value.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    if key_bias is not None:
        key_bias = key_bias.to(dtype)
    with torch.autocast(device_type=query.device.type, enabled=False):
        return _ChunkedAttention.apply(
            query.to(dtype), key.to(dtype), value.to(dtype), key_bias, float(scale), int(chunk_elements)
        )


def landmark_indices(signs: torch.Tensor, unit_mask: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """``(B, size)`` indices of landmark units: a seeded sample without replacement, stratified by arm.

    Each arm gets its share of ``size`` (at least one landmark per non-empty arm), so the landmarks keep
    the dataset's treated fraction up to rounding. Every dataset must have more than ``size`` real units.
    """
    generator = torch.Generator().manual_seed(seed)
    device = signs.device
    signs, unit_mask = signs.cpu(), unit_mask.cpu()  # the seeded CPU generator draws the same landmarks anywhere
    rows = []
    for b in range(signs.shape[0]):
        treated = torch.nonzero(unit_mask[b] & (signs[b] > 0)).squeeze(-1)
        control = torch.nonzero(unit_mask[b] & (signs[b] < 0)).squeeze(-1)
        n1, n0 = len(treated), len(control)
        low, high = max(int(n1 > 0), size - n0), min(n1, size - int(n0 > 0))
        take = min(max(round(size * n1 / (n1 + n0)), low), high)
        picks = [arm[torch.randperm(len(arm), generator=generator)[:k]] for arm, k in ((treated, take), (control, size - take))]
        rows.append(torch.sort(torch.cat(picks)).values)
    return torch.stack(rows).to(device)
