"""The first outcome network withheld from a dataset whose arms' surfaces differ in spread beyond its prior
(``config.outcome_spread_limit``, docs/design.md §4.8): the statistic, the predictions it selects, the estimate and
the per-unit effects that use them."""

from __future__ import annotations

import numpy as np
import pytest
from support import tiny_outcome_model

from hf_causal.cina import CInAConfig
from hf_causal.cina.potential_outcomes import predict_potential_outcomes, surface_spread_log_ratio


def two_network_model():
    """A tiny model whose two networks differ (each head perturbed with its own seed)."""
    return tiny_outcome_model(head_seeds=(1, 2), outcome_wide_network=True)


def bent_data(effect: float = 0.2, n: int = 300, seed: int = 0):
    """An exponential control surface beside a flat-ish linear treated one: the spreads differ about 8-fold."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 0.4).astype(np.int64)
    y = np.where(t == 1, 0.3 * x[:, 0] + effect, np.exp(1.2 * x[:, 1])) + 0.1 * rng.normal(size=n)
    return x, t, y


def test_the_statistic_is_the_log_ratio_of_the_surfaces_spreads():
    z = np.random.default_rng(0).normal(size=200)
    mu = np.column_stack([3.0 * z + 7.0, 0.5 * z[::-1] - 2.0])
    assert surface_spread_log_ratio(mu) == pytest.approx(np.log(6.0), rel=1e-12)
    assert surface_spread_log_ratio(mu[:, ::-1]) == pytest.approx(-np.log(6.0), rel=1e-12)
    flat = np.column_stack([z, np.zeros_like(z)])  # a constant surface: large, finite
    assert 20 < surface_spread_log_ratio(flat) < 30


def test_a_dataset_beyond_the_limit_gets_the_kernel_models_predictions():
    model = two_network_model()
    x, t, y = bent_data()
    free = predict_potential_outcomes(model, x, t, y, spread_limit=None)
    assert free.network == "outcome_network" and not free.withheld
    ratio = np.log(np.std(free.kernel_mu0) / np.std(free.kernel_mu1))
    assert free.kernel_spread_log_ratio == pytest.approx(ratio, rel=1e-9) and ratio > 1.0
    kernel = predict_potential_outcomes(model, x, t, y, use_network=False)
    held = predict_potential_outcomes(model, x, t, y, spread_limit=0.9 * ratio)
    for key in ("mu0", "mu1", "sd0", "sd1"):
        np.testing.assert_array_equal(getattr(held, key), getattr(kernel, key))
    assert np.max(np.abs(free.mu1 - kernel.mu1)) > 1e-4  # the network would have changed them
    assert held.source == "kernel" and held.network == "" and "outcome_spread_limit" in held.withheld
    kept = predict_potential_outcomes(model, x, t, y, spread_limit=1.1 * ratio)
    np.testing.assert_array_equal(kept.mu1, free.mu1)
    assert kept.network == "outcome_network" and not kept.withheld


def test_new_rows_follow_their_contexts_decision():
    model = two_network_model()
    x, t, y = bent_data()
    x_new = np.random.default_rng(3).normal(size=(4, 3))
    ratio = predict_potential_outcomes(model, x, t, y).kernel_spread_log_ratio
    held = predict_potential_outcomes(model, x, t, y, x_new=x_new, spread_limit=0.9 * ratio)
    kernel = predict_potential_outcomes(model, x, t, y, x_new=x_new, use_network=False)
    np.testing.assert_array_equal(held.mu0, kernel.mu0)
    assert held.kernel_spread_log_ratio == pytest.approx(ratio, rel=1e-12)  # read from the context rows alone


def test_the_wide_network_is_not_limited():
    """Its prior bends one arm's surface alone, so such spreads are inside what it was trained on."""
    model = two_network_model()
    x, t, y = bent_data(effect=12.0)
    free = predict_potential_outcomes(model, x, t, y, spread_limit=None)
    assert free.network == "outcome_network_wide"
    held = predict_potential_outcomes(model, x, t, y, spread_limit=1e-3)
    np.testing.assert_array_equal(held.mu1, free.mu1)
    assert held.network == "outcome_network_wide" and not held.withheld


def test_the_limit_comes_from_the_config_and_the_estimate_is_the_kernel_models():
    model = two_network_model()
    x, t, y = bent_data()
    free = model.estimate(x, t, y, estimand="ate")
    kernel = model.estimate(x, t, y, estimand="ate", outcome_model="kernel")
    model.config.outcome_spread_limit = 1.0
    held = model.estimate(x, t, y, estimand="ate")
    assert held.value == pytest.approx(kernel.value, rel=1e-12) and abs(free.value - kernel.value) > 1e-6
    assert held.std_error == pytest.approx(kernel.std_error, rel=1e-12)  # no model disagreement added
    assert held.outcome_model == "kernel" and held.outcome_network == ""
    assert "outcome_spread_limit" in held.to_dict()["outcome_withheld"]
    assert "network withheld" in held.summary()
    effects = model.cate(x, t, y)
    assert effects.outcome_model == "kernel" and "outcome_spread_limit" in effects.outcome_withheld


def test_a_spread_limit_must_be_positive():
    with pytest.raises(ValueError, match="outcome_spread_limit"):
        CInAConfig(outcome_spread_limit=0.0)
    model = two_network_model()
    x, t, y = bent_data(n=60)
    for bad in (0.0, -1.0, "big", True, float("nan")):
        with pytest.raises(ValueError, match="spread_limit must be a positive log ratio"):
            predict_potential_outcomes(model, x, t, y, spread_limit=bad)
    for bad in (0, "2.5", -1.0):  # set on the config after loading: checked where it is read, and named
        model.config.outcome_spread_limit = bad
        with pytest.raises(ValueError, match="config.outcome_spread_limit must be None or a positive log ratio"):
            predict_potential_outcomes(model, x, t, y)
