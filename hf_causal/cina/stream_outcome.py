"""Outcome regressions from normal equations summed over chunks (docs/design.md §4.4, §4.6, §4.9).

:class:`ArmRidge` is the kernel ridge model of :func:`hf_causal.cina.outcome.ridge_loo` rebuilt from the
co-moments of ``[design, y]`` (its centred Gram matrix and cross-products, summed over the chunks): the same
eigendecomposition, the same penalties, the same exact leave-one-out choice, whose scores take one more pass
over the fit rows. :class:`ArmLeastSquares` is the per-arm least-squares fit behind the interval without an
outcome model (``residual_std_error``). Nothing here holds a row: rows come chunk by chunk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .accumulators import CoMoments
from .outcome import RIDGE_PENALTIES


def rbf_kernel(x: np.ndarray, rbf: Any) -> np.ndarray:
    """``K(x, L) = exp(-|x - l|^2 / bandwidth)`` against ``rbf``'s landmarks, in place (a chunk's ``n x 200``
    matrix is the largest temporary of the outcome passes); ``K(x, L) @ rbf.projection`` are its features."""
    landmarks = rbf.landmarks
    k = x @ landmarks.T
    k *= 2.0
    k -= (x**2).sum(1)[:, None]
    k -= (landmarks**2).sum(1)[None, :]
    np.minimum(k, 0.0, out=k)
    k /= rbf.bandwidth
    return np.exp(k, out=k)


class ArmRidge:
    """Ridge regression of ``y`` on a design with an unpenalised intercept, from the co-moments of ``[design, y]``.

    After :meth:`choose` (with the summed :meth:`loo_sums` of the fit rows) it predicts, and gives the exact
    leave-one-out residuals of the fit rows, as :class:`hf_causal.cina.outcome.RidgeFit` does.
    """

    def __init__(
        self,
        co: CoMoments,
        feature_range: tuple[np.ndarray, np.ndarray] | None = None,
        penalties: tuple[float, ...] = RIDGE_PENALTIES,
    ) -> None:
        p = len(co.mean) - 1
        self.n = co.n
        self.mean_z, self.mean_y = co.mean[:p], float(co.mean[p])
        eig, self.vectors = np.linalg.eigh(co.cross[:p, :p])
        self.eig = np.clip(eig, 0.0, None)
        self.zty = self.vectors.T @ co.cross[:p, p]
        self.penalties = penalties
        self.penalty: float | None = None
        #: per-column ``(low, high)`` of the balanced features over the fit rows (inputs are clipped to it)
        self.feature_range = feature_range

    def _projected(self, design: np.ndarray) -> np.ndarray:
        return (design - self.mean_z) @ self.vectors

    def loo_sums(self, design: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Sum over these fit rows of the squared leave-one-out residual, for every penalty."""
        projected = self._projected(design)
        projected_sq = projected**2
        yc = y - self.mean_y
        out = np.empty(len(self.penalties))
        for k, penalty in enumerate(self.penalties):
            shrink = 1.0 / (self.eig + penalty)
            residual = yc - projected @ (shrink * self.zty)
            leverage = 1.0 / self.n + projected_sq @ shrink
            out[k] = np.sum((residual / np.clip(1.0 - leverage, 1e-6, None)) ** 2)
        return out

    def choose(self, loo_sums: np.ndarray) -> None:
        """Keep the penalty with the smallest mean squared leave-one-out error (the first, on a tie)."""
        scores = np.asarray(loo_sums) / self.n
        best = min(range(len(scores)), key=lambda k: (scores[k], k))
        self.penalty = self.penalties[best]
        self.loo_mse = float(scores[best])
        self.shrink = 1.0 / (self.eig + self.penalty)
        self.coef = self.vectors @ (self.shrink * self.zty)
        self.intercept = self.mean_y - float(self.mean_z @ self.coef)

    def predict(self, design: np.ndarray) -> np.ndarray:
        return design @ self.coef + self.intercept

    def predict_parts(self, features: np.ndarray, kernel: np.ndarray, rbf: Any) -> np.ndarray:
        """:meth:`predict` of the design ``[features, kernel @ rbf.projection]`` without forming it: the
        projection is applied to the coefficients instead (``200 x 200`` once, not per row)."""
        p = features.shape[1]
        folded = getattr(self, "_folded", None)
        if folded is None:
            folded = self._folded = rbf.projection @ self.coef[p:]
        return features @ self.coef[:p] + kernel @ folded + self.intercept

    def loo_residuals(self, design: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Exact leave-one-out residuals of fit rows at the chosen penalty."""
        projected = self._projected(design)
        residual = (y - self.mean_y) - projected @ (self.shrink * self.zty)
        leverage = 1.0 / self.n + projected**2 @ self.shrink
        return residual / np.clip(1.0 - leverage, 1e-6, None)


class ArmLeastSquares:
    """Least squares of ``y`` on ``[1, g]`` from the co-moments of ``[g, y]``: the minimum-norm solution and the
    rank of numpy's ``lstsq`` / ``matrix_rank`` on the design (to within their tolerance), so residuals and degrees
    of freedom match."""

    def __init__(self, co: CoMoments) -> None:
        p = len(co.mean) - 1
        self.n = co.n
        self.mean_g, self.mean_y = co.mean[:p], float(co.mean[p])
        eig, vectors = np.linalg.eigh(co.cross[:p, :p])
        # Directions whose eigenvalue is within rounding of 0 are collinear columns (one-hot levels and the
        # intercept, say): dropped, as numpy's rank tolerance drops them from the design itself. The Gram matrix
        # squares the design's condition number, so the tolerance is on eigenvalues, not singular values.
        tol = max(eig.max(initial=0.0), 0.0) * max(self.n, p + 1) * np.finfo(np.float64).eps
        keep = eig > tol
        self.beta = vectors[:, keep] @ ((vectors[:, keep].T @ co.cross[:p, p]) / eig[keep])
        self.rank = 1 + int(keep.sum())  # the intercept is orthogonal to the centred columns
        self.dof = max(self.n - self.rank, 1.0)

    def residuals(self, g: np.ndarray, y: np.ndarray) -> np.ndarray:
        return y - self.mean_y - (g - self.mean_g) @ self.beta
