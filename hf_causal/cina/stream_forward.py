"""The zero-shot value network at inference, one chunk of units at a time (docs/design.md §3.5, §4.9).

With landmark units every unit attends to the same ``M`` landmarks, in the kernel-feature pass and in every
message-passing layer, so a unit's dual depends on the landmarks and on three dataset-level numbers only: the
standardisation of the covariates, the number of covariates ``d`` and, per head, the mean log row sum that the
relative log-density subtracts. Fix those, compute the landmarks' own hidden states layer by layer (they attend
to the landmarks too), and any chunk's duals follow from the chunk alone: :meth:`LandmarkForward.duals`.

It computes what ``CInAModel.forward(..., return_objective=False)`` computes, with two differences that keep a
streamed estimate equal to the in-memory one: float64 throughout (a chunk's result then does not depend on how
rows are blocked, to rounding), and the attention probabilities of each head computed once per block of units
and reused by every layer (the kernel is fixed; only the values change between layers). With fewer units than
landmarks, every unit is a landmark: exact attention, as the model does.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

#: Scores held at once per block of units (heads x rows x landmarks float64): 16 MB.
BLOCK_SCORES = 2**21


class LandmarkForward:
    """A CInA model's value network reduced to per-unit computations against fixed landmark units.

    Args:
        model: a ``CInAModel`` (its embedding, layers, final norm and dual head are copied in float64).
        landmark_z: ``(M, d)`` the landmarks' standardised, clipped covariates (constant columns 0).
        landmark_signs: ``(M,)`` their ``W = 2T - 1``.
    """

    def __init__(self, model: Any, landmark_z: np.ndarray, landmark_signs: np.ndarray) -> None:
        modules = torch.nn.ModuleDict(
            {"embed": model.embed, "layers": model.layers, "final_norm": model.final_norm, "dual_head": model.dual_head}
        )
        self.net = copy.deepcopy(modules).to(device="cpu", dtype=torch.float64).eval()
        self.temperatures = torch.tensor(model.config.kernel_temperatures, dtype=torch.float64)
        self.landmarks = torch.as_tensor(np.ascontiguousarray(landmark_z), dtype=torch.float64)
        self.landmark_signs = torch.as_tensor(np.asarray(landmark_signs), dtype=torch.float64)
        self.n_features = max(landmark_z.shape[1], 1)
        self.mean_lse: torch.Tensor | None = None
        self.values: list[torch.Tensor] = []

    @property
    def heads(self) -> int:
        return len(self.temperatures)

    def _block_rows(self) -> int:
        return max(1, BLOCK_SCORES // (self.heads * len(self.landmarks)))

    @torch.no_grad()
    def _kernel(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(probs, lse)``: each head's softmax over the landmarks ``(H, n, M)`` and its log row sum ``(H, n)``;
        scores ``t_h z . z_L / d`` (identity keys, docs/design.md §3.3)."""
        scores = (z @ self.landmarks.T) / self.n_features
        scores = self.temperatures.reshape(-1, 1, 1) * scores.unsqueeze(0)
        lse = torch.logsumexp(scores, dim=-1)
        return torch.exp(scores - lse.unsqueeze(-1)), lse

    @torch.no_grad()
    def log_normalisers(self, z: np.ndarray) -> np.ndarray:
        """``(n, H)`` log row sums over the landmarks, whose mean over all units the log-density subtracts."""
        zt = torch.as_tensor(z, dtype=torch.float64)
        out = [self._kernel(zt[s : s + self._block_rows()])[1].T for s in range(0, len(zt), self._block_rows())]
        return torch.cat(out).numpy() if out else np.zeros((0, self.heads))

    @torch.no_grad()
    def fix_density(self, mean_lse: np.ndarray) -> None:
        """Fix the per-head mean log row sum over all units, then the landmarks' values at every layer."""
        self.mean_lse = torch.as_tensor(np.asarray(mean_lse), dtype=torch.float64)
        probs, lse = self._kernel(self.landmarks)
        hidden = self._embed(probs, lse, self.landmark_signs)
        self.values = []
        for layer in self.net["layers"]:
            values = self._layer_values(layer, hidden)
            self.values.append(values)
            hidden = self._block(layer, hidden, probs, values)

    def _embed(self, probs: torch.Tensor, lse: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
        balance = probs @ self.landmark_signs  # (H, n): the local signed balance per head
        density = lse - self.mean_lse.unsqueeze(-1)
        return self.net["embed"](torch.cat([signs.unsqueeze(-1), balance.T, density.T], dim=-1))

    def _layer_values(self, layer: Any, hidden: torch.Tensor) -> torch.Tensor:
        width = hidden.shape[-1]
        values = layer.to_values(layer.norm1(hidden)).reshape(len(hidden), self.heads, width)
        return values.permute(1, 0, 2)  # (H, M, width): head h is the h-th slice, as KernelMessageLayer splits it

    def _block(self, layer: Any, hidden: torch.Tensor, probs: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        smoothed = torch.bmm(probs, values).permute(1, 0, 2).reshape(len(hidden), -1)
        hidden = hidden + layer.merge(smoothed)
        return hidden + layer.ffn(layer.norm2(hidden))

    @torch.no_grad()
    def duals(self, z: np.ndarray, signs: np.ndarray) -> np.ndarray:
        """``(n,)`` float64 predicted duals ``a in (0, 1)`` of a chunk of units (``z`` standardised and clipped
        like the landmarks, ``signs`` their ``W``)."""
        if self.mean_lse is None:
            raise RuntimeError("fix_density must run before duals")
        zt = torch.as_tensor(z, dtype=torch.float64)
        st = torch.as_tensor(signs, dtype=torch.float64)
        out = []
        for s in range(0, len(zt), self._block_rows()):
            rows = slice(s, s + self._block_rows())
            probs, lse = self._kernel(zt[rows])
            hidden = self._embed(probs, lse, st[rows])
            for layer, values in zip(self.net["layers"], self.values):
                hidden = self._block(layer, hidden, probs, values)
            logits = self.net["dual_head"](self.net["final_norm"](hidden)).squeeze(-1)
            out.append(torch.sigmoid(logits))
        return torch.cat(out).numpy() if out else np.zeros(0)
