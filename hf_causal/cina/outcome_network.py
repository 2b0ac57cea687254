"""CInA's in-context outcome network: potential-outcome surfaces of a dataset, learned in context (docs/design.md §4.8).

Given a dataset's context rows ``(X, T, Y)`` (and new rows with ``X`` only), the network predicts for every row
``mu0(x)``, ``mu1(x)`` and the standard deviation of each estimate. It starts from the kernel outcome model's
predictions (``kernel_mu``, computed by :mod:`hf_causal.cina.outcome_features`) and predicts corrections: its
output heads start at zero, so an untrained network reproduces the kernel model, and what pretraining adds
is measured against it.

Like the balancing network it is d-agnostic and permutation-equivariant: rows see each other only through the
dot-product kernel of their standardised covariates (identity keys, one bandwidth per head). Its inputs are
the per-row features of :mod:`hf_causal.cina.outcome_features` and, per bandwidth and arm, kernel smooths of the
context's outcomes and of the kernel model's leave-one-out residuals (where the kernel model is locally
biased) with the arm's local density; then ``num_layers`` kernel message-passing layers whose keys are the
context rows (or a landmark sample of them, which makes a pass linear in N). New rows are queries only.

This file ships as Hub remote code with ``modeling_cina.py``: relative imports only.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .attention import chunked_attention
from .balancing import identity_keys
from .kernel_layers import KernelMessageLayer, context_key_indices, gather_units

#: Standardised errors beyond this count linearly in the loss (a Huber loss around the Gaussian likelihood).
HUBER_Z = 4.0
#: Effect errors (in outcome SDs) beyond this count linearly.
HUBER_EFFECT = 2.0
#: Kernel-smooth inputs per bandwidth: (outcome, residual, log density) of each arm, and the overall log density.
SMOOTH_FEATURES_PER_HEAD = 7


def reset_outcome_head(head: nn.Linear) -> None:
    """Zero corrections of both arms' kernel predictions and an initial spread of 0.3 outcome SDs."""
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([0.0, 0.0, math.log(0.3), math.log(0.3)]))


class OutcomeNetworkOutput(NamedTuple):
    """Per-row predictions in standardised outcome units (``(B, R)`` each)."""

    mu0: torch.Tensor
    mu1: torch.Tensor
    log_sd0: torch.Tensor
    log_sd1: torch.Tensor


def context_standardize(
    x: torch.Tensor, unit_mask: torch.Tensor, context_mask: torch.Tensor, clip: float
) -> torch.Tensor:
    """Standardise every real row with the mean and SD of the context rows (constant columns become 0)."""
    m = context_mask.to(x.dtype).unsqueeze(-1)
    n = m.sum(1, keepdim=True).clamp_min(1.0)
    mean = (x * m).sum(1, keepdim=True) / n
    std = ((((x - mean) * m) ** 2).sum(1, keepdim=True) / n).sqrt()
    z = torch.where(std > 1e-12, (x - mean) / std.clamp_min(1e-12), torch.zeros_like(x))
    if clip > 0:
        z = z.clamp(-clip, clip)
    return z * unit_mask.to(x.dtype).unsqueeze(-1)


class InContextOutcomeNetwork(nn.Module):
    """The outcome network of a :class:`~hf_causal.cina.CInAModel` whose config has ``outcome_hidden_size > 0``.

    Args:
        config: the model's :class:`~hf_causal.cina.CInAConfig` (its ``outcome_*`` fields).
    """

    def __init__(self, config) -> None:  # noqa: ANN001 - a CInAConfig (not imported: no cycle with the config)
        super().__init__()
        self.temperatures = [float(t) for t in config.outcome_kernel_temperatures]
        heads = len(self.temperatures)
        hidden = config.outcome_hidden_size
        self.n_unit_features = int(config.outcome_unit_features)
        self.covariate_clip = float(config.covariate_clip)
        self.chunk_elements = int(config.chunk_elements)
        self.landmark_units = config.outcome_landmark_units
        self.embed = nn.Linear(self.n_unit_features + SMOOTH_FEATURES_PER_HEAD * heads, hidden)
        self.layers = nn.ModuleList(
            KernelMessageLayer(hidden, config.outcome_intermediate_size, heads, config.dropout, self.chunk_elements)
            for _ in range(config.outcome_num_layers)
        )
        self.final_norm = nn.LayerNorm(hidden)
        # corrections of (mu0, mu1) and the log standard deviations of (mu0, mu1); marked so that weight
        # initialisation leaves it at zero corrections whatever order modules are initialised in
        self.head = nn.Linear(hidden, 4)
        self.head.is_outcome_head = True

    def reset_head(self) -> None:
        """Zero corrections (the kernel model's predictions) and a moderate initial spread."""
        reset_outcome_head(self.head)

    def _smooths(
        self, keys: torch.Tensor, signs: torch.Tensor, y: torch.Tensor, residuals: torch.Tensor,
        unit_mask: torch.Tensor, context_mask: torch.Tensor, landmarks: torch.Tensor | None,
        landmark_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """``(B, R, 7 * heads)`` kernel smooths (module docstring) for every row."""
        heads, batch, rows = len(self.temperatures), signs.shape[0], signs.shape[1]
        treated = ((signs > 0) & context_mask).to(keys.dtype)
        control = ((signs < 0) & context_mask).to(keys.dtype)
        values = torch.stack([y * treated, residuals * treated, treated, y * control, residuals * control, control], -1)
        values = values.repeat(heads, 1, 1)
        key_rows, key_values, key_mask = keys, values, context_mask.repeat(heads, 1)
        if landmarks is not None:
            key_rows, key_values, key_mask = gather_units(keys, landmarks), gather_units(values, landmarks), landmark_mask
        out, lse = chunked_attention(keys, key_rows, key_values, key_mask, chunk_elements=self.chunk_elements)
        out, lse = out.reshape(heads, batch, rows, 6), lse.reshape(heads, batch, rows)
        ctx = context_mask.to(lse.dtype)
        # log densities relative to the dataset's mean over context rows: free of N and of landmark sampling
        centre = (lse * ctx).sum(-1, keepdim=True) / ctx.sum(-1, keepdim=True).clamp_min(1.0)
        parts = []
        for arm in (0, 3):
            share = out[..., arm + 2]
            parts += [out[..., arm] / (share + 1e-3), out[..., arm + 1] / (share + 1e-3),
                      torch.log(share.clamp_min(1e-8)) + lse - centre]
        parts.append(lse - centre)
        smooths = torch.stack(parts, -1)  # (heads, B, R, 7)
        return smooths.permute(1, 2, 0, 3).reshape(batch, rows, -1) * unit_mask.to(keys.dtype).unsqueeze(-1)

    def forward(
        self,
        covariates: torch.Tensor,
        signs: torch.Tensor,
        y: torch.Tensor,
        kernel_mu: torch.Tensor,
        kernel_residuals: torch.Tensor,
        unit_features: torch.Tensor,
        unit_mask: torch.Tensor | None = None,
        feature_mask: torch.Tensor | None = None,
        landmark_units: int | None = None,
    ) -> OutcomeNetworkOutput:
        """Predict both potential outcomes of every row.

        Args:
            covariates: ``(B, R, d)`` rows (context rows have ``signs != 0``; new rows ``signs == 0``).
            signs: ``(B, R)`` +1 treated, -1 control, 0 new rows.
            y, kernel_residuals: ``(B, R)`` standardised outcomes and kernel leave-one-out residuals (0 off
                the context).
            kernel_mu: ``(B, R, 2)`` the kernel model's ``[mu0, mu1]``.
            unit_features: ``(B, R, F)`` the per-row features of :mod:`hf_causal.cina.outcome_features`.
            unit_mask: ``(B, R)`` real rows (default all); feature_mask: ``(B, d)`` real covariates.
            landmark_units: keys are a sample of this many context rows when a dataset has more (default
                ``config.outcome_landmark_units``, in training as at inference; 0 forces exact).
        """
        batch, rows, d = covariates.shape
        if unit_features.shape != (batch, rows, self.n_unit_features):
            raise ValueError(
                f"unit_features must have shape {(batch, rows, self.n_unit_features)}, got {tuple(unit_features.shape)}"
            )
        dtype = covariates.dtype
        unit_mask = torch.ones(batch, rows, dtype=torch.bool, device=covariates.device) if unit_mask is None else unit_mask.bool()
        fmask = torch.ones(batch, d, dtype=dtype, device=covariates.device) if feature_mask is None else feature_mask.to(dtype)
        context_mask = unit_mask & (signs != 0)
        x = context_standardize(torch.where(unit_mask.unsqueeze(-1), covariates, 0.0), unit_mask, context_mask,
                                self.covariate_clip) * fmask.unsqueeze(1)
        n_features = fmask.sum(-1).clamp_min(1.0)
        keys = torch.cat([identity_keys(x, n_features, t) for t in self.temperatures], dim=0)
        if landmark_units is None:  # the same keys in training and at inference
            landmark_units = self.landmark_units
        landmarks = landmark_mask = None
        if landmark_units and int(context_mask.sum(-1).max()) > int(landmark_units):
            index, mask = context_key_indices(torch.where(context_mask, signs, 0.0), context_mask, int(landmark_units))
            heads = len(self.temperatures)
            landmarks, landmark_mask = index.repeat(heads, 1), mask.repeat(heads, 1)
        smooths = self._smooths(keys, signs, y, kernel_residuals, unit_mask, context_mask, landmarks, landmark_mask)
        mask_f = unit_mask.to(dtype).unsqueeze(-1)
        hidden = self.embed(torch.cat([unit_features.to(dtype), smooths.to(dtype)], -1)) * mask_f
        for layer in self.layers:
            hidden = layer(hidden, keys, context_mask, landmarks, landmark_mask) * mask_f
        out = self.head(self.final_norm(hidden))
        return OutcomeNetworkOutput(
            mu0=kernel_mu[..., 0] + out[..., 0],
            mu1=kernel_mu[..., 1] + out[..., 1],
            log_sd0=out[..., 2].clamp(-5.0, 2.0),
            log_sd1=out[..., 3].clamp(-5.0, 2.0),
        )


def outcome_loss(
    output: OutcomeNetworkOutput, true_mu0: torch.Tensor, true_mu1: torch.Tensor, unit_mask: torch.Tensor
) -> torch.Tensor:
    """``(B,)`` per-dataset loss: the Gaussian negative log-likelihood of the true ``mu0`` and ``mu1`` under the
    predicted means and spreads, plus the squared error of the effect ``mu1 - mu0``, averaged over real rows
    (both Huberised: errors beyond :data:`HUBER_Z` standardised errors or :data:`HUBER_EFFECT` outcome SDs count
    linearly, so one badly predicted row of one dataset cannot dominate a batch).

    Supervising the true surfaces (known in synthetic data) rather than the observed outcomes teaches both arms
    everywhere, and calibrates the spreads as the estimates' errors (docs/design.md §5.5)."""
    mask = unit_mask.to(output.mu0.dtype)
    nll = 0.0
    for mu, log_sd, truth in ((output.mu0, output.log_sd0, true_mu0), (output.mu1, output.log_sd1, true_mu1)):
        # Huber in the standardised error: one badly predicted row of one dataset cannot dominate a batch
        z = ((truth - mu) * torch.exp(-log_sd)).abs()
        nll = nll + torch.where(z < HUBER_Z, 0.5 * z**2, HUBER_Z * z - 0.5 * HUBER_Z**2) + log_sd
    # the squared effect error up to HUBER_EFFECT outcome SDs, linear beyond
    e = ((output.mu1 - output.mu0) - (true_mu1 - true_mu0)).abs()
    effect_error = torch.where(e < HUBER_EFFECT, e**2, 2.0 * HUBER_EFFECT * e - HUBER_EFFECT**2)
    return ((nll + effect_error) * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)
