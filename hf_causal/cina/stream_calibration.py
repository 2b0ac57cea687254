"""Entropy-balancing calibration with one pass over the rows per evaluation (docs/design.md §4.2, §4.9).

:class:`NewtonArm` runs the damped Newton iteration of :func:`hf_causal.cina.calibration.calibrate_to_target`
(same dual, ridge, stopping rule and backtracking line search; a last step too small for the objective to
resolve is taken without the line search), but as a state machine: it asks for the dual's
value, gradient and Hessian at one ``gamma`` at a time, and each answer is :class:`~.accumulators.ExpSums`
summed over the chunks (:func:`exp_sums` of one chunk). The arms of an ATE are independent problems, so one
pass answers both.
"""

from __future__ import annotations

import math

import numpy as np

from .accumulators import ExpSums

#: Squared Newton decrement below which a step is taken without the line search (see ``NewtonArm._plan``).
POLISH_DECREMENT = 1e-12


def exp_sums(features: np.ndarray, base: np.ndarray, gamma: np.ndarray, target: np.ndarray) -> ExpSums:
    """One chunk's share of the dual at ``gamma``: rows of the arm with positive base weight only (a unit with
    base weight 0 keeps weight 0)."""
    keep = base > 0
    if keep.all():
        centred, base = features - target, base
    else:
        centred, base = features[keep] - target, base[keep]
    return ExpSums.of(centred @ gamma, base, centred)


class NewtonArm:
    """Damped Newton on ``min_g log sum_i b_i exp(g . (x_i - m)) + ridge/2 |g|^2`` for one arm.

    Args:
        target: the moments ``m`` to match.
        ridge: the dual ridge (:func:`~hf_causal.cina.calibration.calibration_ridge`, docs/design.md §4.2).
        base_total: ``sum_i b_i`` over the arm (the base weights are normalised by it, as in memory).
        max_iter: Newton steps at most.
    """

    def __init__(self, target: np.ndarray, ridge: float, base_total: float, max_iter: int = 100) -> None:
        self.target = np.asarray(target, dtype=np.float64)
        self.ridge = float(ridge)
        self.log_base_total = math.log(base_total)
        self.max_iter = max_iter
        p = len(self.target)
        self.gamma = np.zeros(p)
        self.trial: np.ndarray | None = np.zeros(p)  # the first request: the objective at 0
        self.sums: ExpSums | None = None
        self.value = self.mean = self.cov = None
        self.iterations = 0
        self.done = False
        self.polish = False

    def _evaluate(self, gamma: np.ndarray, sums: ExpSums) -> tuple[float, np.ndarray, np.ndarray]:
        value = math.log(sums.total) + sums.shift - self.log_base_total + 0.5 * self.ridge * float(gamma @ gamma)
        mean = sums.first / sums.total
        return value, mean, sums.second / sums.total - np.outer(mean, mean)

    def request(self) -> np.ndarray | None:
        """The ``gamma`` whose sums the next pass must bring, or ``None`` once converged."""
        return None if self.done else self.trial

    def receive(self, sums: ExpSums) -> None:
        """The sums at the requested ``gamma``: accept or shorten the step, then plan the next request."""
        value, mean, cov = self._evaluate(self.trial, sums)
        if self.value is None:
            self._accept(self.trial, value, mean, cov, sums)
        elif self.polish:  # a step too small for the objective to resolve: take it and stop
            self._accept(self.trial, value, mean, cov, sums)
            self.iterations += 1
            self.done, self.trial = True, None
            return
        elif value <= self.value - 1e-4 * self.step_size * float(self.grad @ self.step):
            self._accept(self.trial, value, mean, cov, sums)
            self.iterations += 1
        else:
            self.step_size *= 0.5
            if self.step_size > 1e-8:
                self.trial = self.gamma - self.step_size * self.step
            else:
                self.done, self.trial = True, None
            return
        self._plan()

    def _accept(self, gamma: np.ndarray, value: float, mean: np.ndarray, cov: np.ndarray, sums: ExpSums) -> None:
        self.gamma, self.value, self.mean, self.cov, self.sums = gamma, value, mean, cov, sums

    def _plan(self) -> None:
        self.grad = self.mean + self.ridge * self.gamma
        if self.iterations >= self.max_iter or np.max(np.abs(self.grad), initial=0.0) < 1e-10:
            self.done, self.trial = True, None
            return
        p = len(self.gamma)
        hess = self.cov + self.ridge * np.eye(p)
        self.step = np.linalg.solve(hess + 1e-12 * np.eye(p), self.grad)
        self.step_size = 1.0
        self.trial = self.gamma - self.step
        # Near the optimum the decrease a Newton step promises (half the squared Newton decrement) falls below the
        # rounding of a sum over millions of rows, and the line search would halve the step ~27 times, one pass
        # each, on noise. Such a step is taken without the test; the iteration then ends.
        self.polish = float(self.grad @ self.step) < POLISH_DECREMENT * max(1.0, abs(self.value))

    @property
    def residual(self) -> float:
        """Largest absolute gap left between the weighted and the target moments."""
        return float(np.max(np.abs(self.mean))) if self.mean is not None and len(self.mean) else 0.0

    def weights(self, features: np.ndarray, base: np.ndarray) -> np.ndarray:
        """The calibrated weights of a chunk's rows of this arm: ``b_i exp(g . (x_i - m)) / sum``, summing to 1
        over the arm (0 where ``b_i = 0``)."""
        out = np.zeros(len(base))
        keep = base > 0
        z = (features[keep] - self.target) @ self.gamma
        out[keep] = base[keep] * np.exp(z - self.sums.shift) / self.sums.total
        return out
