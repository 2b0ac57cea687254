"""The zero-shot value network at inference, one chunk of units at a time (docs/design.md §3.5, §4.9).

With landmark units every unit attends to the same ``M`` landmarks, in the kernel-feature pass and in every
message-passing layer, so a unit's dual depends on the landmarks and on three dataset-level numbers only: the
standardisation of the covariates, the number of covariates ``d`` and, per head, the mean log row sum that the
relative log-density subtracts. Fix those, compute the landmarks' own hidden states layer by layer (they attend
to the landmarks too), and any chunk's duals follow from the chunk alone: :meth:`LandmarkForward.duals`.

It computes what ``CInAModel.forward(..., return_objective=False)`` computes, in float64 throughout (so a unit's
result does not depend on how rows are blocked, to rounding, and a streamed estimate equals the in-memory one),
and in fewer operations: the kernel is fixed, so each head's attention probabilities are computed once per block
of units, and since the landmarks' values at every layer are known in advance, one matrix product gives a unit
its local balance and every layer's (merged) smoothing. With fewer units than landmarks every unit is a
landmark: exact attention, as the model does.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

#: Scores held at once per block of units (rows x heads x landmarks float64, 2 MB: cache-sized; measured).
BLOCK_SCORES = 2**18
#: Largest whole ratio of temperatures computed by multiplication rather than by its own exponential.
MAX_POWER = 8


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
        self.readout: torch.Tensor | None = None

    @property
    def heads(self) -> int:
        return len(self.temperatures)

    def _block_rows(self) -> int:
        return max(1, BLOCK_SCORES // (self.heads * len(self.landmarks)))

    def _powers(self) -> list[int] | None:
        """Each temperature as an integer multiple of the smallest (``0.5, 1, 2`` -> ``1, 2, 4``), when they are."""
        ratios = (self.temperatures / self.temperatures.min()).tolist()
        whole = [round(r) for r in ratios]
        ok = all(abs(r - w) < 1e-12 and 1 <= w <= MAX_POWER for r, w in zip(ratios, whole))
        return whole if ok else None

    @torch.no_grad()
    def _exps(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(e, shift)``: per head ``e_h = exp(t_h (s - max_j s))`` over the landmarks, laid out ``(n, H, M)``,
        with scores ``s = z . z_L / d`` (identity keys, docs/design.md §3.3), and the shifts ``t_h max_j s``
        ``(n, H)``. The exponential is the costliest step of a pass; with temperatures that are whole multiples of
        the smallest, one exponential serves every head (``exp(2a) = exp(a)^2``)."""
        scores = (z @ self.landmarks.T).div_(self.n_features)
        top = scores.amax(dim=-1, keepdim=True)
        shifted = scores.sub_(top)
        shift = top * self.temperatures
        out = torch.empty((len(z), self.heads, len(self.landmarks)), dtype=torch.float64)
        powers = self._powers()
        if powers is None:
            for h, temperature in enumerate(self.temperatures.tolist()):
                torch.exp(shifted * temperature, out=out[:, h])
            return out, shift
        # each power is written straight into its head's slot (a temporary only for powers no head uses)
        slots = {k: out[:, h] for h, k in enumerate(powers)}
        base = slots.get(1, torch.empty_like(shifted))
        torch.exp(shifted.mul_(float(self.temperatures.min())), out=base)
        cache = {1: base}
        for k in range(2, max(powers) + 1):
            left, right = (cache[k - 1], base) if k % 2 else (cache[k // 2], cache[k // 2])
            cache[k] = torch.mul(left, right, out=slots[k]) if k in slots else left * right
        for h, k in enumerate(powers):
            if out[:, h].data_ptr() != cache[k].data_ptr():  # two heads at one temperature
                out[:, h] = cache[k]
        return out, shift

    @torch.no_grad()
    def _kernel(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(probs, lse)``: each head's softmax over the landmarks ``(n, H, M)`` and its log row sum ``(n, H)``."""
        e, shift = self._exps(z)
        total = e.sum(-1)
        return e.mul_(total.reciprocal().unsqueeze(-1)), shift + torch.log(total)

    @torch.no_grad()
    def log_normalisers(self, z: np.ndarray) -> np.ndarray:
        """``(n, H)`` log row sums over the landmarks, whose mean over all units the log-density subtracts."""
        zt = torch.as_tensor(z, dtype=torch.float64)
        out = []
        for s in range(0, len(zt), self._block_rows()):
            e, shift = self._exps(zt[s : s + self._block_rows()])
            out.append(shift + torch.log(e.sum(-1)))
        return torch.cat(out).numpy() if out else np.zeros((0, self.heads))

    def _embed(self, signs: torch.Tensor, balance: torch.Tensor, lse: torch.Tensor) -> torch.Tensor:
        """The first hidden state from ``[W, local balance per head, relative log-density per head]``."""
        return self.net["embed"](torch.cat([signs.unsqueeze(-1), balance, lse - self.mean_lse], dim=-1))

    @staticmethod
    def _finish_layer(layer: Any, hidden: torch.Tensor, merged: torch.Tensor) -> torch.Tensor:
        hidden = hidden + merged
        return hidden + layer.ffn(layer.norm2(hidden))

    @torch.no_grad()
    def fix_density(self, mean_lse: np.ndarray) -> None:
        """Fix the per-head mean log row sum over all units, then the landmarks' values at every layer and the
        one matrix that maps a unit's attention probabilities to all it takes from the landmarks."""
        self.mean_lse = torch.as_tensor(np.asarray(mean_lse), dtype=torch.float64)
        probs, lse = self._kernel(self.landmarks)
        probs = probs.permute(1, 0, 2)  # (H, M, M)
        hidden = self._embed(self.landmark_signs, (probs @ self.landmark_signs).T, lse)
        heads, m = self.heads, len(self.landmarks)
        blocks = [torch.zeros(heads, m, heads, dtype=torch.float64)]
        for h in range(heads):
            blocks[0][h, :, h] = self.landmark_signs
        for layer in self.net["layers"]:
            width = hidden.shape[-1]
            # head h is the h-th slice of the values, as KernelMessageLayer splits them
            values = layer.to_values(layer.norm1(hidden)).reshape(m, heads, width).permute(1, 0, 2)
            smoothed = torch.bmm(probs, values).permute(1, 0, 2).reshape(m, -1)
            hidden = self._finish_layer(layer, hidden, layer.merge(smoothed))
            # merge(concat_h P_h V_h) = sum_h P_h (V_h W_h^T) + b: the merge folded into each head's values
            blocks.append(torch.einsum("hmw,ohw->hmo", values, layer.merge.weight.reshape(-1, heads, width)))
        # rows (head, landmark); columns: the local balance of each head, then each layer's merged smoothing
        self.readout = torch.cat(blocks, dim=-1).reshape(heads * m, -1).contiguous()

    @torch.no_grad()
    def duals(self, z: np.ndarray, signs: np.ndarray) -> np.ndarray:
        """``(n,)`` float64 predicted duals ``a in (0, 1)`` of a chunk of units (``z`` standardised and clipped
        like the landmarks, ``signs`` their ``W``)."""
        if self.mean_lse is None:
            raise RuntimeError("fix_density must run before duals")
        zt = torch.as_tensor(z, dtype=torch.float64)
        st = torch.as_tensor(signs, dtype=torch.float64)
        heads, out = self.heads, []
        for s in range(0, len(zt), self._block_rows()):
            rows = slice(s, s + self._block_rows())
            probs, lse = self._kernel(zt[rows])
            mixed = probs.reshape(len(probs), -1) @ self.readout  # the balance and every layer's smoothing at once
            hidden = self._embed(st[rows], mixed[:, :heads], lse)
            width = hidden.shape[-1]
            for k, layer in enumerate(self.net["layers"]):
                cols = slice(heads + k * width, heads + (k + 1) * width)
                hidden = self._finish_layer(layer, hidden, mixed[:, cols] + layer.merge.bias)
            logits = self.net["dual_head"](self.net["final_norm"](hidden)).squeeze(-1)
            out.append(torch.sigmoid(logits))
        return torch.cat(out).numpy() if out else np.zeros(0)
