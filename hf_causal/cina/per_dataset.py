"""Per-dataset CInA (Algorithm 1): optimise the balancing layer's values on one dataset.

The free parameters are the values ``V`` (one per unit), the offset ``beta0`` and, optionally, a small
linear key map initialised at the identity. ``V`` is stored through the preconditioned coordinates
``a = lambda * W * h_hat * V`` (a linear bijection, so the convex objective and its optimum are
unchanged); in those coordinates the read-out of the weights is direct and the optimisation well scaled.

The hinge is smoothed (softplus of width ``eps``) and ``eps`` is annealed towards 0 with L-BFGS at each
stage; the last stage's optimum converges to the exact SVM dual as ``eps -> 0`` (tested against libsvm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .attention import DEFAULT_CHUNK_ELEMENTS, chunked_attention
from .balancing import balancing_objective, masked_standardize, weights_from_values
from .modeling_cina import balancing_layer, identity_keys


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
    lambda0: float = 1.0,
    temperature: float = 1.0,
    learn_keys: bool = False,
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
        smoothing_schedule: hinge smoothing widths, annealed in order (L-BFGS at each).
        max_iter: L-BFGS iterations per stage.
    """
    x = torch.as_tensor(np.asarray(covariates, dtype=np.float64), dtype=dtype).unsqueeze(0)
    t = torch.as_tensor(np.asarray(treatment, dtype=np.float64), dtype=dtype).unsqueeze(0)
    if x.dim() != 3 or t.shape != x.shape[:2]:
        raise ValueError("covariates must be (N, d) and treatment (N,) with the same N")
    mask = torch.ones(t.shape, dtype=torch.bool)
    signs = 2.0 * t - 1.0
    x_std = masked_standardize(x, mask)
    n_features = torch.tensor([float(max(x.shape[-1], 1))], dtype=dtype)
    base_keys = identity_keys(x_std, n_features, temperature)
    key_map = torch.eye(x.shape[-1], dtype=dtype, requires_grad=learn_keys)

    dual = torch.full(t.shape, 0.5, dtype=dtype, requires_grad=True)
    beta0 = torch.zeros(1, dtype=dtype, requires_grad=True)
    params = [dual, beta0] + ([key_map] if learn_keys else [])
    fixed_lse = None
    if not learn_keys:
        ones = torch.ones_like(base_keys[..., :1])
        _, fixed_lse = chunked_attention(base_keys, base_keys, ones, mask, chunk_elements=chunk_elements)

    def evaluate(smoothing: float):
        keys = base_keys @ key_map if learn_keys else base_keys
        out, values, log_h_hat, lam = balancing_layer(
            keys, dual, signs, mask, lambda0, chunk_elements, lse=fixed_lse
        )
        loss = balancing_objective(out, values, beta0, signs, log_h_hat, mask, lam, smoothing)[0]
        return loss, values, log_h_hat, lam

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
        _, values, log_h_hat, lam = evaluate(final_eps)
        out, _, _, _ = balancing_layer(base_keys @ key_map if learn_keys else base_keys, dual, signs, mask, lambda0,
                                       chunk_elements, lse=fixed_lse)
        margin = signs * (out + beta0)
        dual.copy_(torch.sigmoid((1.0 - margin) / final_eps))
        loss, values, log_h_hat, lam = evaluate(0.0)
        weights = weights_from_values(values, signs, log_h_hat, mask, lam)
    return PerDatasetFit(
        weights=weights[0].numpy(),
        values=values[0].numpy(),
        beta0=float(beta0.item()),
        loss=float(loss.item()),
        lam=float(lam.item()),
    )
