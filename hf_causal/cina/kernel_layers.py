"""Permutation-equivariant kernel layers shared by CInA's networks (balancing and outcome): docs/design.md §5.2.

Units see each other only through the dot-product kernel of their standardised covariates, one bandwidth per
head, so the layers work for any number of covariates and any unit order. At inference the keys may be a
seeded, arm-stratified sample of landmark units, which makes a pass linear in N (docs/design.md §3.5).
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import chunked_attention, landmark_indices


def gather_units(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[b, index[b]]`` for ``x`` of shape ``(B, N, C)`` and ``index`` of shape ``(B, M)``."""
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class KernelMessageLayer(nn.Module):
    """Pre-norm residual block: multi-head kernel smoothing (one fixed bandwidth per head) + feed-forward."""

    def __init__(
        self, hidden_size: int, intermediate_size: int, heads: int, dropout: float = 0.0,
        chunk_elements: int = 2**24,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(hidden_size)
        self.to_values = nn.Linear(hidden_size, hidden_size * heads)
        self.merge = nn.Linear(hidden_size * heads, hidden_size)
        self.norm2 = nn.LayerNorm(hidden_size)
        self.ffn = nn.Sequential(
            nn.Linear(hidden_size, intermediate_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(intermediate_size, hidden_size),
        )
        self.chunk_elements = chunk_elements

    def forward(
        self,
        hidden: torch.Tensor,
        head_keys: torch.Tensor,
        unit_mask: torch.Tensor,
        landmarks: torch.Tensor | None = None,
        landmark_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One block; ``landmarks`` ``(heads * B, M)`` restricts the keys to those units (``landmark_mask``, same
        shape: which of them are real, when some datasets have fewer than ``M``)."""
        batch, n, width = hidden.shape
        vals = self.to_values(self.norm1(hidden)).reshape(batch, n, self.heads, width)
        vals = vals.permute(2, 0, 1, 3).reshape(self.heads * batch, n, width)
        keys, mask = head_keys, unit_mask.repeat(self.heads, 1)
        if landmarks is not None:
            keys, vals = gather_units(head_keys, landmarks), gather_units(vals, landmarks)
            mask = landmark_mask
        smoothed, _ = chunked_attention(head_keys, keys, vals, mask, chunk_elements=self.chunk_elements)
        smoothed = smoothed.reshape(self.heads, batch, n, width).permute(1, 2, 0, 3).reshape(batch, n, -1)
        hidden = hidden + self.merge(smoothed)
        return hidden + self.ffn(self.norm2(hidden))


def context_key_indices(
    signs: torch.Tensor, context_mask: torch.Tensor, size: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index, mask)`` of shape ``(B, K)``: per dataset, the landmark units of :func:`landmark_indices` when it
    has more than ``size`` context units, else all of them (padded; ``mask`` marks the real entries).
    ``K = min(size, largest context)``, so a batch of small datasets costs no more than exact attention."""
    counts = context_mask.sum(-1)
    width = int(min(size, int(counts.max())))
    index = torch.zeros(signs.shape[0], width, dtype=torch.long, device=signs.device)
    mask = torch.zeros(signs.shape[0], width, dtype=torch.bool, device=signs.device)
    for b in range(signs.shape[0]):
        if int(counts[b]) > width:
            index[b] = landmark_indices(signs[b: b + 1], context_mask[b: b + 1], width, seed)[0]
            mask[b] = True
        else:
            members = torch.nonzero(context_mask[b]).squeeze(-1)
            index[b, : len(members)] = members
            mask[b, : len(members)] = True
    return index, mask

