"""Outcome models that augment CInA's balancing weights (augmented balancing weights, doubly robust).

Balancing weights remove the bias of outcomes that are linear in the balanced features; what is left comes
from the outcome's non-linear part. :func:`kernel_outcome_predictions` fits, per arm, a ridge regression of the
outcome on the balanced features plus random-landmark RBF kernel features (a Nyström approximation of kernel
ridge regression), choosing the penalty by exact leave-one-out error. :func:`augmented_effect` then corrects
the outcome model's prediction for the target population with the weighted residuals:

    mu_a = sum_i p_i m_a(x_i) + sum_{i: T_i = a} w_i (Y_i - m_a(x_i)),    effect = mu_1 - mu_0,

with ``p`` the target population (uniform over all units, the treated, or the controls). Where the target arm
itself is the population (the treated for the ATT), its weights are ``p`` and the correction returns its
observed mean exactly. Everything is numpy; the cost is a few ``N x P`` matrix products (``P`` = features +
landmarks), no ``N x N`` matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIDGE_PENALTIES = tuple(10.0 ** (k / 2) for k in range(-6, 7))  # 1e-3 ... 1e3, half-decade steps


def rbf_landmark_features(x_std: np.ndarray, n_landmarks: int = 300, seed: int = 0) -> np.ndarray:
    """``(N, <= n_landmarks)`` Nyström features of the RBF kernel ``exp(-|x - x'|^2 / (2 d))``.

    Landmarks are a seeded sample of the units; the features ``K(x, L) U S^{-1/2}`` (``K(L, L) = U S U^T``)
    reproduce the kernel on the span of the landmarks. The bandwidth ``d`` (number of standardised columns)
    keeps typical squared distances (``~2d``) in the kernel's working range for any ``d``.
    """
    n, d = x_std.shape
    rng = np.random.default_rng(seed)
    landmarks = x_std[rng.choice(n, size=min(n, n_landmarks), replace=False)]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
        return np.exp(-np.maximum(sq, 0.0) / (2.0 * max(d, 1)))

    values, vectors = np.linalg.eigh(kernel(landmarks, landmarks))
    keep = values > 1e-6 * values.max()
    return kernel(x_std, landmarks) @ (vectors[:, keep] / np.sqrt(values[keep]))


@dataclass
class RidgeFit:
    """A ridge regression with an unpenalised intercept and its leave-one-out residuals on the training rows."""

    coef: np.ndarray
    intercept: float
    penalty: float
    loo_residuals: np.ndarray

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predictions for rows of ``features``."""
        return features @ self.coef + self.intercept


def ridge_loo(features: np.ndarray, y: np.ndarray, penalties: tuple[float, ...] = RIDGE_PENALTIES) -> RidgeFit:
    """Ridge regression of ``y`` on ``features``, the penalty chosen by exact leave-one-out error.

    Uses the eigendecomposition of the ``P x P`` Gram matrix of the centred features, so the cost is
    ``O(N P^2)`` whatever the number of penalties tried; the LOO residuals are ``r_i / (1 - h_ii)`` with
    ``h`` the hat matrix (including the intercept's ``1/n``).
    """
    n = len(y)
    mean_z, mean_y = features.mean(0), float(y.mean())
    z, yc = features - mean_z, y - mean_y
    eig, vectors = np.linalg.eigh(z.T @ z)
    eig = np.clip(eig, 0.0, None)
    projected = z @ vectors  # (n, P)
    zty = vectors.T @ (z.T @ yc)
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for penalty in penalties:
        shrink = 1.0 / (eig + penalty)
        coef_eig = shrink * zty
        residual = yc - projected @ coef_eig
        leverage = 1.0 / n + (projected**2) @ shrink
        loo = residual / np.clip(1.0 - leverage, 1e-6, None)
        score = float(np.mean(loo**2))
        if best is None or score < best[0]:
            best = (score, penalty, coef_eig, loo)
    _, penalty, coef_eig, loo = best
    coef = vectors @ coef_eig
    return RidgeFit(coef=coef, intercept=mean_y - float(mean_z @ coef), penalty=penalty, loo_residuals=loo)


def kernel_outcome_predictions(
    x_std: np.ndarray,
    features: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    n_landmarks: int = 300,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-arm outcome models on ``[features, RBF landmark features of x_std]``.

    Returns ``(m1, m0, residuals)``: predictions of both arms' models for every unit, and each unit's
    leave-one-out residual under its own arm's model (for the standard error).
    """
    design = np.column_stack([features, rbf_landmark_features(x_std, n_landmarks, seed)])
    t = treatment.astype(bool)
    predictions, residuals = [], np.zeros(len(outcome))
    for arm in (t, ~t):
        fit = ridge_loo(design[arm], outcome[arm])
        predictions.append(fit.predict(design))
        residuals[arm] = fit.loo_residuals
    return predictions[0], predictions[1], residuals


def target_population(treatment: np.ndarray, estimand: str) -> np.ndarray:
    """Weights ``p`` (summing to 1) of the population an estimand averages over."""
    t = treatment.astype(bool)
    members = {"ate": np.ones(len(t), dtype=bool), "att": t, "atc": ~t}.get(estimand)
    if members is None:
        raise ValueError(f"an outcome model augments 'ate', 'att' or 'atc', not {estimand!r}")
    return members / members.sum()


def augmented_effect(
    weights: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    m1: np.ndarray,
    m0: np.ndarray,
    estimand: str,
) -> float:
    """``mu_1 - mu_0`` with ``mu_a = sum_i p_i m_a(x_i) + sum_{T_i = a} w_i (Y_i - m_a(x_i))`` (module docstring)."""
    p = target_population(treatment, estimand)
    t = treatment.astype(bool)
    mu1 = float(p @ m1 + weights[t] @ (outcome[t] - m1[t]))
    mu0 = float(p @ m0 + weights[~t] @ (outcome[~t] - m0[~t]))
    return mu1 - mu0
