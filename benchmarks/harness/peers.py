"""Built-in estimators: the peers users would pick instead of CInA, and the CInA adapters.

Every class follows :class:`harness.protocol.Estimator`. Peer libraries are imported inside
``estimate`` and listed in ``requires``, so a missing package makes the peer *skipped* (reported),
not an import error. Settings are the libraries' defaults unless noted (single-threaded ``n_jobs=1``
where a peer would otherwise take every core, so that wall times compare like with like).

=====================  ==============================================================  =========
name                   what                                                            interval
=====================  ==============================================================  =========
``naive``              difference in means                                             Welch
``ipw``                Hajek IPW, ``LogisticRegression`` on standardised X, e clipped  influence function (e treated as known)
                       to [0.01, 0.99]
``aipw_gbm``           AIPW, 2-fold cross-fitted ``HistGradientBoosting`` outcome and  influence function
                       propensity models, e clipped to [0.01, 0.99]
``linear_dml``         ``econml.dml.LinearDML(discrete_treatment=True)``, defaults     econml
``causal_forest_dml``  ``econml.dml.CausalForestDML(discrete_treatment=True)``,        econml
                       ``ate_`` / ``att_`` (doubly robust)
``dowhy_ipw``          DoWhy ``backdoor.propensity_score_weighting`` (``ips_weight``,   none
                       maximal-adjustment identification; DoWhy clips e to [.05, .95])
``svm_dual``           exact optimal balancing: libsvm dual on CInA's implied kernel   CInA's
                       (``lambda = lambda0 / N^2``), then CInA's estimand calibration
``cina_per_dataset``   ``CInAModel.estimate(method="cina")`` (per-dataset optimisation)  CInA's
``cina_zs``            ``CInAModel.estimate(method="cina-zs")`` (one forward pass)     CInA's
=====================  ==============================================================  =========

``svm_dual`` and ``cina_per_dataset`` are O(N^2) in memory/time: skipped above ``max_n`` (3,000) and run in
a forked child that is stopped (reported as skipped) after ``timeout_s`` (60 s).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .protocol import EffectEstimate, EstimatorSkipped
from .suites import true_surfaces

PS_CLIP = 0.01
O_N2_MAX_N = 3000
O_N2_TIMEOUT_S = 60.0  # libsvm near the hard-margin limit (C = N^2 / lambda0) can take many minutes


def _interval(value: float, se: float) -> EffectEstimate:
    return EffectEstimate.from_standard_error(value, se)


def standardize(X: np.ndarray) -> np.ndarray:
    """Z-score the columns of ``X``, dropping constant ones."""
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(0)
    keep = sd > 1e-12
    return (X[:, keep] - X[:, keep].mean(0)) / sd[keep]


def weighted_contrast(T: np.ndarray, Y: np.ndarray, w1: np.ndarray, w0: np.ndarray) -> EffectEstimate:
    """Hajek contrast ``sum(w1 Y)/sum(w1) - sum(w0 Y)/sum(w0)`` with an influence-function interval.

    ``w1`` must vanish on controls and ``w0`` on treated units. The standard error treats the weights as
    fixed (it ignores the estimation of the propensity score).
    """
    n = len(Y)
    mu1 = float(np.sum(w1 * Y) / np.sum(w1))
    mu0 = float(np.sum(w0 * Y) / np.sum(w0))
    phi = w1 * (Y - mu1) / np.mean(w1) - w0 * (Y - mu0) / np.mean(w0)
    return _interval(mu1 - mu0, math.sqrt(float(np.mean(phi**2)) / n))


class NaiveDifference:
    """Unadjusted difference in means (the same number for ATE and ATT) with a Welch interval."""

    name = "naive"
    requires: tuple[str, ...] = ()
    has_intervals = True

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """Difference in means."""
        y1, y0 = Y[T == 1], Y[T == 0]
        se = math.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
        return _interval(float(y1.mean() - y0.mean()), se)


def logistic_propensity(X: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``P(T=1|X)`` from scikit-learn's default ``LogisticRegression`` on standardised covariates."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000)
    Xs = standardize(X)
    model.fit(Xs, T)
    return model.predict_proba(Xs)[:, 1]


class IPWLogistic:
    """Hajek inverse propensity weighting with a logistic propensity model."""

    name = "ipw"
    requires = ("sklearn",)
    has_intervals = True

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """IPW estimate of the ATE or ATT."""
        e = np.clip(logistic_propensity(X, T), PS_CLIP, 1 - PS_CLIP)
        if estimand == "ate":
            return weighted_contrast(T, Y, T / e, (1 - T) / (1 - e))
        return weighted_contrast(T, Y, T.astype(np.float64), (1 - T) * e / (1 - e))


class AIPWGradientBoosting:
    """Cross-fitted augmented IPW; nuisance models default to histogram gradient boosting.

    ``propensity_model`` / ``outcome_model`` are factories returning fresh scikit-learn estimators
    (a classifier with ``predict_proba``, a regressor); the outcome model is fitted per arm.
    """

    name = "aipw_gbm"
    requires = ("sklearn",)
    has_intervals = True

    def __init__(
        self,
        folds: int = 2,
        seed: int = 0,
        propensity_model: Callable[[], Any] | None = None,
        outcome_model: Callable[[], Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.folds = folds
        self.seed = seed
        self.propensity_model = propensity_model
        self.outcome_model = outcome_model
        if name is not None:
            self.name = name

    def nuisances(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Out-of-fold ``(e, m0, m1)``: propensity and per-arm outcome regressions."""
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.model_selection import StratifiedKFold

        def make_propensity() -> Any:
            if self.propensity_model is not None:
                return self.propensity_model()
            return HistGradientBoostingClassifier(random_state=self.seed)

        def make_outcome() -> Any:
            if self.outcome_model is not None:
                return self.outcome_model()
            return HistGradientBoostingRegressor(random_state=self.seed)

        n = len(T)
        e, m0, m1 = np.empty(n), np.empty(n), np.empty(n)
        splits = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed).split(X, T)
        for train, test in splits:
            e[test] = make_propensity().fit(X[train], T[train]).predict_proba(X[test])[:, 1]
            for arm, out in ((0, m0), (1, m1)):
                rows = train[T[train] == arm]
                out[test] = make_outcome().fit(X[rows], Y[rows]).predict(X[test])
        return np.clip(e, PS_CLIP, 1 - PS_CLIP), m0, m1

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """Doubly robust estimate of the ATE or ATT with an influence-function interval."""
        e, m0, m1 = self.nuisances(X, T, Y)
        n = len(T)
        if estimand == "ate":
            psi = m1 - m0 + T * (Y - m1) / e - (1 - T) * (Y - m0) / (1 - e)
            return _interval(float(psi.mean()), float(psi.std(ddof=1)) / math.sqrt(n))
        p = T.mean()
        score = (T * (Y - m0) - (1 - T) * e / (1 - e) * (Y - m0)) / p
        tau = float(score.mean())
        influence = score - T * tau / p
        return _interval(tau, float(influence.std(ddof=1)) / math.sqrt(n))


class LinearDMLPeer:
    """EconML ``LinearDML`` with its default first stages; ATE/ATT = mean CATE over all / treated units."""

    name = "linear_dml"
    requires = ("econml",)
    has_intervals = True

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """Fit and average the CATE."""
        from econml.dml import LinearDML

        est = LinearDML(discrete_treatment=True, random_state=0)
        est.fit(Y, T, X=X)
        rows = X if estimand == "ate" else X[T == 1]
        low, high = est.ate_interval(rows, alpha=0.05)
        return EffectEstimate(value=float(est.ate(rows)), ci_low=float(low), ci_high=float(high))


class CausalForestDMLPeer:
    """EconML ``CausalForestDML`` (defaults, ``n_jobs=1``); its doubly robust ``ate_`` / ``att_``."""

    name = "causal_forest_dml"
    requires = ("econml",)
    has_intervals = True

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """Fit and read the doubly robust average effect and its standard error."""
        from econml.dml import CausalForestDML

        est = CausalForestDML(discrete_treatment=True, random_state=0, n_jobs=1)
        est.fit(Y, T, X=X)
        if estimand == "ate":
            value, se = est.ate_, est.ate_stderr_
        else:
            value, se = est.att_(T=1), est.att_stderr_(T=1)
        return _interval(float(np.ravel(value)[0]), float(np.ravel(se)[0]))


class DoWhyIPW:
    """DoWhy's ``backdoor.propensity_score_weighting`` estimator (``ips_weight``), all covariates as common causes."""

    name = "dowhy_ipw"
    requires = ("dowhy",)
    has_intervals = False

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """Identify the backdoor estimand and estimate it by propensity weighting (no interval)."""
        import pandas as pd
        from dowhy import CausalModel

        logging.getLogger("dowhy").setLevel(logging.ERROR)
        cols = [f"x{j}" for j in range(X.shape[1])]
        frame = pd.DataFrame(X, columns=cols).assign(t=T.astype(bool), y=Y)
        model = CausalModel(data=frame, treatment="t", outcome="y", common_causes=cols)
        # maximal adjustment (all common causes): the default identifier searches adjustment sets, which
        # took 37 s (25 covariates) to 300 s (40+) per dataset here, for the same adjustment set.
        identified = model.identify_effect(proceed_when_unidentifiable=True, method_name="maximal-adjustment")
        est = model.estimate_effect(
            identified,
            method_name="backdoor.propensity_score_weighting",
            target_units=estimand,
            method_params={"weighting_scheme": "ips_weight"},
        )
        return EffectEstimate(value=float(est.value))


def _check_size(n: int, max_n: int | None, name: str) -> None:
    if max_n is not None and n > max_n:
        raise EstimatorSkipped(f"N = {n} > {max_n}: {name} is O(N^2)")


class SVMDualBalancing:
    """The exact optimal-balancing solver: libsvm on CInA's implied kernel, then CInA's estimand calibration.

    Same kernel (identity keys on standardised covariates clipped at 5, temperature 1), same
    ``lambda = lambda0 / N^2``, same ATE/ATT recalibration, outcome model and interval as CInA's defaults, so
    it shows what CInA's balancing layer would give if solved exactly on each dataset.
    """

    name = "svm_dual"
    requires = ("sklearn",)
    has_intervals = True

    def __init__(
        self,
        lambda0: float = 1.0,
        max_n: int | None = O_N2_MAX_N,
        clip: float = 5.0,
        timeout_s: float | None = O_N2_TIMEOUT_S,
    ) -> None:
        self.lambda0 = lambda0
        self.max_n = max_n
        self.clip = clip
        self.timeout_s = timeout_s

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """Solve the SVM dual and read the effect off the weights."""
        from hf_causal.cina.estimator import effect_from_weights
        from hf_causal.cina.svm import identity_scores, implied_kernel, svm_dual_weights

        n = len(T)
        _check_size(n, self.max_n, self.name)
        x_std = standardize(X)
        keys = np.clip(x_std, -self.clip, self.clip) if self.clip > 0 else x_std
        base = svm_dual_weights(implied_kernel(identity_scores(keys)), T, self.lambda0 / n**2)
        value, se, *_ = effect_from_weights(x_std, T, Y, base, estimand)
        return _interval(value, se)


class CInAEstimator:
    """A CInA model as a harness estimator: ``method="cina-zs"`` (zero-shot) or ``"cina"`` (per dataset)."""

    requires = ("torch",)
    has_intervals = True

    def __init__(
        self,
        model: Any,
        method: str = "cina-zs",
        name: str | None = None,
        max_n: int | None = None,
        timeout_s: float | None = None,
        **estimate_kwargs: Any,
    ) -> None:
        self.model = model
        self.method = method
        self.estimate_kwargs = estimate_kwargs
        self.name = name or ("cina_zs" if method == "cina-zs" else "cina_per_dataset")
        per_dataset = method != "cina-zs"
        self.max_n = max_n if max_n is not None or not per_dataset else O_N2_MAX_N
        self.timeout_s = timeout_s if timeout_s is not None or not per_dataset else O_N2_TIMEOUT_S

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """``model.estimate(X, T, Y, estimand, method)``."""
        _check_size(len(T), self.max_n, self.name)
        out = self.model.estimate(X, T, Y, estimand=estimand, method=self.method, **self.estimate_kwargs)
        return EffectEstimate(value=float(out.value), ci_low=float(out.ci_low), ci_high=float(out.ci_high))


class BlendedOutcomeEstimator(CInAEstimator):
    """The zero-shot default with the kernel model plus ``share`` of the network's correction as the augmentation's
    surfaces (``OUTCOME_NETWORK_SHARE`` for the length of one call), paired against the default: with ``share=1``,
    what the kernel model's part of the default's blend adds (docs/design.md §4.8)."""

    def __init__(self, model: Any, share: float, name: str) -> None:
        super().__init__(model, "cina-zs", name=name)
        self.share = share

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """The default estimate, with the blend's share in place of the default's."""
        from hf_causal.cina import estimator

        default_share = estimator.OUTCOME_NETWORK_SHARE
        estimator.OUTCOME_NETWORK_SHARE = self.share
        try:
            return super().estimate(X, T, Y, estimand)
        finally:
            estimator.OUTCOME_NETWORK_SHARE = default_share


class OracleOutcomeSurfaces:
    """The oracle row of the outcome-model ladder: the default's balancing weights with the *true* surfaces
    ``mu0``, ``mu1`` in the augmentation (``sum_i p_i (mu1 - mu0)(x_i)`` plus the weighted residuals).

    Every CInA row but the per-dataset one uses the same weights, so ``cina_zs_weights`` (no outcome model),
    ``cina_zs_kernel``, ``cina_zs`` (kernel plus the network) and this row differ only in the surfaces: its error is
    what a perfect outcome model would leave (the weighted outcome noise), the floor the learned outcome model is
    measured against. Needs per-unit truth (the harness's ``uses_truth``); not a method anyone can run.
    """

    uses_truth = True
    has_intervals = False
    requires = ("torch",)

    def __init__(self, model: Any, name: str = "oracle_surfaces") -> None:
        self.model = model
        self.name = name

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str,
                 truth: dict[str, Any] | None = None) -> EffectEstimate:
        """The augmented estimate of ``estimand`` with the true surfaces of ``truth``."""
        from hf_causal.cina.outcome import augmented_effect

        mu0, mu1 = true_surfaces(truth, len(T), self.name)
        weighted = self.model.estimate(X, T, Y, estimand=estimand, method="cina-zs", outcome_model="none")
        return EffectEstimate(value=augmented_effect(weighted.weights, T, Y, mu1, mu0, estimand))


class UniformBaseWeights:
    """The zero-shot estimator with uniform base weights in place of the balancing network's: the ablation that
    says what the pretrained balancing network adds (calibration, outcome model and interval unchanged)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.config = model.config
        self.outcome_network = getattr(model, "outcome_network", None)

    def balancing_weights(self, covariates: Any, treatment: Any) -> np.ndarray:
        """``1 / n_arm`` within each arm."""
        t = np.asarray(treatment).astype(bool)
        return np.where(t, 1.0 / t.sum(), 1.0 / (~t).sum())

    def estimate(self, covariates: Any, treatment: Any, outcome: Any, **kwargs: Any) -> Any:
        """:func:`hf_causal.cina.estimator.estimate_effect` with these base weights."""
        from hf_causal.cina.estimator import estimate_effect

        return estimate_effect(self, covariates, treatment, outcome, **kwargs)


@contextmanager
def first_outcome_network_only(model: Any) -> Iterator[Any]:
    """``model`` with its wide-prior outcome network detached for the length of the block, so that every dataset goes
    to the first network: the ablation that says what routing large effects to the wide network adds (docs/design.md
    §4.8). The same model object, so every other step (weights, calibration, streaming) runs exactly as in the
    default's row; the network is put back afterwards, also on an error."""
    wide = getattr(model, "outcome_network_wide", None)
    model.outcome_network_wide = None
    try:
        yield model
    finally:
        model.outcome_network_wide = wide


@contextmanager
def without_config_option(model: Any, attribute: str) -> Iterator[Any]:
    """``model`` with ``config.<attribute>`` set to ``None`` (off) for the length of the block; put back afterwards,
    also on an error."""
    value = getattr(model.config, attribute, None)
    setattr(model.config, attribute, None)
    try:
        yield model
    finally:
        setattr(model.config, attribute, value)


def without_row_limit(model: Any) -> AbstractContextManager[Any]:
    """``model`` with ``config.outcome_row_limit`` off for the block, so that the network's correction reaches every
    row: the ablation that says what withholding it from rows far out in the outcome's tail adds (docs/design.md
    §4.8)."""
    return without_config_option(model, "outcome_row_limit")


def without_spread_limit(model: Any) -> AbstractContextManager[Any]:
    """``model`` with ``config.outcome_spread_limit`` off for the block, so that the first network predicts every
    dataset routed to it: the ablation that says what withholding it from surfaces beyond its prior adds
    (docs/design.md §4.8)."""
    return without_config_option(model, "outcome_spread_limit")


class AblatedDefaultEstimator(CInAEstimator):
    """The zero-shot default run inside ``ablation(model)`` (a context manager that turns one part of the model off
    for the block, e.g. :func:`first_outcome_network_only`), paired against the default."""

    def __init__(self, model: Any, name: str, ablation: Callable[[Any], Any]) -> None:
        super().__init__(model, "cina-zs", name=name)
        self.ablation = ablation

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        """The default estimate with the ablated part off."""
        with self.ablation(self.model):
            return super().estimate(X, T, Y, estimand)


# -- CInA checkpoint resolution ------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def _latest_run_checkpoint(run_dir: Path) -> Path | None:
    """``final/`` if complete, else the newest ``checkpoint-*/pretrained`` (or ``checkpoint-*``) model folder."""
    if _is_model_folder(run_dir / "final"):
        return run_dir / "final"
    steps = []
    for path in run_dir.glob("checkpoint-*"):
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        for folder in (path / "pretrained", path):
            if match and _is_model_folder(folder):
                steps.append((int(match.group(1)), folder))
                break
    return max(steps)[1] if steps else None


def _fingerprint(model: Any, sep: str = "") -> str:
    """`` sha256 abc123…, saved <UTC time>`` of the loaded ``model.safetensors`` ('' if not a local folder)."""
    import datetime as dt
    import hashlib

    weights = Path(str(getattr(model, "name_or_path", ""))) / "model.safetensors"
    if not weights.is_file():
        return ""
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    saved = dt.datetime.fromtimestamp(weights.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    landmarks = getattr(getattr(model, "config", None), "landmark_units", None)
    return f"{sep} model.safetensors sha256 {digest}…, saved {saved}; inference landmark_units {landmarks or 'off (exact)'}"


def load_cina_model(spec: str | None = None, run_dir: str | os.PathLike = "outputs/run1") -> tuple[Any, str]:
    """Load the CInA model to benchmark and say which one it is.

    Order: ``spec`` (a bundled name, folder or Hub id) if given; else the bundled ``cina-zs-base``; else
    the newest ``final`` / ``checkpoint-*`` of ``run_dir``; else a randomly initialised small model
    (seed 0), which is only good for testing the harness. Returns ``(model, description)``.
    """
    import torch

    from hf_causal.cina import CInAConfig, CInAModel

    if spec is not None:
        model = CInAModel.from_pretrained(spec).eval()
        return model, f"`{spec}`{_fingerprint(model)}"
    try:
        model = CInAModel.from_pretrained("cina-zs-base").eval()
        return model, f"`cina-zs-base` (bundled checkpoint{_fingerprint(model, ';')})"
    except (FileNotFoundError, OSError):
        pass
    run = Path(run_dir)
    run = run if run.is_absolute() else REPO_ROOT / run
    checkpoint = _latest_run_checkpoint(run)
    if checkpoint is not None:
        rel = checkpoint.relative_to(REPO_ROOT) if checkpoint.is_relative_to(REPO_ROOT) else checkpoint
        model = CInAModel.from_pretrained(str(checkpoint)).eval()
        return model, f"`{rel}` (training-run checkpoint, bundled one missing{_fingerprint(model, ';')})"
    torch.manual_seed(0)
    config = CInAConfig(hidden_size=32, num_layers=2, kernel_temperatures=[0.5, 1.0, 2.0], intermediate_size=64)
    return CInAModel(config).eval(), "RANDOMLY INITIALISED CInA (no checkpoint found) -- not a real result"


def default_estimators(model: Any | None = None, include: list[str] | None = None) -> list[Any]:
    """The ATE benchmark's line-up, in report order (``include`` keeps only those names)."""
    lambda0 = float(getattr(getattr(model, "config", None), "lambda0", 1.0))
    estimators: list[Any] = [
        NaiveDifference(),
        IPWLogistic(),
        AIPWGradientBoosting(),
        LinearDMLPeer(),
        CausalForestDMLPeer(),
        DoWhyIPW(),
        SVMDualBalancing(lambda0=lambda0),
    ]
    if model is not None:
        estimators += [
            CInAEstimator(model, "cina"),
            CInAEstimator(model, "cina-zs", name="cina_zs_weights", outcome_model="none"),
            CInAEstimator(model, "cina-zs", name="cina_zs_kernel", outcome_model="kernel"),
            # the kernel outcome model on both sides of the balancing ablation (cina_zs_kernel vs this)
            CInAEstimator(UniformBaseWeights(model), "cina-zs", name="cina_zs_uniform", outcome_model="kernel"),
        ]
        if getattr(model, "outcome_network", None) is not None:
            # the network alone, without the boosted trees on its residuals: against cina_zs_kernel (neither has
            # them) what the network adds; against cina_zs what the trees add
            estimators.append(CInAEstimator(model, "cina-zs", name="cina_zs_pretrained", outcome_model="pretrained",
                                            residual_trees=False))
            # the network's whole correction (no kernel part in the surfaces) against the default's blend
            estimators.append(BlendedOutcomeEstimator(model, 1.0, name="cina_zs_whole"))
        if getattr(model, "outcome_network_wide", None) is not None:
            # the default with every dataset sent to the first network: what the wide-prior network adds
            estimators.append(AblatedDefaultEstimator(model, "cina_zs_one_network", first_outcome_network_only))
        if getattr(model.config, "outcome_row_limit", None) is not None:
            # the default with the network's correction given to every row, tail rows included
            estimators.append(AblatedDefaultEstimator(model, "cina_zs_no_row_limit", without_row_limit))
        if getattr(model.config, "outcome_spread_limit", None) is not None:
            # the default with the first network predicting every dataset routed to it, whatever its surfaces' spreads
            estimators.append(AblatedDefaultEstimator(model, "cina_zs_no_spread_limit", without_spread_limit))
        # the default plus the opt-in pairwise products (cross moments): what balancing them adds
        estimators.append(CInAEstimator(model, "cina-zs", name="cina_zs_cross", cross_moments=True))
        estimators.append(CInAEstimator(model, "cina-zs"))
        # the floor of the outcome-model ladder: the same weights with the true surfaces (suites with mu0 / mu1)
        estimators.append(OracleOutcomeSurfaces(model))
    if include is not None:
        unknown = set(include) - {e.name for e in estimators}
        if unknown:
            raise ValueError(f"unknown estimators {sorted(unknown)}")
        estimators = [e for e in estimators if e.name in include]
    return estimators
