"""Two outcome networks routed by the size of the effect (docs/design.md §4.8): the rule, the predictions it
selects, the estimator that uses them, the checkpoint that carries both, and train/attach_wide_network.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support import TINY_OUTCOME, load_script, tiny_cina_model, tiny_outcome_model

from hf_causal.cina import CInAConfig, CInAModel
from hf_causal.cina.potential_outcomes import choose_network, predict_potential_outcomes

NETWORK = TINY_OUTCOME  # the outcome networks of every model here


def two_network_model(threshold: float = 1.25) -> CInAModel:
    """A tiny model whose two networks differ (each head perturbed with its own seed)."""
    return tiny_outcome_model(head_seeds=(1, 2), outcome_wide_network=True, outcome_wide_effect_threshold=threshold)


def data(effect: float, n: int = 300, seed: int = 0):
    """Unconfounded data whose effect is ``effect`` outcome SDs of the control arm (noise SD 0.3)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 0.5).astype(np.int64)
    y = x[:, 0] + effect * t + 0.3 * rng.normal(size=n)
    return x, t, y


def test_the_rule_routes_by_the_kernel_effect_in_outcome_sds():
    model = two_network_model(threshold=1.25)
    assert choose_network(model, 1.3) == choose_network(model, -1.3) == "outcome_network_wide"
    assert choose_network(model, 1.2) == "outcome_network"
    assert choose_network(model, 0.1, wide_network=True) == "outcome_network_wide"
    assert choose_network(model, 5.0, wide_network=False) == "outcome_network"
    one = tiny_cina_model(seed=0, **NETWORK)  # a checkpoint with one network: always that one
    assert one.outcome_network_wide is None and choose_network(one, 5.0, wide_network=True) == "outcome_network"


@pytest.mark.parametrize(("effect", "expected"), [(0.3, "outcome_network"), (4.0, "outcome_network_wide")])
def test_predictions_come_from_the_network_the_rule_names(effect, expected):
    """The kernel plug-in effect of data with effect 4 (in SDs of Y: about 4 / sqrt(1 + 0.09 + 4) ~ 1.8) is above
    1.25, that of effect 0.3 below; the routed predictions equal those of a one-network model holding the chosen
    network, and differ from the other's."""
    model = two_network_model()
    x, t, y = data(effect)
    po = predict_potential_outcomes(model, x, t, y)
    assert po.network == expected
    # the statistic it routed on: the kernel model's plug-in effect in SDs of Y, reported with the predictions
    assert po.kernel_effect_in_sd == pytest.approx(np.mean(po.kernel_mu1 - po.kernel_mu0) / np.std(y), rel=1e-9)
    assert choose_network(model, po.kernel_effect_in_sd) == expected
    for name in ("outcome_network", "outcome_network_wide"):
        single = tiny_cina_model(seed=0, **NETWORK)
        single.outcome_network.load_state_dict(getattr(model, name).state_dict())
        ref = predict_potential_outcomes(single, x, t, y)
        same = np.allclose(po.mu1, ref.mu1) and np.allclose(po.mu0, ref.mu0)
        assert same == (name == expected), name
    assert predict_potential_outcomes(model, x, t, y, use_network=False).network == ""


def test_the_estimate_uses_the_routed_network_and_the_override_turns_it_off():
    from hf_causal.cina.estimator import estimate_effect

    model = two_network_model()
    x, t, y = data(4.0)
    routed = model.estimate(x, t, y, outcome_model="pretrained").value
    narrow = predict_potential_outcomes(model, x, t, y, wide_network=False)
    assert narrow.network == "outcome_network"
    unrouted = estimate_effect(model, x, t, y, outcome_model="pretrained", potential_outcomes=narrow).value
    wide = predict_potential_outcomes(model, x, t, y)
    assert routed == pytest.approx(
        estimate_effect(model, x, t, y, outcome_model="pretrained", potential_outcomes=wide).value, rel=1e-12)
    assert abs(routed - unrouted) > 1e-6
    # the result says which network ran, in its fields, its dict and its summary; per-unit effects too
    result = model.estimate(x, t, y, outcome_model="pretrained")
    assert result.outcome_network == "outcome_network_wide" and result.to_dict()["outcome_network"] == result.outcome_network
    assert "wide-prior network" in result.summary()
    small = model.estimate(*data(0.3), outcome_model="pretrained")
    assert small.outcome_network == "outcome_network" and "wide-prior" not in small.summary()
    assert model.cate(x, t, y).outcome_network == "outcome_network_wide"
    assert model.estimate(x, t, y, outcome_model="kernel").outcome_network == ""


def test_both_networks_survive_a_safetensors_round_trip(tmp_path):
    model = two_network_model(threshold=0.8)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = CInAModel.from_pretrained(tmp_path)
    assert loaded.config.outcome_wide_network and loaded.config.outcome_wide_effect_threshold == 0.8
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_the_config_names_an_impossible_wide_network():
    with pytest.raises(ValueError, match="needs an outcome network"):
        CInAConfig(outcome_wide_network=True)
    with pytest.raises(ValueError, match="outcome_wide_effect_threshold must be > 0"):
        CInAConfig(outcome_hidden_size=8, outcome_wide_network=True, outcome_wide_effect_threshold=0.0)


def test_attach_keeps_the_base_and_adds_the_fine_tuned_network(tmp_path):
    attach = load_script("train/attach_wide_network.py", "attach_wide_network_script")
    base = tiny_cina_model(seed=0, **NETWORK)
    tuned = tiny_cina_model(seed=0, **NETWORK)
    with torch.no_grad():
        tuned.outcome_network.head.weight.add_(1.0)
    both = attach.attach(base, tuned, threshold=1.5)
    assert both.config.outcome_wide_effect_threshold == 1.5
    for name, tensor in base.state_dict().items():
        assert torch.equal(both.state_dict()[name], tensor), name
    for name, tensor in tuned.outcome_network.state_dict().items():
        assert torch.equal(both.outcome_network_wide.state_dict()[name], tensor), name
    other = tiny_cina_model(seed=5, **NETWORK)  # other balancing weights: not fine-tuned from this base
    with pytest.raises(ValueError, match="balancing weights differ"):
        attach.attach(base, other, threshold=1.25)
    wider = tiny_cina_model(seed=0, **{**NETWORK, "outcome_hidden_size": 8})
    wider.load_state_dict({k: v for k, v in base.state_dict().items() if not k.startswith("outcome_")}, strict=False)
    with pytest.raises(ValueError, match="differ in shape"):
        attach.attach(base, wider, threshold=1.25)


def test_centered_predictions_are_equivariant_to_a_constant_effect():
    """With ``center_effect`` the network reads the outcomes less the kernel model's plug-in effect, so adding a
    constant ``c`` to the treated outcomes moves ``mu1`` by exactly ``c`` and leaves ``mu0`` (and the spreads) where
    they were, for the context rows and for new rows; without it the (perturbed) network does not have that
    property."""
    model = two_network_model()
    x, t, y = data(0.5)
    x_new = np.random.default_rng(5).normal(size=(7, 3))
    for rows in (None, x_new):
        base = predict_potential_outcomes(model, x, t, y, x_new=rows, wide_network=False, center_effect=True)
        moved = predict_potential_outcomes(model, x, t, y + 2.0 * t, x_new=rows, wide_network=False,
                                           center_effect=True)
        np.testing.assert_allclose(moved.mu1, base.mu1 + 2.0, atol=1e-5)
        np.testing.assert_allclose(moved.mu0, base.mu0, atol=1e-5)
        np.testing.assert_allclose(moved.sd1, base.sd1, rtol=1e-4)
        np.testing.assert_allclose(moved.kernel_mu1, base.kernel_mu1 + 2.0, atol=1e-8)
    plain = predict_potential_outcomes(model, x, t, y, wide_network=False)
    plain_moved = predict_potential_outcomes(model, x, t, y + 2.0 * t, wide_network=False)
    assert np.max(np.abs(plain_moved.mu1 - plain.mu1 - 2.0)) > 1e-3


def test_centering_an_untrained_network_gives_the_kernel_model():
    """The head starts at zero, so an untrained network is the kernel model, centered or not."""
    model = tiny_cina_model(seed=0, **NETWORK)
    x, t, y = data(1.0)
    po = predict_potential_outcomes(model, x, t, y, center_effect=True)
    np.testing.assert_allclose(po.mu1, po.kernel_mu1, atol=1e-5)
    np.testing.assert_allclose(po.mu0, po.kernel_mu0, atol=1e-5)


def tail_data(n: int = 300, seed: int = 0):
    """Data with a handful of control outcomes far out in the tail (an exponential control surface)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 0.4).astype(np.int64)
    y = np.where(t == 1, x[:, 0] + 1.0, np.exp(1.2 * x[:, 1])) + 0.1 * rng.normal(size=n)
    return x, t, y


def test_rows_beyond_the_limit_keep_the_kernel_models_predictions():
    """Context rows whose outcome is more than ``row_limit`` SDs from the mean get exactly the kernel model's
    predictions and spreads; every other row, and new rows, get exactly what they get without a limit."""
    model = two_network_model()
    x, t, y = tail_data()
    far = np.abs(y - y.mean()) / y.std() > 3.0
    assert 0 < far.sum() < 20
    free = predict_potential_outcomes(model, x, t, y, row_limit=None)
    held = predict_potential_outcomes(model, x, t, y, row_limit=3.0)
    for key in ("mu0", "mu1", "sd0", "sd1"):
        kernel = getattr(held, f"kernel_{key}") if key.startswith("mu") else None
        if kernel is not None:
            np.testing.assert_allclose(getattr(held, key)[far], kernel[far], rtol=1e-12)
            assert np.max(np.abs(getattr(free, key)[far] - kernel[far])) > 1e-4  # the network did change them
        np.testing.assert_array_equal(getattr(held, key)[~far], getattr(free, key)[~far])
    kernel_only = predict_potential_outcomes(model, x, t, y, use_network=False)
    np.testing.assert_allclose(held.sd1[far], kernel_only.sd1[far], rtol=1e-12)
    x_new = np.random.default_rng(3).normal(size=(5, 3))
    np.testing.assert_array_equal(predict_potential_outcomes(model, x, t, y, x_new=x_new, row_limit=3.0).mu1,
                                  predict_potential_outcomes(model, x, t, y, x_new=x_new, row_limit=None).mu1)


def test_the_limit_comes_from_the_config_and_reaches_the_estimate():
    """``config.outcome_row_limit`` is the default limit, and the default estimate is the augmented estimate on the
    limited surfaces (the kernel model's weights, 0.75 of the correction; the residual trees, tested on their own,
    off)."""
    from hf_causal.cina.estimator import augmentation_surfaces
    from hf_causal.cina.outcome import augmented_effect

    model = two_network_model()
    x, t, y = tail_data()
    no_limit = model.estimate(x, t, y, estimand="ate", residual_trees=False).value
    model.config.outcome_row_limit = 3.0
    po = predict_potential_outcomes(model, x, t, y)
    np.testing.assert_array_equal(po.mu1, predict_potential_outcomes(model, x, t, y, row_limit=3.0).mu1)
    limited = model.estimate(x, t, y, estimand="ate", residual_trees=False)
    weights = model.estimate(x, t, y, estimand="ate", outcome_model="kernel").weights
    m1, m0 = augmentation_surfaces(po)
    assert limited.value == pytest.approx(augmented_effect(weights, t, y, m1, m0, "ate"), rel=1e-9)
    assert abs(limited.value - no_limit) > 1e-6


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_a_row_limit_must_be_positive(bad):
    with pytest.raises(ValueError, match="outcome_row_limit"):
        CInAConfig(outcome_row_limit=bad)


@pytest.mark.parametrize("bad", [0.0, -2.0, "five"])
def test_a_bad_row_limit_argument_is_named(bad):
    model = two_network_model()
    x, t, y = tail_data(n=60)
    with pytest.raises(ValueError, match="row_limit must be a positive number"):
        predict_potential_outcomes(model, x, t, y, row_limit=bad)
