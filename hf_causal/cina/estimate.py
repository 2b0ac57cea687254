"""User-facing treatment-effect estimates from CInA balancing weights.

Estimands (say which one you want; the defaults differ across libraries):

* ``"overlap"``: the raw balancing-SVM weights. They balance treated against controls, so with
  heterogeneous effects they target an overlap-weighted population (DESIGN.md §3).
* ``"ate"``: both arms' weights are recalibrated (minimum-KL, entropy balancing with the CInA weights as
  base weights) so that each arm's weighted covariate moments match the full sample's, up to a ridge
  tolerance of the order of sampling noise (dual ridge ``1/n_arm``).
* ``"att"``: treated units get weight ``1/N1``; controls are recalibrated to the treated moments.
* ``"atc"``: controls get ``1/N0``; treated are recalibrated to the control moments.

Which moments (``moments=``): ``2`` (default) balances the means of the standardised covariates and of the
squares of the non-binary ones; ``1`` balances means only. Balancing second moments removes the bias of
outcomes that are non-linear in a covariate (measured on the benchmark suites, ``benchmarks/results/ate.md``:
ACIC 2016 MAE 0.42 -> 0.20, LaLonde NSW+PSID relative error 14% -> 2%, held-out synthetic validation
0.103 -> 0.099), at a small cost where an arm is tiny and the covariates many (IHDP-A 0.123 -> 0.131).

Outcome model (``outcome_model=``): ``"kernel"`` (default for ``ate``/``att``/``atc``) adds a per-arm kernel
ridge regression of the outcome (:mod:`hf_causal.cina.outcome`) and corrects its prediction with the
weighted residuals (augmented balancing weights: consistent if either the weights balance the outcome's
features or the outcome model is right); ``"none"`` returns the weighted difference ``sum_i w_i W_i Y_i``.
On the benchmark suites the kernel augmentation lowered the MAE on 10 of 12 suites (ACIC 2016 0.20 -> 0.18,
the large-N family 0.073 -> 0.029; validation 0.099 -> 0.096) and raised it slightly on IHDP-A and the
strong-confounding family.
``"overlap"`` is never augmented.

Interval: conditional on the covariates and treatments (a sample estimand), ``Var = sum_i w_i^2 r_i^2``
with ``r_i`` the leave-one-out residuals of the kernel outcome model, or without one the residuals of a per-arm
least-squares regression of the outcome on the balanced features (degrees-of-freedom corrected), and a normal
95% interval ``value +- 1.96 SE``. It ignores the bias of imperfect balance and of the outcome model, so trust
it only where the balance table shows small SMDs after weighting.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .balancing import (
    calibrate_to_target,
    effective_sample_size,
    standardized_mean_differences,
)
from .inputs import encode_covariates, validate_outcome, validate_treatment
from .outcome import augmented_effect, kernel_outcome_predictions

ESTIMANDS = ("ate", "att", "atc", "overlap")
METHODS = ("cina-zs", "cina")
MOMENTS = (1, 2)
OUTCOME_MODELS = ("kernel", "none")


def check_estimator_options(moments: int = 2, outcome_model: str = "kernel") -> None:
    """Raise a ``ValueError`` naming the bad option (``moments`` in :data:`MOMENTS`, ``outcome_model`` in
    :data:`OUTCOME_MODELS`)."""
    if moments not in MOMENTS:
        raise ValueError(f"moments must be one of {MOMENTS}, got {moments!r}")
    if outcome_model not in OUTCOME_MODELS:
        raise ValueError(f"outcome_model must be one of {OUTCOME_MODELS}, got {outcome_model!r}")
Z_95 = 1.959963984540054


def _pyplot() -> Any:
    try:  # inside try: remote-code users of a pushed checkpoint need matplotlib only to plot
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from err
    return plt


class OverlapWarning(UserWarning):
    """Raised (as a warning) when the weights concentrate on very few units: overlap is poor."""


@dataclass
class EffectEstimate:
    """A treatment-effect estimate with its weights and diagnostics.

    Attributes:
        value: the point estimate.
        ci_low, ci_high: the 95% interval (see the module docstring for how it is computed).
        std_error: the standard error behind the interval.
        estimand: ``"ate"``, ``"att"``, ``"atc"`` or ``"overlap"``.
        method: ``"cina-zs"`` (zero-shot forward pass) or ``"cina"`` (per-dataset optimisation).
        weights: ``(N,)`` weights, non-negative, summing to 1 within each arm.
        treatment: ``(N,)`` the 0/1 treatment the weights refer to.
        ess_treated, ess_control: Kish effective sample sizes of each arm's weights.
        balance: DataFrame indexed by covariate with ``smd_before`` and ``smd_after``.
        n: number of units; seconds: wall time of the estimate.
        max_residual_imbalance: largest standardised mean gap left after calibration (0 for "overlap").
        outcome_model: ``"kernel"`` when an outcome model augmented the weights, else ``"none"``.
    """

    value: float
    ci_low: float
    ci_high: float
    std_error: float
    estimand: str
    method: str
    weights: np.ndarray = field(repr=False)
    treatment: np.ndarray = field(repr=False)
    ess_treated: float = 0.0
    ess_control: float = 0.0
    balance: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    n: int = 0
    seconds: float = 0.0
    max_residual_imbalance: float = 0.0
    outcome_model: str = "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-unit arrays)."""
        return {
            "estimate": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "std_error": self.std_error,
            "estimand": self.estimand,
            "method": self.method,
            "outcome_model": self.outcome_model,
            "n": self.n,
            "n_treated": int(self.treatment.sum()),
            "ess_treated": self.ess_treated,
            "ess_control": self.ess_control,
            "max_abs_smd_before": float(self.balance["smd_before"].abs().max()) if len(self.balance) else None,
            "max_abs_smd_after": float(self.balance["smd_after"].abs().max()) if len(self.balance) else None,
            "seconds": self.seconds,
        }

    def to_json(self) -> str:
        """One-line JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict())

    def summary(self) -> str:
        """A short human-readable report."""
        d = self.to_dict()
        return (
            f"{self.estimand.upper()} ({self.method}): {self.value:.4g}  95% CI [{self.ci_low:.4g}, {self.ci_high:.4g}]\n"
            f"n={self.n} (treated {d['n_treated']}), ESS treated {self.ess_treated:.1f}, control {self.ess_control:.1f}\n"
            f"max |SMD| before {d['max_abs_smd_before']:.3f} -> after {d['max_abs_smd_after']:.3f}; {self.seconds:.2f}s"
        )

    def plot_balance(self, ax: Any = None, top: int = 30) -> Any:
        """Love plot: absolute standardised mean differences before and after weighting."""
        plt = _pyplot()
        table = self.balance.reindex(self.balance["smd_before"].abs().sort_values().index)[-top:]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.25 * len(table) + 1.5))
        y = np.arange(len(table))
        ax.scatter(table["smd_before"].abs(), y, marker="o", facecolors="none", edgecolors="tab:red", label="before")
        ax.scatter(table["smd_after"].abs(), y, marker="o", color="tab:blue", label="after")
        ax.axvline(0.1, color="grey", linestyle="--", linewidth=0.8)
        ax.set_yticks(y, table.index)
        ax.set_xlabel("|standardised mean difference|")
        ax.set_title(f"Covariate balance ({self.method}, {self.estimand})")
        ax.legend(loc="lower right")
        return ax

    def plot_weights(self, ax: Any = None, bins: int = 40) -> Any:
        """Histogram of the weights (scaled by arm size, so 1 = uniform) in each arm."""
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        t = self.treatment.astype(bool)
        for arm, label, color in ((t, "treated", "tab:orange"), (~t, "control", "tab:blue")):
            ax.hist(self.weights[arm] * arm.sum(), bins=bins, alpha=0.6, label=label, color=color)
        ax.set_xlabel("weight x arm size (1 = uniform)")
        ax.set_ylabel("units")
        ax.set_yscale("log")
        ax.legend()
        return ax


def estimand_weights(
    x_std: np.ndarray, treatment: np.ndarray, base: np.ndarray, estimand: str
) -> tuple[np.ndarray, float]:
    """Turn raw balancing weights into weights for ``estimand``; returns ``(weights, residual imbalance)``."""
    if estimand not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")
    t = treatment.astype(bool)
    weights = base.astype(np.float64).copy()
    if estimand == "overlap":
        return weights, 0.0
    if estimand == "ate":
        target = x_std.mean(0)
        arms = (t, ~t)
    elif estimand == "att":
        target = x_std[t].mean(0)
        weights[t] = 1.0 / t.sum()
        arms = (~t,)
    else:
        target = x_std[~t].mean(0)
        weights[~t] = 1.0 / (~t).sum()
        arms = (t,)
    residual = 0.0
    for arm in arms:
        # ridge 1/n_arm: balance to within sampling noise rather than exactly; exact mean balancing of
        # many covariates in a small arm gives extreme weights (measured: MAE 0.40 vs 0.09 on synthetic
        # validation datasets with libsvm base weights).
        w, res = calibrate_to_target(x_std[arm], base[arm], target, ridge=1.0 / arm.sum())
        weights[arm] = w
        residual = max(residual, res)
    return weights, residual


def calibration_features(x_std: np.ndarray, moments: int = 2) -> np.ndarray:
    """The columns whose weighted means the calibration matches: ``x_std`` (``moments=1``), plus the
    standardised squares of its non-binary columns (``moments=2``; squares of 0/1 columns repeat them)."""
    check_estimator_options(moments=moments)
    if moments == 1 or x_std.shape[1] == 0:
        return x_std
    non_binary = np.array([np.unique(col).size > 2 for col in x_std.T])
    if not non_binary.any():
        return x_std
    return np.column_stack([x_std, standardize_columns(x_std[:, non_binary] ** 2)])


def residual_std_error(x_std: np.ndarray, treatment: np.ndarray, outcome: np.ndarray, weights: np.ndarray) -> float:
    """``sqrt(sum_i w_i^2 r_i^2)`` with per-arm least-squares residuals (degrees-of-freedom corrected)."""
    var = 0.0
    for arm in (treatment == 1, treatment == 0):
        xa = np.column_stack([np.ones(arm.sum()), x_std[arm]])
        coef, *_ = np.linalg.lstsq(xa, outcome[arm], rcond=None)
        resid = outcome[arm] - xa @ coef
        rank = np.linalg.matrix_rank(xa)
        dof = max(arm.sum() - rank, 1)
        var += float(np.sum(weights[arm] ** 2 * resid**2)) * arm.sum() / dof
    return float(np.sqrt(var))


def standardize_columns(x: np.ndarray) -> np.ndarray:
    """Centre and scale each column to unit SD, dropping constant columns (numpy)."""
    sd = x.std(0)
    keep = sd > 1e-12
    return (x[:, keep] - x[:, keep].mean(0)) / sd[keep]


def effect_from_weights(
    x_std: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    base: np.ndarray,
    estimand: str,
    moments: int = 2,
    outcome_model: str = "kernel",
) -> tuple[float, float, np.ndarray, float, str]:
    """Calibrate ``base`` weights to ``estimand`` and estimate the effect (module docstring).

    Returns ``(value, std_error, weights, max_residual_imbalance, outcome_model_used)``.
    """
    check_estimator_options(outcome_model=outcome_model)
    features = calibration_features(x_std, moments)
    weights, residual = estimand_weights(features, treatment, base, estimand)
    if outcome_model == "kernel" and estimand != "overlap":
        m1, m0, loo_residuals = kernel_outcome_predictions(x_std, features, treatment, outcome)
        value = augmented_effect(weights, treatment, outcome, m1, m0, estimand)
        return value, float(np.sqrt(np.sum(weights**2 * loo_residuals**2))), weights, residual, "kernel"
    value = float(np.sum(weights * (2.0 * treatment - 1.0) * outcome))
    return value, residual_std_error(features, treatment, outcome, weights), weights, residual, "none"


def estimate_effect(
    model: Any,
    covariates: Any,
    treatment: Any,
    outcome: Any,
    estimand: str = "ate",
    method: str = "cina-zs",
    warn_ess_fraction: float = 0.05,
    moments: int = 2,
    outcome_model: str = "kernel",
    **fit_kwargs: Any,
) -> EffectEstimate:
    """Estimate an effect with CInA weights; see :meth:`CInAModel.estimate` for the arguments."""
    start = time.perf_counter()
    if estimand not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_estimator_options(moments, outcome_model)  # before the forward pass, not after it
    x, names = encode_covariates(covariates)
    n = x.shape[0]
    t = validate_treatment(treatment, n)
    y = validate_outcome(outcome, n)
    if method == "cina-zs":
        base = np.asarray(model.balancing_weights(x, t), dtype=np.float64)
    else:
        from .per_dataset import fit_per_dataset

        fit_kwargs.setdefault("lambda0", float(getattr(getattr(model, "config", None), "lambda0", 0.1)))
        base = fit_per_dataset(x, t, **fit_kwargs).weights
    value, se, weights, residual, used = effect_from_weights(
        standardize_columns(x), t, y, base, estimand, moments, outcome_model
    )
    ess1 = effective_sample_size(weights[t == 1])
    ess0 = effective_sample_size(weights[t == 0])
    for label, ess, size in (("treated", ess1, (t == 1).sum()), ("control", ess0, (t == 0).sum())):
        if ess < max(5.0, warn_ess_fraction * size):
            warnings.warn(
                f"poor overlap: the {label} weights have an effective sample size of {ess:.1f} out of {size} units; "
                "the estimate rests on very few units and may be unreliable",
                OverlapWarning,
                stacklevel=3,
            )
    balance = pd.DataFrame(
        {
            "smd_before": standardized_mean_differences(x, t),
            "smd_after": standardized_mean_differences(x, t, weights),
        },
        index=pd.Index(names, name="covariate"),
    )
    return EffectEstimate(
        value=value,
        ci_low=value - Z_95 * se,
        ci_high=value + Z_95 * se,
        std_error=se,
        estimand=estimand,
        method=method,
        weights=weights,
        treatment=t,
        ess_treated=ess1,
        ess_control=ess0,
        balance=balance,
        n=n,
        seconds=time.perf_counter() - start,
        max_residual_imbalance=residual,
        outcome_model=used,
    )
