"""Both potential outcomes of every unit, and conditional effects with intervals (docs/design.md §4.8).

:func:`predict_potential_outcomes` runs a model's in-context outcome network on a dataset (or, for a model
without one, the kernel outcome model alone); :func:`estimate_cate` turns the surfaces into per-unit effects
``mu1(x) - mu0(x)`` with normal intervals from the predicted spreads, for the dataset's own rows or new ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.results import EffectEstimate, normal_quantile
from .collate import pad_outcome_contexts
from .inputs import encode_covariates, validate_outcome, validate_treatment
from .outcome_features import outcome_context


@dataclass
class PotentialOutcomes:
    """Predicted ``mu0``, ``mu1`` (original outcome units) of the rows asked for, with their spreads.

    Attributes:
        mu0, mu1: ``(R,)`` predicted potential-outcome means.
        sd0, sd1: ``(R,)`` standard deviations of those predictions (the network's learned spreads, or the
            kernel model's sampling standard deviations).
        kernel_mu0, kernel_mu1: ``(R,)`` the kernel model's predictions (what the network corrects).
        kernel_residuals: ``(N,)`` the context units' leave-one-out residuals under the kernel model (original
            units), the noise estimate of the estimator's standard error.
        source: ``"pretrained"`` (the in-context network) or ``"kernel"``.
    """

    mu0: np.ndarray
    mu1: np.ndarray
    sd0: np.ndarray
    sd1: np.ndarray
    kernel_mu0: np.ndarray
    kernel_mu1: np.ndarray
    kernel_residuals: np.ndarray
    source: str


def has_outcome_network(model: Any) -> bool:
    """Whether ``model`` carries a (pretrained) in-context outcome network."""
    return getattr(model, "outcome_network", None) is not None


@torch.no_grad()
def predict_potential_outcomes(
    model: Any,
    x: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    x_new: np.ndarray | None = None,
    moments: int = 2,
    use_network: bool = True,
) -> PotentialOutcomes:
    """Potential outcomes of the context rows ``(x, treatment, outcome)`` (validated numpy arrays), or of the
    rows ``x_new`` when given. ``use_network=False`` (or a model without a network) gives the kernel model's."""
    ctx = outcome_context(x, treatment, outcome, x_new=x_new, moments=moments)
    rows = slice(None) if x_new is None else slice(ctx.n_context, None)
    kernel_mu, kernel_sd = ctx.kernel_mu, ctx.kernel_sd
    if use_network and has_outcome_network(model):
        network = model.outcome_network
        was_training = network.training
        network.eval()
        try:
            device = next(network.parameters()).device
            batch = {k: v.to(device) for k, v in pad_outcome_contexts([ctx]).items()}
            out = network(**batch)
        finally:
            network.train(was_training)
        mu = np.column_stack([out.mu0[0].double().cpu().numpy(), out.mu1[0].double().cpu().numpy()])
        sd = np.exp(np.column_stack([out.log_sd0[0].double().cpu().numpy(), out.log_sd1[0].double().cpu().numpy()]))
        source = "pretrained"
    else:
        mu, sd, source = kernel_mu, kernel_sd, "kernel"
    scale, mean = ctx.y_scale, ctx.y_mean
    return PotentialOutcomes(
        mu0=mu[rows, 0] * scale + mean,
        mu1=mu[rows, 1] * scale + mean,
        sd0=sd[rows, 0] * scale,
        sd1=sd[rows, 1] * scale,
        kernel_mu0=kernel_mu[rows, 0] * scale + mean,
        kernel_mu1=kernel_mu[rows, 1] * scale + mean,
        kernel_residuals=ctx.kernel_residuals[: ctx.n_context] * scale,
        source=source,
    )


def estimate_cate(
    model: Any,
    covariates: Any,
    treatment: Any,
    outcome: Any,
    covariates_new: Any = None,
    confidence: float = 0.95,
    outcome_model: str = "pretrained",
) -> EffectEstimate:
    """Per-unit conditional effects ``mu1(x) - mu0(x)`` with intervals; see :meth:`CInAModel.cate`."""
    start = time.perf_counter()
    if outcome_model not in ("pretrained", "kernel"):
        raise ValueError(f"outcome_model must be 'pretrained' or 'kernel' for effects per unit, got {outcome_model!r}")
    z = normal_quantile(confidence)
    x, names = encode_covariates(covariates)
    n = x.shape[0]
    t = validate_treatment(treatment, n)
    y = validate_outcome(outcome, n)
    x_new = None
    index: Any = covariates.index if isinstance(covariates, pd.DataFrame) else pd.RangeIndex(n)
    if covariates_new is not None:
        x_new, new_names = encode_covariates(covariates_new)
        if new_names != names:
            raise ValueError(f"X_new has the columns {new_names[:8]}, the context {names[:8]}: they must match")
        index = covariates_new.index if isinstance(covariates_new, pd.DataFrame) else pd.RangeIndex(len(x_new))
    po = predict_potential_outcomes(model, x, t, y, x_new=x_new, use_network=outcome_model == "pretrained")
    effect = po.mu1 - po.mu0
    # the arms' errors are treated as independent: a conservative interval when they are positively correlated
    sd = np.sqrt(po.sd0**2 + po.sd1**2)
    effects = pd.DataFrame(
        {"cate": effect, "std_error": sd, "ci_low": effect - z * sd, "ci_high": effect + z * sd,
         "mu0": po.mu0, "mu1": po.mu1},
        index=index,
    )
    # the rows' average effect carries no interval here: their errors are correlated, and the ATE estimator
    # (estimate(), doubly robust, with its own interval) is the tool for the average
    where = "the context rows" if x_new is None else "the new rows"
    return EffectEstimate(
        float(effect.mean()),
        confidence=confidence,
        estimand="cate",
        method="cina-zs",
        n=len(effect),
        query=f"mean over {where} of E[Y(1) - Y(0) | X = x]",
        interval="the outcome model's predicted spread of each row's effect (model error, not sampling noise)",
        seconds=time.perf_counter() - start,
        outcome_model=po.source,
        effects=effects,
    )
