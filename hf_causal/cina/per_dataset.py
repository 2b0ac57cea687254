"""Per-dataset CInA (Algorithm 1): optimise the balancing layer's values on one dataset.

The free parameters are the values ``V`` (one per unit), the offset ``beta0`` and, optionally, a small
linear key map initialised at the identity. ``V`` is stored through the preconditioned coordinates
``a = lambda * W * h_hat * V`` (a linear bijection, so the convex objective and its optimum are
unchanged); in those coordinates the read-out of the weights is direct and the optimisation well scaled.

The hinge is smoothed (softplus of width ``eps``) and ``eps`` is annealed towards 0 with L-BFGS at each
stage; the last stage's optimum converges to the exact SVM dual as ``eps -> 0`` (tested against libsvm).
See docs/design.md §5.

Cost. Up to :data:`EXACT_MAX_UNITS` units the kernel is exact and precomputed (an ``N x N`` matrix, at most
128 MB), so each of the few hundred L-BFGS evaluations is a matrix-vector product. Above it (fixed keys), the
exact kernel would be recomputed in chunks at every evaluation (``O(N^2)`` each), so
the objective instead uses the Nystrom approximation of the implied kernel on ``landmark_units`` landmark units
(:func:`nystrom_features`, docs/design.md §5.1): one exact ``O(N^2)`` pass for the row sums, then ``O(N M)``
time and memory per evaluation. The result is then the exact SVM of the approximated kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .attention import DEFAULT_CHUNK_ELEMENTS, chunked_attention, landmark_indices
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

#: Largest dataset whose exact kernel is precomputed (``N^2`` float64 entries: 128 MB).
EXACT_MAX_UNITS = 4096
#: Landmark units of the Nystrom kernel above :data:`EXACT_MAX_UNITS` (``landmark_units=None``).
DEFAULT_LANDMARK_UNITS = 1024


def nystrom_features(keys: torch.Tensor, lse: torch.Tensor, landmarks: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """``Phi`` ``(N, r)`` whose Gram matrix ``Phi Phi^T`` is the Nystrom approximation, on the landmark units, of
    the implied balancing kernel ``k_hat = E_hat / (h_hat h_hat^T)`` (docs/design.md §2.3, §5.1).

    ``E_hat ~ E_hat[:, L] E_hat[L, L]^+ E_hat[L, :]``; dividing the rows by ``h_hat`` gives
    ``P = E[:, L] / h`` (the softmax of each unit over the landmarks, with its exact row sum, entries in
    ``[0, 1]``) and ``k_hat ~ P E_hat[L, L]^+ P^T``; the pseudo-inverse drops eigenvalues below ``rtol`` times
    the largest, where the exponential kernel is numerically singular.

    Args:
        keys: ``(N, D)`` keys of one dataset (``s_ij = k_i . k_j``).
        lse: ``(N,)`` exact ``log h_i = logsumexp_j s_ij``.
        landmarks: ``(M,)`` indices of the landmark units.
    """
    mask = torch.ones(1, keys.shape[0], dtype=torch.bool, device=keys.device)
    log_c = log_kernel_scale(lse.unsqueeze(0), mask)[0]
    anchor = keys[landmarks]
    probs = torch.exp(keys @ anchor.T - lse.unsqueeze(-1))
    evals, evecs = torch.linalg.eigh(torch.exp(anchor @ anchor.T - log_c))
    keep = evals > rtol * evals.max()
    return probs @ (evecs[:, keep] * evals[keep].rsqrt())


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
    landmark_units: int | None = None,
) -> PerDatasetFit:
    """Optimise CInA's balancing layer on one dataset and return its balancing weights.

    Args:
        covariates: ``(N, d)`` numeric covariates (standardised internally).
        treatment: ``(N,)`` binary treatment.
        lambda0: size-free regularisation, ``lambda = lambda0 / N**2`` (see :class:`CInAConfig`).
        temperature: kernel temperature ``t`` of the identity keys (``s_ij = t x_i . x_j / d``).
        learn_keys: also learn a linear key map (initialised at the identity) jointly with ``V``; the keys then
            change at every step, so the kernel is exact and recomputed in chunks (``O(N^2)`` per evaluation).
        covariate_clip: clip standardised covariates to ``[-clip, clip]`` (0: off), as the model does.
        smoothing_schedule: hinge smoothing widths, annealed in order (L-BFGS at each).
        max_iter: L-BFGS iterations per stage.
        progress: show a progress bar over the L-BFGS iterations of all stages.
        landmark_units: with fixed keys, the objective's kernel (module docstring): ``None`` (default) exact up
            to :data:`EXACT_MAX_UNITS` units and the Nystrom kernel on :data:`DEFAULT_LANDMARK_UNITS` landmarks
            above; ``M > 0`` the Nystrom kernel on ``M`` landmarks whenever ``N > M``; ``0`` the exact kernel at
            any size (``O(N^2)`` per evaluation).
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
    features = None
    if landmark_units is None:
        m = DEFAULT_LANDMARK_UNITS if n > EXACT_MAX_UNITS else 0
    else:
        m = int(landmark_units)
    if not learn_keys:
        if 0 < m < n:
            # one exact pass for the row sums, then the rank-M kernel: O(N M) per evaluation
            ones = torch.ones_like(base_keys[..., :1])
            with torch.no_grad():
                _, fixed_lse = chunked_attention(base_keys, base_keys, ones, mask, chunk_elements=chunk_elements)
                features = nystrom_features(base_keys[0], fixed_lse[0], landmark_indices(signs, mask, m)[0])
        elif n * n <= chunk_elements:
            # Fixed keys and a small dataset: precompute the softmax once (each step is then a mat-vec).
            scores = base_keys[0] @ base_keys[0].T
            fixed_lse = torch.logsumexp(scores, dim=-1).unsqueeze(0)
            dense_softmax = torch.exp(scores - fixed_lse[0].unsqueeze(-1))
        else:
            ones = torch.ones_like(base_keys[..., :1])
            _, fixed_lse = chunked_attention(base_keys, base_keys, ones, mask, chunk_elements=chunk_elements)

    def layer() -> BalancingLayerOutput:
        keys = base_keys @ key_map if learn_keys else base_keys
        if dense_softmax is None and features is None:
            return balancing_layer(keys, dual, signs, mask, lambda0, chunk_elements, lse=fixed_lse)
        log_h_hat = fixed_lse - log_kernel_scale(fixed_lse, mask).unsqueeze(-1)
        lam = penalty_lambda(lambda0, mask, dtype)
        scaled = dual * signs / lam.unsqueeze(-1)
        values = scaled * torch.exp(-log_h_hat)
        if features is not None:  # out = k_hat (h_hat V) with the Nystrom k_hat = Phi Phi^T
            out = features @ (features.T @ scaled[0])
        else:
            out = dense_softmax @ values[0]
        return BalancingLayerOutput(out.unsqueeze(0), values, scaled, log_h_hat, lam)

    def evaluate(smoothing: float) -> tuple[torch.Tensor, BalancingLayerOutput]:
        bal = layer()
        return balancing_objective(bal.out, bal.scaled_values, beta0, signs, mask, bal.lam, smoothing)[0], bal

    final_eps = float(smoothing_schedule[-1])
    bar = tqdm(total=len(smoothing_schedule) * max_iter, desc=f"per-dataset CInA (N={n})", unit="it",
               disable=not progress)
    for stage, eps in enumerate(smoothing_schedule):
        optimizer = torch.optim.LBFGS(
            params, lr=1.0, max_iter=max_iter, tolerance_grad=1e-12, tolerance_change=1e-14,
            history_size=50, line_search_fn="strong_wolfe",
        )

        def closure(eps: float = eps, optimizer: torch.optim.LBFGS = optimizer, stage: int = stage) -> torch.Tensor:
            optimizer.zero_grad()
            loss = evaluate(eps)[0]
            loss.backward()
            if bar.n < (stage + 1) * max_iter:  # evaluations, capped at the stage's iteration budget
                bar.update(1)
            return loss

        bar.set_postfix(eps=f"{eps:g}")
        optimizer.step(closure)
        bar.update((stage + 1) * max_iter - bar.n)  # a stage that converged early completes its share
    bar.close()
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
