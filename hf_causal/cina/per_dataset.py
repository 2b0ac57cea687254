"""Per-dataset CInA (Algorithm 1): optimise the balancing layer's values on one dataset.

The free parameters are the values ``V`` (one per unit), the offset ``beta0`` and, optionally, a small
linear key map initialised at the identity. ``V`` is stored through the preconditioned coordinates
``a = lambda * W * h_hat * V`` (a linear bijection, so the convex objective and its optimum are
unchanged); in those coordinates the read-out of the weights is direct and the optimisation well scaled.

The hinge is smoothed (softplus of width ``eps``) and ``eps`` is annealed towards 0 with L-BFGS at each
stage; the last stage's optimum converges to the exact SVM dual as ``eps -> 0`` (tested against libsvm).
See docs/design.md §5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .attention import DEFAULT_CHUNK_ELEMENTS, chunked_attention
from .balancing import (
    BalancingLayerOutput,
    balancing_layer,
    balancing_objective,
    identity_keys,
    log_kernel_scale,
    masked_standardize,
    penalty_lambda,
    weights_from_scaled_values,
)


@dataclass
class PerDatasetFit:
    """Result of :func:`fit_per_dataset` (numpy arrays, one dataset)."""

    weights: np.ndarray
    values: np.ndarray
    beta0: float
    loss: float
    lam: float


def fit_per_dataset(
    covariates: np.ndarray | torch.Tensor,
    treatment: np.ndarray | torch.Tensor,
    lambda0: float = 0.1,
    temperature: float = 1.0,
    learn_keys: bool = False,
    covariate_clip: float = 5.0,
    smoothing_schedule: tuple[float, ...] = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4),
    max_iter: int = 100,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    progress: bool = False,
    dtype: torch.dtype = torch.float64,
) -> PerDatasetFit:
    """Optimise CInA's balancing layer on one dataset and return its balancing weights.

    Args:
        covariates: ``(N, d)`` numeric covariates (standardised internally).
        treatment: ``(N,)`` binary treatment.
        lambda0: size-free regularisation, ``lambda = lambda0 / N**2`` (see :class:`CInAConfig`).
        temperature: kernel temperature ``t`` of the identity keys (``s_ij = t x_i . x_j / d``).
        learn_keys: also learn a linear key map (initialised at the identity) jointly with ``V``.
        covariate_clip: clip standardised covariates to ``[-clip, clip]`` (0: off), as the model does.
        smoothing_schedule: hinge smoothing widths, annealed in order (L-BFGS at each).
        max_iter: L-BFGS iterations per stage.
    """
    x = torch.as_tensor(np.asarray(covariates, dtype=np.float64), dtype=dtype).unsqueeze(0)
    t = torch.as_tensor(np.asarray(treatment, dtype=np.float64), dtype=dtype).unsqueeze(0)
    if x.dim() != 3 or t.shape != x.shape[:2]:
        raise ValueError("covariates must be (N, d) and treatment (N,) with the same N")
    mask = torch.ones(t.shape, dtype=torch.bool)
    signs = 2.0 * t - 1.0
    x_std = masked_standardize(x, mask, covariate_clip)
    n_features = torch.tensor([float(max(x.shape[-1], 1))], dtype=dtype)
    base_keys = identity_keys(x_std, n_features, temperature)
    key_map = torch.eye(x.shape[-1], dtype=dtype, requires_grad=learn_keys)

    dual = torch.full(t.shape, 0.5, dtype=dtype, requires_grad=True)
    beta0 = torch.zeros(1, dtype=dtype, requires_grad=True)
    params = [dual, beta0] + ([key_map] if learn_keys else [])
    n = t.shape[1]
    dense_softmax = None
    fixed_lse = None
    if not learn_keys:
        if n * n <= chunk_elements:
            # Fixed keys and a small dataset: precompute the softmax once (each step is then a mat-vec).
            scores = base_keys[0] @ base_keys[0].T
            fixed_lse = torch.logsumexp(scores, dim=-1).unsqueeze(0)
            dense_softmax = torch.exp(scores - fixed_lse[0].unsqueeze(-1))
        else:
            ones = torch.ones_like(base_keys[..., :1])
            _, fixed_lse = chunked_attention(base_keys, base_keys, ones, mask, chunk_elements=chunk_elements)

    def layer() -> BalancingLayerOutput:
        keys = base_keys @ key_map if learn_keys else base_keys
        if dense_softmax is None:
            return balancing_layer(keys, dual, signs, mask, lambda0, chunk_elements, lse=fixed_lse)
        log_h_hat = fixed_lse - log_kernel_scale(fixed_lse, mask).unsqueeze(-1)
        lam = penalty_lambda(lambda0, mask, dtype)
        scaled = dual * signs / lam.unsqueeze(-1)
        values = scaled * torch.exp(-log_h_hat)
        return BalancingLayerOutput((dense_softmax @ values[0]).unsqueeze(0), values, scaled, log_h_hat, lam)

    def evaluate(smoothing: float) -> tuple[torch.Tensor, BalancingLayerOutput]:
        bal = layer()
        return balancing_objective(bal.out, bal.scaled_values, beta0, signs, mask, bal.lam, smoothing)[0], bal

    final_eps = float(smoothing_schedule[-1])
    stages = tqdm(smoothing_schedule, desc="per-dataset CInA", disable=not progress)
    for eps in stages:
        optimizer = torch.optim.LBFGS(
            params, lr=1.0, max_iter=max_iter, tolerance_grad=1e-12, tolerance_change=1e-14,
            history_size=50, line_search_fn="strong_wolfe",
        )

        def closure(eps: float = eps, optimizer: torch.optim.LBFGS = optimizer) -> torch.Tensor:
            optimizer.zero_grad()
            loss = evaluate(eps)[0]
            loss.backward()
            return loss

        optimizer.step(closure)
    with torch.no_grad():
        # The margins (hence beta) are well determined at the optimum but V is not: the kernel is
        # ill-conditioned, so many V give the same function. Stationarity of the smoothed objective
        # pins the representer down: a_i = hinge'(margin_i). Setting it leaves the function unchanged
        # at the optimum and makes the read-out alpha = lambda W h_hat V exact.
        margin = signs * (layer().out + beta0)
        dual.copy_(torch.sigmoid((1.0 - margin) / final_eps))
        loss, bal = evaluate(0.0)
        weights = weights_from_scaled_values(bal.scaled_values, signs, mask, bal.lam)
    return PerDatasetFit(
        weights=weights[0].numpy(),
        values=bal.values[0].numpy(),
        beta0=float(beta0.item()),
        loss=float(loss.item()),
        lam=float(bal.lam.item()),
    )
