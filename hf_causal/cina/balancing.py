"""Optimal covariate balancing: the math shared by CInA's layers, its exact reference and diagnostics.

Notation follows DESIGN.md §3: ``W = 2T - 1``, attention scores ``s_ij``, ``E_ij = exp(s_ij)``,
``h_i = sum_j E_ij``. We normalise ``E`` (``E_hat = E / c`` with ``c = median_i(h_i) / N``, so a
typical unit's row sum is ``N``) before applying the penalty so that the regularisation
``lambda = lambda0 / N**2`` means the same thing for every dataset size and kernel scale. The implied
kernel of the attention layer is then ``k_hat_ij = E_hat_ij / (h_hat_i h_hat_j)``, and the layer's
optimum reproduces the soft-margin SVM dual on ``k_hat`` with ``C = 1 / lambda``.

Everything that touches an ``N x N`` matrix here (:func:`implied_kernel`, :func:`svm_dual_weights`)
is a *reference* for tests and small data; the model itself only uses the chunked attention.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

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


# ---------------------------------------------------------------------------------------------
# Exact references (dense, small N)
# ---------------------------------------------------------------------------------------------


def identity_scores(x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Dense attention scores of identity keys: ``s_ij = t * x_i . x_j / d`` (x already standardised)."""
    x = np.asarray(x, dtype=np.float64)
    return temperature * (x @ x.T) / max(x.shape[1], 1)


def implied_kernel(scores: np.ndarray) -> np.ndarray:
    """The balancing kernel ``k_hat = E_hat / (h_hat h_hat^T)`` implied by attention scores (dense)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    log_h = _logsumexp_rows(scores)
    log_c = float(np.median(log_h)) - math.log(n)
    # k = E/(h h^T) is invariant to the normalisation c except for one overall factor 1/c.
    log_k = scores - log_h[:, None] - log_h[None, :] + log_c
    return np.exp(log_k)


def svm_dual_coefficients(kernel: np.ndarray, treatment: np.ndarray, lam: float, tol: float = 1e-10) -> np.ndarray:
    """Exact dual variables ``a in [0, 1]`` of the soft-margin SVM on a precomputed kernel (unnormalised).

    Solves ``min_a 1/2 a^T Q a - lam 1^T a`` s.t. ``sum_i a_i W_i = 0``, ``0 <= a_i <= 1`` with
    ``Q_ij = W_i W_j k_ij`` via libsvm (``sklearn.svm.SVC(kernel="precomputed", C=1/lam)``): ``a = lam *
    |dual_coef_|``. These are on the same scale as :class:`CInAModel`'s dual head, so they also serve as
    distillation targets (``train/pretrain_cina.py``, ``distill_weight``).
    """
    try:
        from sklearn.svm import SVC
    except ImportError as err:  # pragma: no cover - exercised only without scikit-learn
        raise ImportError("svm_dual_coefficients needs scikit-learn: pip install scikit-learn") from err
    t = np.asarray(treatment).astype(int)
    svc = SVC(kernel="precomputed", C=1.0 / lam, tol=tol, max_iter=-1, cache_size=500)
    svc.fit(np.asarray(kernel, dtype=np.float64), 2 * t - 1)
    dual = np.zeros(len(t))
    dual[svc.support_] = np.clip(lam * np.abs(svc.dual_coef_[0]), 0.0, 1.0)
    return dual


def svm_dual_weights(kernel: np.ndarray, treatment: np.ndarray, lam: float, tol: float = 1e-10) -> np.ndarray:
    """Exact optimal-balancing weights: :func:`svm_dual_coefficients` normalised within each arm."""
    return normalize_weights_np(svm_dual_coefficients(kernel, treatment, lam, tol), treatment)


def normalize_weights_np(alpha: np.ndarray, treatment: np.ndarray) -> np.ndarray:
    """Clip at 0 and normalise to sum to 1 within each arm (numpy)."""
    alpha = np.clip(np.asarray(alpha, dtype=np.float64), 0.0, None)
    t = np.asarray(treatment).astype(bool)
    out = np.zeros_like(alpha)
    for arm in (t, ~t):
        total = alpha[arm].sum()
        out[arm] = alpha[arm] / total if total > 0 else 1.0 / max(arm.sum(), 1)
    return out


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    m = a.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True)))[:, 0]


# ---------------------------------------------------------------------------------------------
# Estimand calibration and diagnostics (numpy, O(N d))
# ---------------------------------------------------------------------------------------------


def calibrate_to_target(
    x: np.ndarray,
    base: np.ndarray,
    target_mean: np.ndarray,
    ridge: float = 1e-9,
    max_iter: int = 100,
) -> tuple[np.ndarray, float]:
    """Entropy balancing: reweight ``base`` (minimum KL) so the weighted mean of ``x`` hits ``target_mean``.

    Solves the convex dual ``min_g log sum_i b_i exp(g . (x_i - m)) + ridge/2 |g|^2`` by damped Newton.
    The small ridge keeps the problem solvable when the target is (nearly) outside the convex hull of
    ``x`` (no overlap); the returned residual imbalance then says how far it fell short.

    Returns:
        ``(weights, max_abs_residual)`` with weights summing to 1.
    """
    x = np.asarray(x, dtype=np.float64)
    b = np.clip(np.asarray(base, dtype=np.float64), 0.0, None)
    if b.sum() <= 0:
        b = np.ones_like(b)
    b = b / b.sum()
    keep = b > 0
    xc = x - np.asarray(target_mean, dtype=np.float64)
    g = np.zeros(x.shape[1])

    def objective(gam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        z = xc[keep] @ gam
        zmax = z.max()
        e = b[keep] * np.exp(z - zmax)
        total = e.sum()
        p = e / total
        mean = p @ xc[keep]
        val = math.log(total) + zmax + 0.5 * ridge * gam @ gam
        return val, p, mean

    val, p, mean = objective(g)
    for _ in range(max_iter):
        grad = mean + ridge * g
        if np.max(np.abs(grad)) < 1e-10:
            break
        centred = xc[keep] - mean
        hess = (centred * p[:, None]).T @ centred + ridge * np.eye(len(g))
        step = np.linalg.solve(hess + 1e-12 * np.eye(len(g)), grad)
        t = 1.0
        while t > 1e-8:
            new_val, new_p, new_mean = objective(g - t * step)
            if new_val <= val - 1e-4 * t * grad @ step:
                break
            t *= 0.5
        else:
            break
        g = g - t * step
        val, p, mean = new_val, new_p, new_mean
    weights = np.zeros_like(b)
    weights[keep] = p
    return weights, float(np.max(np.abs(mean))) if len(mean) else 0.0


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, dtype=np.float64)
    denom = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / denom) if denom > 0 else 0.0


def standardized_mean_differences(
    x: np.ndarray, treatment: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Standardised mean difference per covariate, ``(mean_1 - mean_0) / pooled unweighted SD``.

    With ``weights`` (normalised within each arm) the means are weighted; the denominator stays the
    unweighted pooled SD so that before/after values are comparable (the usual love-plot convention).
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(treatment).astype(bool)
    if weights is None:
        m1, m0 = x[t].mean(0), x[~t].mean(0)
    else:
        w = np.asarray(weights, dtype=np.float64)
        m1 = (w[t, None] * x[t]).sum(0) / w[t].sum()
        m0 = (w[~t, None] * x[~t]).sum(0) / w[~t].sum()
    sd = np.sqrt(0.5 * (x[t].var(0) + x[~t].var(0)))
    return np.where(sd > 1e-12, (m1 - m0) / np.where(sd > 1e-12, sd, 1.0), 0.0)
