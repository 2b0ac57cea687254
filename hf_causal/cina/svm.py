"""Exact references of the balancing layer (dense, small N): the implied kernel and libsvm's SVM duals.

Everything here touches an ``N x N`` matrix; it is the ground truth of tests, of the ``svm_dual`` benchmark
peer and of pretraining's distillation targets, while the model itself only uses chunked attention
(docs/design.md §2 and §5).
"""

from __future__ import annotations

import math

import numpy as np


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
