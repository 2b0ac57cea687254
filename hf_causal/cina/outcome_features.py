"""What the in-context outcome network reads about a dataset: per-unit inputs built around the kernel model.

:func:`outcome_context` fits the kernel outcome model (:class:`~hf_causal.cina.outcome.KernelOutcomeModel`) on
the context rows ``(X, T, Y)`` and describes every row (context rows and, optionally, new rows without ``T`` or
``Y``) by :data:`N_UNIT_FEATURES` numbers in standardised outcome units: its arm, its outcome, both arms' kernel
predictions and its own arm's leave-one-out prediction and leverage, and dataset-level facts (size, arm shares,
the kernel fits' penalties and leave-one-out errors). The network adds kernel smooths of the outcomes and of
the kernel model's residuals at several bandwidths (docs/design.md §4.8) and predicts corrections to the kernel
predictions, so an untrained network *is* the kernel model.

numpy only; :func:`hf_causal.cina.collate.pad_outcome_contexts` batches contexts for the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .calibration import CovariateMap
from .outcome import KernelOutcomeModel

#: Per-unit inputs of the outcome network (the order of :data:`UNIT_FEATURES`).
UNIT_FEATURES = (
    "sign",  # +1 treated, -1 control, 0 a new row
    "is_new",
    "y",  # standardised outcome (0 on new rows)
    "kernel_mu0",
    "kernel_mu1",
    "kernel_effect",
    "own_loo",  # own arm's leave-one-out prediction (0 on new rows)
    "own_leverage",
    "log_n",
    "log_d",
    "log_share_treated",
    "log_share_control",
    "log_penalty_treated",
    "log_penalty_control",
    "loo_mse_treated",
    "loo_mse_control",
)
N_UNIT_FEATURES = len(UNIT_FEATURES)


@dataclass
class OutcomeContext:
    """One dataset as the outcome network sees it (rows: the context rows, then the new rows).

    Attributes:
        x: ``(R, d)`` covariates of every row (the network standardises them over the context rows).
        signs: ``(R,)`` +1 treated, -1 control, 0 for new rows.
        y: ``(R,)`` standardised outcomes (0 on new rows).
        kernel_mu: ``(R, 2)`` the kernel model's ``[mu0, mu1]`` (standardised).
        kernel_sd: ``(R, 2)`` their sampling standard deviations (standardised).
        kernel_residuals: ``(R,)`` own-arm leave-one-out residuals (standardised; 0 on new rows).
        unit_features: ``(R, N_UNIT_FEATURES)`` float32 inputs.
        y_mean, y_scale: the outcome's standardisation (``y = (Y - y_mean) / y_scale``).
        n_context: number of context rows.
        unscaled: the outcome is constant up to rounding, so ``y_scale`` is 1 and ``y`` is not in SDs: the network,
            which reads and predicts standardised outcomes, has nothing to read.
    """

    x: np.ndarray
    signs: np.ndarray
    y: np.ndarray
    kernel_mu: np.ndarray
    kernel_sd: np.ndarray
    kernel_residuals: np.ndarray
    unit_features: np.ndarray
    y_mean: float
    y_scale: float
    n_context: int
    unscaled: bool = False


def outcome_context(
    x: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    x_new: np.ndarray | None = None,
    moments: int = 2,
    n_landmarks: int = 200,
    seed: int = 0,
) -> OutcomeContext:
    """Fit the kernel model on ``(x, treatment, outcome)`` and describe its rows (and ``x_new``'s) for the network.

    Inputs are validated numpy arrays (``treatment`` 0/1 with both arms; see :mod:`hf_causal.cina.inputs`).
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(treatment).astype(np.int64)
    y_raw = np.asarray(outcome, dtype=np.float64)
    n = len(t)
    y_mean, y_scale = float(y_raw.mean()), float(y_raw.std())
    # relative to the outcome's level: an outcome in tiny units (1e-14, say) is standardised like any other; only
    # one constant up to rounding keeps the unit scale
    unscaled = not y_scale > 1e-12 * max(abs(y_mean), np.finfo(np.float64).tiny)
    y_scale = 1.0 if unscaled else y_scale
    y = (y_raw - y_mean) / y_scale
    covariates = CovariateMap(x, moments)
    rows = x if x_new is None else np.vstack([x, np.asarray(x_new, dtype=np.float64)])
    n_rows = len(rows)
    rows_std, rows_balanced = covariates.standardized(rows), covariates.balanced(rows)  # context rows come first
    x_std = rows_std[:n]
    kernel = KernelOutcomeModel(x_std, rows_balanced[:n], t, y, n_landmarks=n_landmarks, seed=seed)
    mu1, mu0, sd1, sd0 = kernel.predict(rows_std, rows_balanced)
    treated = t == 1
    signs = np.zeros(n_rows)
    signs[:n] = np.where(treated, 1.0, -1.0)
    y_rows = np.zeros(n_rows)
    y_rows[:n] = y
    residuals = np.zeros(n_rows)
    residuals[:n] = kernel.residuals
    own_loo = np.zeros(n_rows)
    own_loo[:n] = y - kernel.residuals
    leverage = np.zeros(n_rows)
    leverage[:n] = kernel.leverage
    fit1, fit0 = kernel.fits
    scalars = [
        math.log(n),
        math.log(max(x.shape[1], 1)),
        math.log(treated.mean()),
        math.log(1.0 - treated.mean()),
        math.log10(fit1.penalty),
        math.log10(fit0.penalty),
        min(fit1.loo_mse, 10.0),
        min(fit0.loo_mse, 10.0),
    ]
    per_unit = np.column_stack(
        [signs, (signs == 0).astype(np.float64), y_rows, mu0, mu1, mu1 - mu0, own_loo, leverage]
        + [np.full(n_rows, v) for v in scalars]
    )
    return OutcomeContext(
        x=rows,
        signs=signs,
        y=y_rows,
        kernel_mu=np.column_stack([mu0, mu1]),
        kernel_sd=np.column_stack([sd0, sd1]),
        kernel_residuals=residuals,
        unit_features=per_unit.astype(np.float32),
        y_mean=y_mean,
        y_scale=y_scale,
        n_context=n,
        unscaled=unscaled,
    )
