"""Both potential outcomes of every unit (docs/design.md §4.8).

:func:`predict_potential_outcomes` runs a model's in-context outcome network on a dataset (or, for a model
without one, the kernel outcome model alone), for the dataset's own rows or new ones;
:mod:`hf_causal.cina.cate` turns the surfaces into per-unit effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .collate import pad_outcome_contexts
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
        network: which network predicted them: ``"outcome_network"``, ``"outcome_network_wide"`` (the one
            trained on larger effects, :func:`choose_network`) or ``""`` (the kernel model).
        kernel_effect_in_sd: the kernel model's plug-in effect over the context rows in outcome SDs, the statistic
            :func:`choose_network` routes on.
        kernel_spread_log_ratio: ``log(SD(m0) / SD(m1))`` of the kernel model's surfaces over the context rows,
            the statistic of ``config.outcome_spread_limit`` (:func:`surface_spread_log_ratio`).
        withheld: why the network chosen for the dataset was not used (its predictions replaced by the kernel
            model's), or ``""``.
    """

    mu0: np.ndarray
    mu1: np.ndarray
    sd0: np.ndarray
    sd1: np.ndarray
    kernel_mu0: np.ndarray
    kernel_mu1: np.ndarray
    kernel_residuals: np.ndarray
    source: str
    network: str = ""
    kernel_effect_in_sd: float = float("nan")
    kernel_spread_log_ratio: float = float("nan")
    withheld: str = ""


def has_outcome_network(model: Any) -> bool:
    """Whether ``model`` carries a (pretrained) in-context outcome network."""
    return getattr(model, "outcome_network", None) is not None


def choose_network(model: Any, kernel_effect_in_sd: float, wide_network: bool | None = None) -> str:
    """The outcome network a dataset goes to: ``"outcome_network_wide"`` when the model has one and the kernel
    model's plug-in effect (in outcome SDs) exceeds ``config.outcome_wide_effect_threshold`` in absolute value,
    i.e. the effect is larger than any the first network was trained on (docs/design.md §4.8); otherwise
    ``"outcome_network"``. ``wide_network`` overrides the rule (``True``: the wide one when there is one;
    ``False``: never), for ablations."""
    if getattr(model, "outcome_network_wide", None) is None or wide_network is False:
        return "outcome_network"
    if wide_network:
        return "outcome_network_wide"
    threshold = float(model.config.outcome_wide_effect_threshold)
    return "outcome_network_wide" if abs(kernel_effect_in_sd) > threshold else "outcome_network"


def config_limit(model: Any, value: float | None | str, attribute: str, unit: str) -> float | None:
    """The positive limit ``value`` names (``"config"``: the model's ``config.<attribute>``), checked: ``None`` or a
    positive number, given or configured (``unit`` says what it is, for the error)."""
    what = f"{attribute.removeprefix('outcome_')} must be a positive {unit}, None or 'config'"
    if isinstance(value, str):
        if value != "config":
            raise ValueError(f"{what}; got {value!r}")
        value = getattr(getattr(model, "config", None), attribute, None)
        what = f"config.{attribute} must be None or a positive {unit}"
    if value is None:
        return None
    # a bool is an int to Python, and True would silently mean 1
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
        raise ValueError(f"{what}; got {value!r}")
    return float(value)


def row_limit_of(model: Any, row_limit: float | None | str) -> float | None:
    """The row limit in outcome SDs that ``row_limit`` names (``"config"``: the model's
    ``config.outcome_row_limit``), checked: ``None`` or a positive number."""
    return config_limit(model, row_limit, "outcome_row_limit", "number of outcome SDs")


def surface_spread_log_ratio(kernel_mu: np.ndarray) -> float:
    """``log(SD(m0) / SD(m1))`` of the surfaces ``kernel_mu`` (``(N, 2)``, in outcome SDs) over its rows.

    The first outcome network's prior draws both arms' surfaces around one shape (the effect within ±1 SD of the
    control surface), so their spreads stay within a bounded ratio; a dataset beyond it (IHDP-B's exponential
    control and linear treated surfaces) is outside what the network was trained on (docs/design.md §4.8). A
    floor of 1e-12 outcome SDs keeps a flat surface finite.
    """
    floor = 1e-12
    spread = np.std(np.asarray(kernel_mu, dtype=np.float64), axis=0)
    return float(np.log((spread[0] + floor) / (spread[1] + floor)))


@torch.no_grad()
def predict_potential_outcomes(
    model: Any,
    x: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    x_new: np.ndarray | None = None,
    moments: int = 2,
    use_network: bool = True,
    wide_network: bool | None = None,
    center_effect: bool = False,
    row_limit: float | None | str = "config",
    spread_limit: float | None | str = "config",
) -> PotentialOutcomes:
    """Potential outcomes of the context rows ``(x, treatment, outcome)`` (validated numpy arrays), or of the
    rows ``x_new`` when given. ``use_network=False`` (or a model without a network) gives the kernel model's.
    A model with two outcome networks routes the dataset by :func:`choose_network` (``wide_network``
    overrides it). ``center_effect``: the network reads the outcomes less the kernel model's plug-in effect on the
    treated rows, and that effect is added back to its ``mu1`` (docs/design.md §4.8). ``row_limit``: context rows
    whose outcome is more than this many outcome SDs from the mean keep the kernel model's predictions
    (``"config"``: ``config.outcome_row_limit``; ``None``: no limit). ``spread_limit``: a dataset routed to the
    first network keeps the kernel model's predictions when :func:`surface_spread_log_ratio` of the kernel model's
    context surfaces exceeds it in absolute value (``"config"``: ``config.outcome_spread_limit``; ``None``: no
    check)."""
    limit = row_limit_of(model, row_limit)
    spread_cap = config_limit(model, spread_limit, "outcome_spread_limit", "log ratio of spreads")
    ctx = outcome_context(x, treatment, outcome, x_new=x_new, moments=moments)
    rows = slice(None) if x_new is None else slice(ctx.n_context, None)
    kernel_mu, kernel_sd = ctx.kernel_mu, ctx.kernel_sd
    name = ""
    # the kernel model's plug-in effect over the context rows; its predictions are in units of the outcome's SD
    effect_in_sd = float(np.mean(kernel_mu[: ctx.n_context, 1] - kernel_mu[: ctx.n_context, 0]))
    spread_ratio = surface_spread_log_ratio(kernel_mu[: ctx.n_context])
    withheld = ""
    if use_network and has_outcome_network(model):
        name = choose_network(model, effect_in_sd, wide_network)
        if name == "outcome_network" and spread_cap is not None and abs(spread_ratio) > spread_cap:
            withheld = (f"the kernel model's surfaces differ in spread by |log ratio| {abs(spread_ratio):.2f} > "
                        f"outcome_spread_limit {spread_cap:g}, beyond the first outcome network's prior; "
                        "model.config.outcome_spread_limit = None uses the network anyway")
            name = ""
        elif name and ctx.unscaled:
            # the network's corrections are in outcome SDs; on an outcome without one they would be noise in its units
            withheld = ("the outcome is constant up to rounding (its SD vanishes beside its level), so the network has "
                        "no standardised outcome to read")
            name = ""
    if name:
        network = getattr(model, name)
        shift = effect_in_sd * ctx.y_scale if center_effect else 0.0
        # the kernel model fits each arm with its own intercept, so it is the same model of the shifted outcomes
        net_ctx = ctx if not center_effect else outcome_context(
            x, treatment, np.asarray(outcome, dtype=np.float64) - shift * np.asarray(treatment), x_new=x_new,
            moments=moments)
        was_training = network.training
        network.eval()
        try:
            device = next(network.parameters()).device
            batch = {k: v.to(device) for k, v in pad_outcome_contexts([net_ctx]).items()}
            out = network(**batch)
        finally:
            network.train(was_training)
        mu = np.column_stack([out.mu0[0].double().cpu().numpy(), out.mu1[0].double().cpu().numpy()])
        sd = np.exp(np.column_stack([out.log_sd0[0].double().cpu().numpy(), out.log_sd1[0].double().cpu().numpy()]))
        if center_effect:  # back to the context's standardisation, the plug-in effect restored on the treated surface
            mu = (mu * net_ctx.y_scale + net_ctx.y_mean - ctx.y_mean + np.array([0.0, shift])) / ctx.y_scale
            sd = sd * net_ctx.y_scale / ctx.y_scale
        if limit is not None:
            # a unit far out in the outcome's tail: the network carries its outcome over to the other arm's surface,
            # which is right under its prior's shared surfaces and wrong where the arms' shapes differ
            far = np.zeros(len(mu), dtype=bool)
            far[: ctx.n_context] = np.abs(ctx.y[: ctx.n_context]) > limit
            mu[far], sd[far] = kernel_mu[far], kernel_sd[far]
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
        network=name,
        kernel_effect_in_sd=effect_in_sd,
        kernel_spread_log_ratio=spread_ratio,
        withheld=withheld,
    )
