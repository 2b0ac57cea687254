"""``EffectEstimate``: the one result type of every effect estimator in hf-causal.

CInA's weighting estimates, the causal engine's Monte-Carlo effects and means, the plug-in and doubly robust
ATT from nuisance predictions, and the benchmark harness's peers all return it, so a value, its interval and
its provenance read the same everywhere (docs/design.md §9):

* ``value``, ``ci_low``/``ci_high`` (``None`` when the method gives no interval), ``std_error``,
  ``confidence``;
* ``estimand`` (``"ate"``, ``"att"``, ``"atc"``, ``"overlap"``, ``"cate"``, ``"mean"``, ``"probability"``),
  ``method`` (who computed it), ``query`` (a readable formula such as ``E[Y|do(A=1)] - E[Y|do(A=0)]``),
  ``interval`` (what the interval accounts for, when that is not the usual sampling error), ``n``, ``seconds``;
* weighting diagnostics, set only by weighting estimators: ``weights``, ``treatment``, ``balance``,
  ``ess_treated``, ``ess_control``, ``max_residual_imbalance``, ``outcome_model``;
* per-unit effects with their intervals (``effects``), set by conditional-effect estimators.
* ``supported`` and ``support_issue``: whether the estimator's overlap diagnostics passed, and if not why
  (``None`` where an estimator does not assess them). An unsupported estimate still carries its number, but
  the summary and ``to_dict()`` say it is not supported by the data.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd


def normal_quantile(confidence: float) -> float:
    """``z`` with ``P(|N(0, 1)| <= z) = confidence``; raises ``TypeError`` for a non-number (a string, ``None``,
    a bool) and ``ValueError`` outside ``(0, 1)``."""
    # checked before comparing: '0.95' < 1 would fail inside the comparison, and True would pass as 1
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise TypeError(f"confidence must be a number in (0, 1), got {confidence!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


#: How a summary names each ``outcome_model``.
OUTCOME_MODEL_NAMES = {"pretrained": "the in-context outcome network", "kernel": "the kernel ridge T-learner",
                       "none": "none (the weights alone)"}

#: The normal quantile of a two-sided 95% interval.
Z_95 = normal_quantile(0.95)


@dataclass
class EffectEstimate:
    """A treatment-effect (or interventional-quantity) estimate with its interval and provenance.

    Attributes:
        value: the point estimate.
        ci_low, ci_high: the ``confidence`` interval, or ``None`` when the method gives none.
        std_error: the standard error behind the interval (``None`` without one).
        estimand: what is estimated: ``"ate"``, ``"att"``, ``"atc"``, ``"overlap"``, ``"cate"``, ``"mean"``
            or ``"probability"``.
        method: the estimator, e.g. ``"cina-zs"``, ``"cina"``, ``"engine"``, ``"aipw"``.
        confidence: level of the interval.
        n: units the estimate uses, or Monte-Carlo draws for a simulation estimate.
        query: a readable formula of the quantity (engine queries), e.g. ``E[Y|do(A=1)] - E[Y|do(A=0)]``.
        interval: what the interval accounts for when it is not the usual sampling interval: narrower (e.g.
            ``"Monte-Carlo error only"``) or wider (sampling noise plus a measured scale of bias); empty otherwise.
        seconds: wall time of the estimate.
        weights: ``(N,)`` weights, non-negative, summing to 1 within each arm (weighting estimators).
        treatment: ``(N,)`` the 0/1 treatment the weights refer to.
        ess_treated, ess_control: Kish effective sample sizes of each arm's weights.
        balance: DataFrame indexed by covariate with ``smd_before`` and ``smd_after``.
        max_residual_imbalance: largest standardised mean gap left after calibration.
        outcome_model: the outcome model that augmented the weights (``"kernel"``, ``"pretrained"``) or
            ``"none"``; for per-unit effects, the one that predicted them.
        outcome_network: with ``outcome_model="pretrained"``, which of the checkpoint's networks predicted the
            surfaces: ``"outcome_network"``, or ``"outcome_network_wide"`` (the copy trained on larger effects,
            for data whose effect is larger than any the first saw); empty otherwise.
        outcome_withheld: why the network the dataset was routed to was not used and the kernel model's surfaces
            were (``outcome_model`` is then ``"kernel"``); empty otherwise. For ``cate`` both describe the
            prediction from the whole context, which gives the effects; the calibration's cross-fitted folds each
            decide on their own context.
        effects: per-unit effects (``estimand="cate"``): one row per unit with ``cate``, ``std_error``,
            ``ci_low``, ``ci_high`` (and ``mu0``, ``mu1``); ``value`` is then their mean.
        supported: ``True`` when the overlap diagnostics passed, ``False`` when they failed (the data do not
            support the estimate: it extrapolates, or rests on very few units), ``None`` when not assessed.
        support_issue: why the estimate is not supported (one line); empty otherwise.
        n_treated: treated units, for a weighting estimate without per-unit arrays (a streamed table's).
    """

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    std_error: float | None = None
    estimand: str = "ate"
    method: str = ""
    confidence: float = 0.95
    n: int = 0
    query: str = ""
    interval: str = ""
    seconds: float = 0.0
    weights: np.ndarray | None = field(default=None, repr=False)
    treatment: np.ndarray | None = field(default=None, repr=False)
    ess_treated: float | None = None
    ess_control: float | None = None
    balance: pd.DataFrame | None = field(default=None, repr=False)
    max_residual_imbalance: float | None = None
    outcome_model: str | None = None
    outcome_network: str = ""
    outcome_withheld: str = ""
    effects: pd.DataFrame | None = field(default=None, repr=False)
    supported: bool | None = None
    support_issue: str = ""
    n_treated: int | None = None

    # -- constructors ------------------------------------------------------------------------------------

    @classmethod
    def from_standard_error(
        cls, value: float, std_error: float, *, confidence: float = 0.95, **fields: Any
    ) -> EffectEstimate:
        """A normal interval ``value -/+ z * std_error``; other fields by keyword."""
        z = normal_quantile(confidence)
        value, std_error = float(value), float(std_error)
        return cls(value, value - z * std_error, value + z * std_error, std_error, confidence=confidence, **fields)

    @classmethod
    def from_draws(cls, draws: np.ndarray, *, confidence: float = 0.95, **fields: Any) -> EffectEstimate:
        """The mean of i.i.d. draws with the standard error ``sd / sqrt(n)`` (``n`` = the number of draws)."""
        draws = np.asarray(draws, dtype=np.float64)
        if draws.size == 0:
            raise ValueError("no draws")
        std_error = float(draws.std(ddof=1) / np.sqrt(draws.size)) if draws.size > 1 else float("nan")
        fields.setdefault("n", int(draws.size))
        return cls.from_standard_error(float(draws.mean()), std_error, confidence=confidence, **fields)

    def set_confidence(self, confidence: float) -> EffectEstimate:
        """Re-level a normal interval ``value -/+ z * std_error`` to ``confidence``, in place (returns ``self``);
        an estimate without a standard error keeps its ends. ``ValueError`` outside ``(0, 1)``."""
        z = normal_quantile(confidence)
        if self.std_error is not None and np.isfinite(self.std_error):
            self.ci_low, self.ci_high = self.value - z * self.std_error, self.value + z * self.std_error
        self.confidence = confidence
        return self

    # -- reading -----------------------------------------------------------------------------------------

    @property
    def has_interval(self) -> bool:
        """True when both interval ends are finite numbers."""
        return (
            self.ci_low is not None
            and self.ci_high is not None
            and math.isfinite(self.ci_low)
            and math.isfinite(self.ci_high)
        )

    @property
    def is_weighting(self) -> bool:
        """True for a weighting estimate (it carries weights, or for a streamed table their diagnostics only)."""
        return (self.weights is not None and self.treatment is not None) or (
            self.n_treated is not None and self.ess_treated is not None
        )

    @property
    def label(self) -> str:
        """``ESTIMAND query`` (``"ATE E[Y|do(A=1)] - E[Y|do(A=0)]"``), or the estimand alone."""
        return f"{self.estimand.upper()} {self.query}" if self.query else self.estimand.upper()

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        text = f"{self.label}: {self.value:.4g}"
        if self.std_error is not None and self.has_interval:
            pct = round(100 * self.confidence)
            text += f" (s.e. {self.std_error:.2g}; {pct}% {self.interval_label} [{self.ci_low:.4g}, {self.ci_high:.4g}])"
        if self.supported is False:
            text += " [not supported by the data]"
        return text

    @property
    def interval_label(self) -> str:
        """``"CI"`` for a sampling interval; ``"interval"`` when ``interval`` says what else it covers (less, e.g.
        Monte-Carlo error only, or more, a measured scale of bias), so that it is not read as the usual one."""
        return "interval" if self.interval else "CI"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-unit arrays). Weighting estimates add their balance diagnostics."""
        out: dict[str, Any] = {
            "estimate": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "std_error": self.std_error,
            "estimand": self.estimand,
            "method": self.method,
        }
        if self.outcome_model is not None:
            out["outcome_model"] = self.outcome_model
        if self.outcome_network:
            out["outcome_network"] = self.outcome_network
        if self.outcome_withheld:
            out["outcome_withheld"] = self.outcome_withheld
        out["n"] = self.n
        if self.is_weighting:
            has_balance = self.balance is not None and len(self.balance) > 0
            out.update(
                n_treated=self.n_treated if self.n_treated is not None else int(np.asarray(self.treatment).sum()),
                ess_treated=self.ess_treated,
                ess_control=self.ess_control,
                max_abs_smd_before=float(self.balance["smd_before"].abs().max()) if has_balance else None,
                max_abs_smd_after=float(self.balance["smd_after"].abs().max()) if has_balance else None,
            )
        if self.supported is not None:
            out["supported"] = self.supported
            if not self.supported:
                out["support_issue"] = self.support_issue
        if self.query:
            out["query"] = self.query
        if self.confidence != 0.95:
            out["confidence"] = self.confidence
        if self.interval:
            out["interval"] = self.interval
        out["seconds"] = self.seconds
        return out

    def to_json(self) -> str:
        """One-line JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict())

    def summary(self) -> str:
        """A short human-readable report: the value and interval, then sizes and diagnostics."""
        pct = round(100 * self.confidence)
        head = f"{self.estimand.upper()} ({self.method}): {self.value:.4g}"
        if self.has_interval and self.std_error == 0 and self.ci_low == self.ci_high:
            head += "  (exact: no sampling error)"  # a zero-width "95% interval" would read as certainty
        elif self.has_interval:
            head += f"  {pct}% {self.interval_label} [{self.ci_low:.4g}, {self.ci_high:.4g}]"
        lines = [head]
        if self.supported is False:
            lines.append(f"NOT SUPPORTED BY THE DATA: {self.support_issue or 'the overlap diagnostics failed'}")
        if self.query:
            lines.append(self.query)
        if self.is_weighting:
            d = self.to_dict()
            before, after = d["max_abs_smd_before"], d["max_abs_smd_after"]
            lines.append(
                f"n={self.n} (treated {d['n_treated']}), ESS treated {self.ess_treated:.1f}, "
                f"control {self.ess_control:.1f}"
            )
            smd = "no balance table" if before is None else f"max |SMD| before {before:.3f} -> after {after:.3f}"
            lines.append(f"{smd}; {self.seconds:.2f}s")
        else:
            lines.append(f"n={self.n}; {self.seconds:.2f}s")
        if self.effects is not None and len(self.effects):
            e = self.effects
            lines.append(
                f"{len(e)} per-unit effects: quartiles {e['cate'].quantile(0.25):.4g}, {e['cate'].median():.4g}, "
                f"{e['cate'].quantile(0.75):.4g}; median {pct}% interval width {(e['ci_high'] - e['ci_low']).median():.4g}"
            )
        if self.outcome_withheld:
            lines.append(f"outcome model: the kernel model, the network withheld ({self.outcome_withheld})")
        elif self.outcome_network == "outcome_network_wide":
            lines.append("outcome model: the wide-prior network (the effect is larger than the first network's "
                         "training prior covers)")
        elif self.outcome_model in OUTCOME_MODEL_NAMES:  # said always: a streamed estimate uses another than in memory
            lines.append(f"outcome model: {OUTCOME_MODEL_NAMES[self.outcome_model]}")
        if self.interval:
            lines.append(f"the interval covers {self.interval}")
        return "\n".join(lines)

    # -- plots (matplotlib, imported only when plotting) ------------------------------------------------

    def plot_balance(self, ax: Any = None, top: int = 30) -> Any:
        """Love plot: absolute standardised mean differences before and after weighting."""
        from .plotting import plot_balance

        if self.balance is None:
            raise ValueError("this estimate has no balance table (it is not a weighting estimate)")
        return plot_balance(self.balance, ax=ax, top=top, title=f"Covariate balance ({self.method}, {self.estimand})")

    def plot_effects(self, covariate: Any, ax: Any = None) -> Any:
        """Per-unit effects with their intervals against a covariate's values for the same rows (an array, or a
        pandas Series, whose name labels the axis), e.g. ``est.plot_effects(X["age"])``."""
        from .plotting import plot_effects

        if self.effects is None:
            raise ValueError("this estimate has no per-unit effects (use the cate estimand)")
        return plot_effects(self.effects, covariate, ax=ax)

    def plot_weights(self, ax: Any = None, bins: int = 40) -> Any:
        """Histogram of the weights (scaled by arm size, so 1 = uniform) in each arm."""
        from .plotting import plot_weights

        if not self.is_weighting:
            raise ValueError("this estimate has no weights (it is not a weighting estimate)")
        if self.weights is None or self.treatment is None:
            raise ValueError("this estimate has no per-unit weights (a streamed estimate writes them with weights_path)")
        return plot_weights(self.weights, self.treatment, ax=ax, bins=bins)
