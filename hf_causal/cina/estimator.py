"""CInA's estimator: treatment-effect estimates from balancing weights (docs/design.md §4).

Estimands (say which one you want; the defaults differ across libraries):

* ``"overlap"``: the raw balancing-SVM weights. They balance treated against controls, so with
  heterogeneous effects they target an overlap-weighted population (docs/design.md §4).
* ``"ate"``: both arms' weights are recalibrated (minimum-KL, entropy balancing with the CInA weights as
  base weights) so that each arm's weighted covariate moments match the full sample's, up to a ridge
  tolerance of a few standard errors (dual ridge ``CALIBRATION_RIDGE_SCALE / n_arm``, 10 / n_arm).
* ``"att"``: treated units get weight ``1/N1``; controls are recalibrated to the treated moments.
* ``"atc"``: controls get ``1/N0``; treated are recalibrated to the control moments.

Which moments (``moments=``): ``2`` (default) balances the means of the standardised covariates and of the
squares of the non-binary ones; ``1`` balances means only. Balancing second moments removes the bias of
outcomes that are non-linear in a covariate, at a small cost where an arm is tiny and the covariates many
(measured in ``benchmarks/results/ate.md``). With ``moments=2``, ``cross_moments=True`` (opt-in) also balances the
pairwise products ``x_i x_j`` whose arm covariances differ most (two per covariate, at most 200;
:func:`~hf_causal.cina.calibration.choose_cross_pairs`): treatment assigned through an interaction leaves every
mean and square balanced and the product not. It removed half the error under strong synthetic confounding and
cost on IHDP-B and ACIC 2016, so it is not the default (docs/design.md §4.3).

Outcome model (``outcome_model=``): ``"kernel"`` adds a per-arm kernel
ridge regression of the outcome (:mod:`hf_causal.cina.outcome`) and corrects its prediction with the
weighted residuals (augmented balancing weights: consistent if either the weights balance the outcome's
features or the outcome model is right); ``"pretrained"`` augments the same way with the checkpoint's
in-context outcome network (:mod:`hf_causal.cina.potential_outcomes`, docs/design.md §4.8): the kernel model
plus :data:`OUTCOME_NETWORK_SHARE` of the network's correction, so the estimate stays doubly robust; ``"none"``
returns the weighted difference ``sum_i w_i W_i Y_i``.
Where the augmentation helps and where it hurts is measured in ``benchmarks/results/ate.md``.
``"auto"`` (the default) is ``"pretrained"`` when the checkpoint has an in-context outcome network (the bundled
``cina-zs-base`` has) and the dataset has at most :data:`~hf_causal.core.options.AUTO_NETWORK_MAX_UNITS` units,
``"kernel"`` otherwise (and on a streamed table). ``"overlap"`` is never augmented.

Interval: conditional on the covariates and treatments (a sample estimand), ``Var = sum_i w_i^2 r_i^2``
with ``r_i`` the leave-one-out residuals of the kernel outcome model, or without one the residuals of a per-arm
least-squares regression of the outcome on the balanced features (degrees-of-freedom corrected), and a normal
95% interval ``value +- 1.96 SE``. With ``moments=2`` the variance also gets the squared gap to the estimate
that balances the other set of second moments (with the cross moments when this one has none, and the reverse):
a measured scale of the bias that imbalance in the pairwise products leaves (docs/design.md §4.6). With
``"pretrained"`` it also gets the squared gap between the kernel model's and the whole network correction's
estimates (:func:`widen_by_model_disagreement`), and every augmented estimate the squared gap to the weights-only
estimate (the same weights, no outcome model: where the two disagree one of them is biased; docs/design.md §4.6).
Other bias of imperfect balance and of the outcome model is not in it, so trust it only where the balance table
shows small SMDs after weighting.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..core.options import (
    AUTO_NETWORK_MAX_UNITS,
    DEFAULT_ESTIMAND,
    DEFAULT_METHOD,
    DEFAULT_MOMENTS,
    DEFAULT_OUTCOME_MODEL,
    check_estimator_options,
)
from ..core.results import EffectEstimate, normal_quantile
from .calibration import (
    OverlapWarning,
    balance_columns,
    calibration_features,
    estimand_weights,
    standardize_columns,
)
from .inputs import covariate_sources, split_frame, validate_inputs
from .outcome import augmented_effect, kernel_outcome_predictions
from .per_dataset import fit_per_dataset
from .potential_outcomes import PotentialOutcomes, has_outcome_network, predict_potential_outcomes
from .residual_trees import residual_corrections
from .streaming import estimate_arrays, streams_forward

__all__ = ["OverlapWarning", "effect_from_weights", "estimate_effect", "residual_std_error", "standardize_columns"]

#: Keywords that only a table read in chunks takes (:func:`hf_causal.cina.streaming.estimate_stream`): with one of
#: them a DataFrame given with column names is streamed, as a parquet file would be, rather than split in memory.
STREAM_OPTIONS = frozenset({"chunk_rows", "weights_path", "client"})


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


def effect_from_weights(
    x_std: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    base: np.ndarray,
    estimand: str,
    moments: int = DEFAULT_MOMENTS,
    outcome_model: str = "kernel",
    potential_outcomes: PotentialOutcomes | None = None,
    cross_moments: bool = False,
) -> tuple[float, float, np.ndarray, float, str]:
    """Calibrate ``base`` weights to ``estimand`` and estimate the effect (module docstring) in memory; the options
    are those :func:`estimate_effect` checked. The standard error is the residual one, without the interval's
    balance and weights checks (docs/design.md §4.6). ``outcome_model="pretrained"`` augments with ``potential_outcomes``
    (the in-context network's predictions of the units' surfaces), with :data:`OUTCOME_NETWORK_SHARE` of the
    network's correction to the kernel model.

    Returns ``(value, std_error, weights, max_residual_imbalance, outcome_model_used)``.
    """
    features = calibration_features(x_std, moments)
    weights, residual = estimand_weights(balance_columns(x_std, treatment, moments, cross_moments), treatment, base,
                                         estimand)
    if outcome_model in ("kernel", "pretrained") and estimand != "overlap":
        if outcome_model == "kernel":
            m1, m0, loo_residuals = kernel_outcome_predictions(x_std, features, treatment, outcome)
        else:
            # the kernel model's leave-one-out residuals stay the noise estimate of the interval: the network
            # saw each unit's own outcome, so its residuals would understate the noise
            m1, m0 = augmentation_surfaces(potential_outcomes)
            loo_residuals = potential_outcomes.kernel_residuals
        value = augmented_effect(weights, treatment, outcome, m1, m0, estimand)
        return value, float(np.sqrt(np.sum(weights**2 * loo_residuals**2))), weights, residual, outcome_model
    value = float(np.sum(weights * (2.0 * treatment - 1.0) * outcome))
    return value, residual_std_error(features, treatment, outcome, weights), weights, residual, "none"


#: Share of the outcome network's correction to the kernel model that the ATE's augmentation uses. Chosen on the
#: validation family ``outcome_validation`` (``benchmarks/outcome_blend_validation.py``). A re-selection on fresh
#: draws preferred the whole correction (1), and the benchmark sent it back: IHDP-B got significantly worse
#: (docs/design.md §4.8). Per-unit effects (``cate``) use the whole correction.
OUTCOME_NETWORK_SHARE = 0.75


def augmentation_surfaces(potential: PotentialOutcomes, share: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(mu1, mu0)`` for the augmented estimator: the kernel model plus ``share`` (default
    :data:`OUTCOME_NETWORK_SHARE`) of the network's correction (a blend of the two outcome models)."""
    share = OUTCOME_NETWORK_SHARE if share is None else share
    return (potential.kernel_mu1 + share * (potential.mu1 - potential.kernel_mu1),
            potential.kernel_mu0 + share * (potential.mu0 - potential.kernel_mu0))


def text_covariates(
    covariates: Any, encoder: Any, columns: str | Sequence[str] | None = None, n_components: int = 16
) -> pd.DataFrame:
    """Covariates with their text columns embedded by ``encoder`` and reduced to ``n_components`` principal
    components each (:func:`hf_causal.backbones.embed_text_columns`); other columns are kept.

    ``covariates`` is a DataFrame (text columns: ``columns``, default every string column), or a sequence of
    texts, taken as one column ``text``. Missing, empty, blank or non-string texts are errors naming their row,
    and so are fewer texts than ``n_components + 1``.
    """
    from ..backbones.text_encoder import as_text_frame, embed_text_columns

    return embed_text_columns(as_text_frame(covariates), encoder, columns=columns, n_components=n_components,
                              progress=False)


def check_text_features(text_features: str | None, text_encoder: Any) -> str | None:
    """How text columns become covariates: ``"embedding"`` (``text_encoder``'s principal components),
    ``"scores"`` (:mod:`hf_causal.cina.text_scores`) or ``None`` (no texts); ``None`` given means
    ``"embedding"`` when there is an encoder."""
    if text_features is None:
        return "embedding" if text_encoder is not None else None
    if text_features not in ("embedding", "scores"):
        raise ValueError(f"text_features must be 'embedding' or 'scores', got {text_features!r}")
    if text_features == "embedding" and text_encoder is None:
        raise ValueError("text_features='embedding' needs text_encoder= (the encoder that embeds the texts)")
    if text_features == "scores" and text_encoder is not None:
        raise ValueError("text_features='scores' reads the words themselves, not an encoder's embedding: "
                         "drop text_encoder= or use text_features='embedding'")
    return text_features


def estimate_effect(
    model: Any,
    covariates: Any,
    treatment: Any,
    outcome: Any,
    estimand: str = DEFAULT_ESTIMAND,
    method: str = DEFAULT_METHOD,
    warn_ess_fraction: float = 0.05,
    moments: int = DEFAULT_MOMENTS,
    outcome_model: str = DEFAULT_OUTCOME_MODEL,
    text_encoder: Any = None,
    text_columns: str | Sequence[str] | None = None,
    text_components: int = 16,
    text_features: str | None = None,
    potential_outcomes: PotentialOutcomes | None = None,
    cross_moments: bool = False,
    confidence: float = 0.95,
    residual_trees: bool = True,
    **fit_kwargs: Any,
) -> EffectEstimate:
    """Estimate an effect with CInA weights; see :meth:`CInAModel.estimate` for the arguments.

    ``potential_outcomes``: the outcome network's predictions for this dataset's own rows
    (:func:`~hf_causal.cina.potential_outcomes.predict_potential_outcomes` with the default moments), when the
    caller has them already (``cate`` does); used with the network only, and saves its pass.

    With column names for ``treatment`` and ``outcome`` the first argument is a table: a DataFrame is split into
    its columns and estimated in memory, as its arrays would be (``columns=`` names the covariate columns; default
    every other column); any other table (a parquet path, a dataset, an iterator of chunks), or a DataFrame given
    with one of :data:`STREAM_OPTIONS`, is streamed (:func:`hf_causal.cina.streaming.estimate_stream`, to which the
    remaining keywords go). Arrays are checked in memory and run through the same chunked passes (docs/design.md
    §4.9), so both forms give the same estimate with the same outcome model (``"auto"`` means the kernel model on a
    stream). Other keywords are an error unless ``method="cina"`` (they go to
    :func:`hf_causal.cina.per_dataset.fit_per_dataset`).
    """
    text_features = check_text_features(text_features, text_encoder)
    normal_quantile(confidence)  # a bad level fails before any work
    if not isinstance(cross_moments, bool | np.bool_):  # "no" is truthy: a string must not switch it on
        raise TypeError(f"cross_moments must be True or False, got {cross_moments!r}")
    if not isinstance(residual_trees, bool | np.bool_):
        raise TypeError(f"residual_trees must be True or False, got {residual_trees!r}")
    if cross_moments and moments == 1:  # products are second moments: with means alone they would be ignored
        raise ValueError("cross_moments=True balances pairwise products beside the squares: it needs moments=2")
    if isinstance(treatment, str) != isinstance(outcome, str):
        raise ValueError("treatment and outcome must both be column names (of the table given as covariates) or "
                         f"both be data, got {type(treatment).__name__} and {type(outcome).__name__}")
    if isinstance(treatment, str) and isinstance(covariates, pd.DataFrame) and not set(fit_kwargs) & STREAM_OPTIONS:
        # a DataFrame already in memory: its columns as arrays, so that it gets the same estimate (the outcome
        # network included) as the arrays would, not the streamed table's kernel model
        covariates, treatment, outcome = split_frame(covariates, treatment, outcome, fit_kwargs.pop("columns", None))
    if isinstance(treatment, str) and isinstance(outcome, str):
        if text_features is not None:
            raise ValueError("texts are read in memory: pass the covariates, treatment and outcome as data, "
                             "not a streamed table with column names")
        from .streaming import estimate_stream

        return estimate_stream(model, covariates, treatment, outcome, fit_kwargs.pop("columns", None),
                               estimand=estimand, method=method, moments=moments, outcome_model=outcome_model,
                               warn_ess_fraction=warn_ess_fraction, cross_moments=cross_moments,
                               **fit_kwargs).set_confidence(confidence)
    start = time.perf_counter()
    # the one check of the options, before any work is done
    check_estimator_options(estimand=estimand, method=method, moments=moments, outcome_model=outcome_model)
    if method != "cina":
        fit_kwargs.pop("progress", None)  # the in-memory zero-shot estimate is one quick pass: nothing to show
    if fit_kwargs and method != "cina":
        raise TypeError(f"estimate() got unexpected keyword arguments {sorted(fit_kwargs)} (only method='cina' "
                        "takes further arguments, those of fit_per_dataset)")
    if text_features == "scores":
        from .text_scores import scored_text_covariates

        covariates = scored_text_covariates(covariates, treatment, outcome, text_columns)
    elif text_features == "embedding":
        covariates = text_covariates(covariates, text_encoder, text_columns, text_components)
    elif text_columns is not None:
        raise ValueError("text_columns= needs text_features='scores' or text_encoder= (the encoder that embeds them)")
    x, names, t, y = validate_inputs(covariates, treatment, outcome)
    extras: dict[str, np.ndarray] = {}
    if outcome_model == "auto":
        use_network = has_outcome_network(model) and estimand != "overlap" and len(t) <= AUTO_NETWORK_MAX_UNITS
        outcome_model = "pretrained" if use_network else "kernel"
    if outcome_model == "pretrained" and estimand != "overlap":
        if not has_outcome_network(model):
            raise ValueError(
                "outcome_model='pretrained' needs a checkpoint with an in-context outcome network "
                "(config.outcome_hidden_size > 0); this one has none: use outcome_model='kernel'"
            )
        potential = potential_outcomes
        if potential is None or moments != DEFAULT_MOMENTS:
            potential = predict_potential_outcomes(model, x, t, y, moments=moments)
        elif len(potential.mu0) != len(t) or (potential.source != "pretrained" and not potential.withheld):
            raise ValueError(f"potential_outcomes must be the network's predictions for the dataset's {len(t)} rows")
        mu1, mu0 = augmentation_surfaces(potential)
        # where the network's residuals keep structure that boosted trees predict on held-out units, the surfaces
        # get the trees' cross-fitted correction (residual_trees.py); elsewhere they stay exactly as they are
        correction = residual_corrections(x, t, y, mu1, mu0) if residual_trees else None
        correction = correction if correction is not None and correction.kept else None
        if correction is not None:
            mu1, mu0 = mu1 + correction.mu1, mu0 + correction.mu0
        # the kernel model's leave-one-out residuals stay the noise estimate of the interval: the network saw each
        # unit's own outcome, so its residuals would understate the noise
        extras.update(mu1=mu1, mu0=mu0, residual=potential.kernel_residuals)
    if method == "cina":
        fit_kwargs.setdefault("lambda0", float(getattr(getattr(model, "config", None), "lambda0", 0.1)))
        extras["base"] = fit_per_dataset(x, t, **fit_kwargs).weights
    elif not streams_forward(model):  # a stand-in with its own base weights (e.g. a benchmark ablation)
        extras["base"] = np.asarray(model.balancing_weights(x, t), dtype=np.float64)
    result = estimate_arrays(model, x, names, covariate_sources(covariates, names), t, y, estimand, method, moments,
                             outcome_model, start, warn_ess_fraction, extras, cross_moments=cross_moments)
    if outcome_model == "pretrained" and estimand != "overlap":
        if potential.withheld:  # the kernel model's surfaces: nothing for the two models to disagree on
            result.outcome_model, result.outcome_withheld = "kernel", potential.withheld
        else:
            widen_by_model_disagreement(result, t, potential)
        if correction is not None:
            widen_by_gap(result, t, correction.mu1, correction.mu0, "the change the boosted trees' residual correction makes")
        result.outcome_network = potential.network
    return result.set_confidence(confidence)


def widen_by_model_disagreement(result: EffectEstimate, treatment: np.ndarray, potential: PotentialOutcomes) -> None:
    """Add the two outcome models' disagreement to the interval's variance, in place.

    The residual-based standard error is conditional on the outcome model being right; the gap between the
    estimates with the kernel model and with the whole network correction (same weights) is a measured scale of
    how wrong either may be. ``Var = sum_i w_i^2 r_i^2 + gap^2`` brought the validation family's 95% coverage
    from 92% to 96% (``benchmarks/results/outcome_blend.md``; docs/design.md §4.8).
    """
    widen_by_gap(result, treatment, potential.mu1 - potential.kernel_mu1, potential.mu0 - potential.kernel_mu0,
                 "the kernel and network outcome models' disagreement")


def widen_by_gap(result: EffectEstimate, treatment: np.ndarray, delta1: np.ndarray, delta0: np.ndarray,
                 note: str) -> None:
    """Add to the interval's variance, in place, the squared change of the estimate when its surfaces move by
    ``(delta1, delta0)`` (same weights), and say so with ``note``; nothing without weights or an interval."""
    if result.weights is None or result.std_error is None:
        return
    # the augmented estimate is linear in the surfaces: the gap is the estimator applied to the change alone
    gap = augmented_effect(result.weights, treatment, np.zeros(len(treatment)), delta1, delta0, result.estimand)
    widened = EffectEstimate.from_standard_error(result.value, float(np.hypot(result.std_error, gap)),
                                                 confidence=result.confidence)
    result.std_error, result.ci_low, result.ci_high = widened.std_error, widened.ci_low, widened.ci_high
    result.interval = f"{result.interval}, plus {note}" if result.interval else f"sampling noise plus {note}"
