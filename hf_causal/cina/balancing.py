"""CInA's balancing layer: the attention-form SVM objective and the read-out of its weights (torch).

Notation (docs/design.md §2): ``W = 2T - 1``, attention scores ``s_ij``, ``E_ij = exp(s_ij)``,
``h_i = sum_j E_ij``. ``E`` is normalised (``E_hat = E / c`` with ``c = median_i(h_i) / N``, so a
typical unit's row sum is ``N``) before the penalty is applied, so that the regularisation
``lambda = lambda0 / N**2`` means the same thing for every dataset size and kernel scale (docs/design.md §3).
The implied kernel of the attention layer is then ``k_hat_ij = E_hat_ij / (h_hat_i h_hat_j)``, and the layer's
optimum reproduces the soft-margin SVM dual on ``k_hat`` with ``C = 1 / lambda`` (:mod:`hf_causal.cina.svm`
holds the exact reference). The model, per-dataset CInA and the exact reference all use these functions.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .attention import chunked_attention

# ---------------------------------------------------------------------------------------------
# Pieces of the attention-form objective (torch, batched, masked)
# ---------------------------------------------------------------------------------------------


def masked_standardize(x: torch.Tensor, unit_mask: torch.Tensor, clip: float = 0.0) -> torch.Tensor:
    """Standardise covariates per dataset over its real units; constant columns become 0.

    Args:
        x: ``(B, N, d)`` covariates (padded units and features may hold anything finite).
        unit_mask: ``(B, N)`` boolean, ``True`` for real units.
        clip: if positive, clip standardised values to ``[-clip, clip]`` (a 20-SD outlier would otherwise
            own the exponential dot-product kernel: its self-similarity is ``exp(400 / d)``).
    """
    m = unit_mask.to(x.dtype).unsqueeze(-1)
    n = m.sum(1, keepdim=True).clamp_min(1.0)
    mean = (x * m).sum(1, keepdim=True) / n
    var = (((x - mean) * m) ** 2).sum(1, keepdim=True) / n
    std = var.sqrt()
    z = torch.where(std > 1e-12, (x - mean) / std.clamp_min(1e-12), torch.zeros_like(x))
    if clip > 0:
        z = z.clamp(-clip, clip)
    return z * m


def log_kernel_scale(lse: torch.Tensor, unit_mask: torch.Tensor) -> torch.Tensor:
    """``log c``: the kernel scale that makes the *median* unit's normalised row sum equal ``N``.

    ``c = median_i(h_i) / N``. The median (not the mean entry of ``E``) keeps one outlying unit, whose
    self-similarity ``exp(|x_i|^2 / d)`` can dwarf everything else, from rescaling every other unit.
    """
    n = unit_mask.sum(-1).to(lse.dtype)
    masked = lse.masked_fill(~unit_mask, float("nan"))
    return torch.nanmedian(masked, dim=-1).values - torch.log(n)


def penalty_lambda(lambda0: float, unit_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Per-dataset ``lambda = lambda0 / N**2`` (shape ``(B,)``)."""
    n = unit_mask.sum(-1).to(dtype)
    return lambda0 / n**2


def hinge(margin: torch.Tensor, smoothing: float) -> torch.Tensor:
    """``[1 - margin]_+``, or its softplus smoothing of width ``smoothing`` when positive."""
    if smoothing > 0:
        return smoothing * F.softplus((1.0 - margin) / smoothing)
    return torch.clamp(1.0 - margin, min=0.0)


def balancing_objective(
    out: torch.Tensor,
    scaled_values: torch.Tensor,
    beta0: torch.Tensor,
    signs: torch.Tensor,
    unit_mask: torch.Tensor,
    lam: torch.Tensor,
    smoothing: float = 0.0,
) -> torch.Tensor:
    """Per-dataset penalised hinge loss ``L(V, beta0)`` divided by ``N`` (shape ``(B,)``).

    ``L = sum_i [1 - W_i (out_i + beta0)]_+ + lambda/2 * V^T E_hat V`` where
    ``V^T E_hat V = sum_i (h_hat_i v_i) out_i``, so no ``N x N`` matrix is needed. ``scaled_values`` is
    ``h_hat * V``, carried instead of ``V`` because ``V`` underflows for isolated units whose ``h_hat`` is
    astronomically large. Dividing by ``N`` does not move the optimum and puts datasets of different sizes
    on one scale for averaging.
    """
    m = unit_mask.to(out.dtype)
    n = m.sum(-1)
    margin = signs * (out + beta0.unsqueeze(-1))
    loss_hinge = (hinge(margin, smoothing) * m).sum(-1)
    quad = (scaled_values * out * m).sum(-1)
    return (loss_hinge + 0.5 * lam * quad) / n


def weights_from_scaled_values(
    scaled_values: torch.Tensor,
    signs: torch.Tensor,
    unit_mask: torch.Tensor,
    lam: torch.Tensor,
) -> torch.Tensor:
    """Read the balancing weights off the values: ``alpha = lambda * W * (h_hat * V)``, clipped, normalised per arm.

    Done in float64 because recovering ``alpha`` from ``V`` is ill-conditioned at small ``lambda``.
    Padded units get weight 0. Returns ``(B, N)`` float64 weights summing to 1 within each arm.
    """
    raw = lam.double().unsqueeze(-1) * signs.double() * scaled_values.double()
    raw = raw.clamp_min(0.0) * unit_mask.double()
    return normalize_per_arm(raw, signs > 0, unit_mask)


def normalize_per_arm(raw: torch.Tensor, treated: torch.Tensor, unit_mask: torch.Tensor) -> torch.Tensor:
    """Normalise non-negative weights to sum to 1 within each arm (uniform if an arm's weights are all 0)."""
    out = torch.zeros_like(raw)
    for arm in (treated, ~treated):
        sel = (arm & unit_mask.bool()).to(raw.dtype)
        w = raw * sel
        total = w.sum(-1, keepdim=True)
        uniform = sel / sel.sum(-1, keepdim=True).clamp_min(1.0)
        out = out + torch.where(total > 0, w / total.clamp_min(1e-300), uniform)
    return out


def identity_keys(x_std: torch.Tensor, n_features: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """Keys whose dot products are ``t * x_i . x_j / d``: ``K = x * sqrt(t / d)`` (``d`` per dataset)."""
    scale = torch.sqrt(torch.as_tensor(temperature, dtype=x_std.dtype, device=x_std.device) / n_features)
    return x_std * scale.reshape(-1, 1, 1) if scale.dim() > 0 else x_std * scale


class BalancingLayerOutput(NamedTuple):
    """What the balancing layer computes (float64): see :func:`balancing_layer`."""

    out: torch.Tensor
    values: torch.Tensor
    scaled_values: torch.Tensor
    log_h_hat: torch.Tensor
    lam: torch.Tensor


def balancing_layer(
    keys: torch.Tensor,
    dual: torch.Tensor,
    signs: torch.Tensor,
    unit_mask: torch.Tensor,
    lambda0: float,
    chunk_elements: int,
    lse: torch.Tensor | None = None,
) -> BalancingLayerOutput:
    """The final attention layer: values from dual weights, output, normalised log row sums, lambda.

    Runs in float64: ``exp(-log h_hat)`` spans hundreds of orders of magnitude on heavy-tailed data.

    Args:
        keys: ``(B, N, D)`` keys (= queries).
        dual: ``(B, N)`` per-unit dual weights ``a`` (``(0, 1)`` from the network); ``V = a W / (lambda h_hat)``.
        signs: ``(B, N)`` ``W = 2T - 1``.
        unit_mask: ``(B, N)`` boolean.
        lse: optional precomputed ``log h`` of this kernel (saves one pass).
    """
    keys, dual, signs = keys.double(), dual.double(), signs.double()
    if lse is None:
        ones = torch.ones_like(keys[..., :1])
        _, lse = chunked_attention(keys, keys, ones, unit_mask, chunk_elements=chunk_elements)
    lse = lse.double()
    log_h_hat = lse - log_kernel_scale(lse, unit_mask).unsqueeze(-1)
    lam = penalty_lambda(lambda0, unit_mask, keys.dtype)
    mask = unit_mask.to(keys.dtype)
    scaled_values = dual * signs * mask / lam.unsqueeze(-1)
    values = scaled_values * torch.exp(-log_h_hat)
    out, _ = chunked_attention(keys, keys, values.unsqueeze(-1), unit_mask, chunk_elements=chunk_elements)
    return BalancingLayerOutput(out.squeeze(-1), values, scaled_values, log_h_hat, lam)
