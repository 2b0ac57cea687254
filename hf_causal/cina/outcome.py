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

The number of landmarks (200) was chosen on held-out validation datasets: more landmarks cost time without a
measurable gain in accuracy. See docs/design.md §4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RIDGE_PENALTIES = tuple(10.0 ** (k / 2) for k in range(-6, 7))  # 1e-3 ... 1e3, half-decade steps


class RBFLandmarkFeatures:
    """Nyström features of the RBF kernel ``exp(-|x - x'|^2 / (2 d))`` on a seeded sample of landmark units.

    ``features(x) = K(x, L) U S^{-1/2}`` with ``K(L, L) = U S U^T`` reproduces the kernel on the span of the
    landmarks. The bandwidth ``d`` (number of standardised columns) keeps typical squared distances (``~2d``)
    in the kernel's working range for any ``d``.
    """

    def __init__(self, x_std: np.ndarray, n_landmarks: int = 200, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._fit(x_std[rng.choice(len(x_std), size=min(len(x_std), n_landmarks), replace=False)])

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> RBFLandmarkFeatures:
        """The features on given landmark rows (standardised covariates): what a streamed estimate builds from
        the rows its seeded draw picked (docs/design.md §4.9)."""
        self = cls.__new__(cls)
        self._fit(np.asarray(landmarks, dtype=np.float64))
        return self

    def _fit(self, landmarks: np.ndarray) -> None:
        self.landmarks = landmarks
        self.bandwidth = 2.0 * max(landmarks.shape[1], 1)
        values, vectors = np.linalg.eigh(self._kernel(self.landmarks))
        keep = values > 1e-6 * values.max()
        self.projection = vectors[:, keep] / np.sqrt(values[keep])

    def _kernel(self, x: np.ndarray) -> np.ndarray:
        sq = (x**2).sum(1)[:, None] + (self.landmarks**2).sum(1)[None, :] - 2.0 * x @ self.landmarks.T
        return np.exp(-np.maximum(sq, 0.0) / self.bandwidth)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(len(x), n_features)`` features of standardised rows ``x``."""
        return self._kernel(x) @ self.projection


@dataclass
class RidgeFit:
    """A ridge regression with an unpenalised intercept, its leave-one-out residuals and leverages on the training
    rows, and the mean squared leave-one-out error of the chosen penalty."""

    coef: np.ndarray
    intercept: float
    penalty: float
    loo_residuals: np.ndarray
    leverage: np.ndarray | None = None
    loo_mse: float = float("nan")
    mean_features: np.ndarray | None = None
    eigenvalues: np.ndarray | None = None
    eigenvectors: np.ndarray | None = None
    n_rows: int = 0

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predictions for rows of ``features``."""
        return features @ self.coef + self.intercept

    def prediction_sd(self, features: np.ndarray) -> np.ndarray:
        """Standard deviation of the fitted mean at rows of ``features``, with the noise variance estimated by
        the leave-one-out error: ``sigma^2 (1/n + sum_k p_k^2 e_k / (e_k + penalty)^2)``, ``p`` the rows'
        centred features in the Gram matrix's eigenbasis (the ridge estimate's sampling variance; its
        shrinkage bias is not included)."""
        projected = (features - self.mean_features) @ self.eigenvectors
        factor = self.eigenvalues / (self.eigenvalues + self.penalty) ** 2
        return np.sqrt(self.loo_mse * (1.0 / self.n_rows + projected**2 @ factor))


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
    projected_sq = projected**2
    zty = vectors.T @ (z.T @ yc)
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for penalty in penalties:
        shrink = 1.0 / (eig + penalty)
        coef_eig = shrink * zty
        residual = yc - projected @ coef_eig
        leverage = 1.0 / n + projected_sq @ shrink
        loo = residual / np.clip(1.0 - leverage, 1e-6, None)
        score = float(np.mean(loo**2))
        if best is None or score < best[0]:
            best = (score, penalty, coef_eig, loo, leverage)
    score, penalty, coef_eig, loo, leverage = best
    coef = vectors @ coef_eig
    return RidgeFit(coef=coef, intercept=mean_y - float(mean_z @ coef), penalty=penalty, loo_residuals=loo,
                    leverage=leverage, loo_mse=score, mean_features=mean_z, eigenvalues=eig, eigenvectors=vectors,
                    n_rows=n)


class KernelOutcomeModel:
    """Per-arm ridge regressions of the outcome on ``[features, RBF landmark features of x_std]``, fitted once
    and evaluated at any rows (the outcome model of ``outcome_model="kernel"``, and the base the in-context
    outcome network corrects; docs/design.md §4.4).

    Each arm's model is fitted on at most ``max_fit_units`` of its units (a seeded sample: a 200-landmark kernel
    model gains nothing from millions of rows, and the design matrix would not fit in memory); predictions are
    made in chunks of ``chunk_rows``.

    Attributes:
        fits: ``(treated, control)`` :class:`RidgeFit` of each arm.
        residuals: each training unit's out-of-sample residual under its own arm's model (leave-one-out for
            the units a model was fitted on).
        leverage: each training unit's leverage in its own arm's fit (0 for units outside the fit sample).
    """

    def __init__(
        self,
        x_std: np.ndarray,
        features: np.ndarray,
        treatment: np.ndarray,
        outcome: np.ndarray,
        n_landmarks: int = 200,
        seed: int = 0,
        max_fit_units: int = 50_000,
        chunk_rows: int = 65_536,
    ) -> None:
        self.rbf = RBFLandmarkFeatures(x_std, n_landmarks, seed)
        self.chunk_rows = chunk_rows
        rng = np.random.default_rng(seed)
        t = treatment.astype(bool)
        n = len(outcome)
        # one design matrix when it is small enough (the usual case); chunks of rows otherwise
        self._design = np.column_stack([features, self.rbf(x_std)]) if n <= chunk_rows else None
        self._x_std, self._features = x_std, features
        fits, self.residuals, is_fitted = [], np.zeros(n), np.zeros(n, dtype=bool)
        self.leverage = np.zeros(n)
        ranges = []
        for arm in (t, ~t):
            members = np.flatnonzero(arm)
            fitted = members if len(members) <= max_fit_units else np.sort(
                rng.choice(members, max_fit_units, replace=False)
            )
            fit = ridge_loo(self._training_rows(fitted), outcome[fitted])
            fits.append(fit)
            ranges.append((features[fitted].min(0), features[fitted].max(0), x_std[fitted].min(0), x_std[fitted].max(0)))
            self.residuals[fitted] = fit.loo_residuals
            self.leverage[fitted] = fit.leverage
            is_fitted[fitted] = True
        self.fits = tuple(fits)
        #: ``(treated, control)``: per-column ``(low, high)`` of the balanced features, then of the standardised
        #: covariates, over each arm's fit rows (:meth:`_within_arm`)
        self.input_ranges = tuple(ranges)
        self.m1, self.m0 = self._predict_training_rows()
        for arm, pred in ((t, self.m1), (~t, self.m0)):
            unfitted = arm & ~is_fitted  # units outside the fit sample: their residuals are out-of-sample already
            self.residuals[unfitted] = outcome[unfitted] - pred[unfitted]

    def _training_rows(self, index: np.ndarray | slice) -> np.ndarray:
        if self._design is not None:
            return self._design[index]
        return self.design(self._x_std[index], self._features[index])

    def _within_arm(self, x_std: np.ndarray, features: np.ndarray, block: np.ndarray, arm: int) -> np.ndarray:
        """The design ``block`` of these rows as arm ``arm`` (0 treated, 1 control) predicts them: rows outside
        the arm's fit range in some input column are rebuilt from inputs clipped to that range.

        The features hold squares of the covariates and the Nyström features whiten the kernel: a unit beyond an
        arm's observed range (a skewed covariate's tail seen in one arm only) would get that arm's fit
        extrapolated without bound, by tens of outcome SDs on the benchmark's skewed covariates. Clipped, it is
        predicted as at the edge of what the arm saw (docs/design.md §4.4). The arm's own fit rows are inside
        its range, so the fit and its leave-one-out residuals do not change."""
        f_low, f_high, x_low, x_high = self.input_ranges[arm]
        outside = ((features < f_low) | (features > f_high)).any(1) | ((x_std < x_low) | (x_std > x_high)).any(1)
        if not outside.any():
            return block
        block = block.copy()
        block[outside] = self.design(np.clip(x_std[outside], x_low, x_high), np.clip(features[outside], f_low, f_high))
        return block

    def _predict_training_rows(self) -> tuple[np.ndarray, np.ndarray]:
        n = len(self._x_std)
        m1, m0 = np.empty(n), np.empty(n)
        for start in range(0, n, self.chunk_rows):
            rows = slice(start, start + self.chunk_rows)
            block, x_std, features = self._training_rows(rows), self._x_std[rows], self._features[rows]
            m1[rows] = self.fits[0].predict(self._within_arm(x_std, features, block, 0))
            m0[rows] = self.fits[1].predict(self._within_arm(x_std, features, block, 1))
        return m1, m0

    def design(self, x_std: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The regression's inputs for rows given as standardised covariates and balanced features."""
        return np.column_stack([features, self.rbf(x_std)])

    def predict(self, x_std: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(m1, m0, sd1, sd0)`` at new rows: both arms' predictions and their sampling standard deviations."""
        out = [np.empty(len(x_std)) for _ in range(4)]
        for start in range(0, len(x_std), self.chunk_rows):
            rows = slice(start, start + self.chunk_rows)
            block = self.design(x_std[rows], features[rows])
            treated, control = self.fits
            block1 = self._within_arm(x_std[rows], features[rows], block, 0)
            block0 = self._within_arm(x_std[rows], features[rows], block, 1)
            out[0][rows], out[1][rows] = treated.predict(block1), control.predict(block0)
            out[2][rows], out[3][rows] = treated.prediction_sd(block1), control.prediction_sd(block0)
        return out[0], out[1], out[2], out[3]


def kernel_outcome_predictions(
    x_std: np.ndarray, features: np.ndarray, treatment: np.ndarray, outcome: np.ndarray, **options: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-arm outcome models (:class:`KernelOutcomeModel`, ``options`` its settings) evaluated on their own units.

    Returns ``(m1, m0, residuals)``: predictions of both arms' models for every unit, and each unit's
    out-of-sample residual under its own arm's model (leave-one-out for the units it was fitted on), for the
    standard error.
    """
    model = KernelOutcomeModel(x_std, features, treatment, outcome, **options)
    return model.m1, model.m0, model.residuals


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
