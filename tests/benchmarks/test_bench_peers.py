"""The built-in peers and CInA adapters run on a small confounded dataset and adjust for confounding."""

from __future__ import annotations

import numpy as np
import pytest
from harness.peers import (  # noqa: E402
    AIPWGradientBoosting,
    BlendedOutcomeEstimator,
    CInAEstimator,
    IPWLogistic,
    NaiveDifference,
    SVMDualBalancing,
    default_estimators,
)
from harness.protocol import EstimatorSkipped  # noqa: E402
from harness.suites import SUITES, load_suite  # noqa: E402
from support import tiny_cina_model, tiny_outcome_model


@pytest.fixture(scope="module")
def confounded() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 300
    X = rng.normal(size=(n, 3))
    T = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(np.int64)
    Y = 2.0 * X[:, 0] + 1.0 * T + rng.normal(scale=0.5, size=n)
    return X, T, Y


@pytest.mark.parametrize("estimand", ["ate", "att"])
def test_adjusting_peers_beat_the_naive_contrast(confounded, estimand: str) -> None:
    X, T, Y = confounded
    naive = NaiveDifference().estimate(X, T, Y, estimand)
    assert abs(naive.value - 1.0) > 1.0  # strongly confounded
    from sklearn.linear_model import LinearRegression, LogisticRegression

    # AIPW's formulas checked with correctly specified (linear) nuisance models
    aipw_linear = AIPWGradientBoosting(propensity_model=LogisticRegression, outcome_model=LinearRegression)
    for estimator in (IPWLogistic(), aipw_linear, SVMDualBalancing()):
        out = estimator.estimate(X, T, Y, estimand)
        assert abs(out.value - 1.0) < 0.3 * abs(naive.value - 1.0), estimator.name
        assert out.has_interval and out.ci_low < out.value < out.ci_high
    assert abs(aipw_linear.estimate(X, T, Y, estimand).value - 1.0) < 0.2


def test_aipw_gbm_runs(confounded) -> None:
    from threadpoolctl import threadpool_limits

    X, T, Y = confounded
    with threadpool_limits(1):  # OpenMP spinning on a busy 2-core box costs tens of seconds
        out = AIPWGradientBoosting().estimate(X, T, Y, "ate")  # small-N tree nuisances: only check it runs
    assert np.isfinite(out.value) and out.ci_low < out.value < out.ci_high


def test_quadratic_solvers_skip_large_n(confounded) -> None:
    X, T, Y = confounded
    with pytest.raises(EstimatorSkipped, match="O\\(N\\^2\\)"):
        SVMDualBalancing(max_n=100).estimate(X, T, Y, "ate")


def test_cina_adapter_and_default_lineup(confounded) -> None:
    import torch


    torch.manual_seed(0)
    model = tiny_cina_model(hidden_size=16)
    X, T, Y = confounded
    out = CInAEstimator(model, "cina-zs").estimate(X, T, Y, "ate")
    assert np.isfinite(out.value) and out.ci_low < out.value < out.ci_high
    names = [e.name for e in default_estimators(model)]
    assert names == [
        "naive",
        "ipw",
        "aipw_gbm",
        "linear_dml",
        "causal_forest_dml",
        "dowhy_ipw",
        "svm_dual",
        "cina_per_dataset",
        "cina_zs_weights",
        "cina_zs_kernel",
        "cina_zs_uniform",
        *(["cina_zs_pretrained", "cina_zs_whole"] if getattr(model, "outcome_network", None) is not None else []),
        *(["cina_zs_one_network"] if getattr(model, "outcome_network_wide", None) is not None else []),
        "cina_zs_cross",
        "cina_zs",
        "oracle_surfaces",
    ]
    with_network = tiny_cina_model(hidden_size=16, outcome_hidden_size=8, outcome_num_layers=1,
                                   outcome_intermediate_size=16)
    assert [e.name for e in default_estimators(with_network)][-5:] == ["cina_zs_pretrained", "cina_zs_whole",
                                                                        "cina_zs_cross", "cina_zs", "oracle_surfaces"]
    weights_only = CInAEstimator(model, "cina-zs", name="cina_zs_weights", outcome_model="none")
    by_hand = model.estimate(X, T, Y, outcome_model="none").value
    assert weights_only.estimate(X, T, Y, "ate").value == by_hand != out.value
    assert CInAEstimator(model, "cina").max_n == 3000 and CInAEstimator(model, "cina-zs").max_n is None


def test_suites_registry_and_quick_synthetic_suite() -> None:
    expected = {"synthetic_id", "ood_mechanism", "ood_dense_graph", "ood_strong_confounding", "ood_weak_overlap"}
    assert expected | {"ood_large_n", "acic2016", "ihdp_a", "ihdp_b", "lalonde_nsw_cps", "lalonde_nsw_psid"} <= set(SUITES)
    assert SUITES["lalonde_nsw_psid"].estimand == "att" and SUITES["ihdp_b"].default_size == 100
    data = list(load_suite("synthetic_id", n_datasets=2, quick=True))
    assert [d.n for d in data] == [300, 300] and all(d.estimand == "ate" for d in data)
    assert all(np.isfinite(d.truth) for d in data)


def test_blended_outcome_row_is_the_kernel_model_plus_its_share_of_the_correction(monkeypatch) -> None:
    """The augmented estimate is linear in the surfaces: the share-1 row is the whole network correction, a share-0.5
    row sits halfway from the kernel model's estimate to it, and the default share is restored after each call
    (the residual trees, whose gate is shut here, would add a correction of their own to each)."""
    import torch

    from hf_causal.cina import estimator, residual_trees

    monkeypatch.setattr(residual_trees, "RESIDUAL_TREES_GATE", np.inf)

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    T = (rng.random(300) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    Y = X[:, 0] + X[:, 1] * T + rng.normal(size=300)
    model = tiny_cina_model(hidden_size=16, outcome_hidden_size=8, outcome_num_layers=1, outcome_intermediate_size=16)
    torch.manual_seed(3)
    with torch.no_grad():  # a network whose correction to the kernel model is not negligible
        model.outcome_network.head.weight[:2] += torch.randn_like(model.outcome_network.head.weight[:2])
    default_share = estimator.OUTCOME_NETWORK_SHARE
    whole = BlendedOutcomeEstimator(model, 1.0, name="cina_zs_whole").estimate(X, T, Y, "ate").value
    half = BlendedOutcomeEstimator(model, 0.5, name="half").estimate(X, T, Y, "ate").value
    assert estimator.OUTCOME_NETWORK_SHARE == default_share
    default = model.estimate(X, T, Y, outcome_model="pretrained").value
    kernel = model.estimate(X, T, Y, outcome_model="kernel").value
    assert abs(whole - kernel) > 1e-3
    assert half == pytest.approx(kernel + 0.5 * (whole - kernel), rel=1e-9)
    assert default == pytest.approx(kernel + default_share * (whole - kernel), rel=1e-9)


def assert_ablation_row(model, name: str, X, T, Y, potential) -> None:
    """The benchmark row ``name`` is the default estimate with the outcome network's predictions ``potential`` (what
    the ablation leaves), and differs from the default's."""
    from hf_causal.cina.estimator import estimate_effect

    lineup = {e.name: e for e in default_estimators(model)}
    ablated = lineup[name].estimate(X, T, Y, "ate").value
    assert ablated == pytest.approx(estimate_effect(model, X, T, Y, outcome_model="pretrained",
                                                    potential_outcomes=potential).value, rel=1e-12)
    assert abs(ablated - lineup["cina_zs"].estimate(X, T, Y, "ate").value) > 1e-6


def test_the_one_network_row_hides_only_the_wide_network() -> None:
    """``cina_zs_one_network`` is the default estimate with routing off: on data whose effect is large (routed to
    the wide network) it equals the estimate from the first network's predictions and differs from the default;
    its CATE likewise; the wrapped model is untouched."""
    import torch
    from harness.peers import first_outcome_network_only

    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    model = tiny_cina_model(hidden_size=16, outcome_hidden_size=8, outcome_num_layers=1, outcome_intermediate_size=16,
                            outcome_wide_network=True)
    with torch.no_grad():  # two networks that disagree
        for seed, network in ((1, model.outcome_network), (2, model.outcome_network_wide)):
            torch.manual_seed(seed)
            network.head.weight[:2] += torch.randn_like(network.head.weight[:2])
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    T = (rng.random(300) < 0.5).astype(int)
    Y = X[:, 0] + 4.0 * T + 0.3 * rng.normal(size=300)
    first = predict_potential_outcomes(model, X, T.astype(np.int64), Y, wide_network=False)
    assert_ablation_row(model, "cina_zs_one_network", X, T, Y, first)
    wide = model.outcome_network_wide
    with first_outcome_network_only(model):
        cate_one = model.cate(X, T, Y).effects["cate"]
    assert model.outcome_network_wide is wide  # put back
    assert not np.allclose(cate_one, model.cate(X, T, Y).effects["cate"])
    with pytest.raises(RuntimeError), first_outcome_network_only(model):
        raise RuntimeError("an estimator that fails")
    assert model.outcome_network_wide is wide  # put back after an error too


@pytest.mark.parametrize(("attribute", "row", "limit", "treated_slope", "treated_shift"), [
    # rows far out in the tail of an exponential control surface
    ("outcome_row_limit", "cina_zs_no_row_limit", 3.0, 1.0, 1.0),
    # an exponential control surface beside a flat treated one: spreads beyond the limit
    ("outcome_spread_limit", "cina_zs_no_spread_limit", 1.0, 0.3, 0.2),
])
def test_a_limits_ablation_row_turns_only_that_limit_off(attribute, row, limit, treated_slope, treated_shift) -> None:
    """The row exists only for a checkpoint that sets the limit; it is the default estimate from the predictions
    without the limit, differs from the default on data the limit acts on, and leaves the model's limit in place,
    also after an error."""
    import harness.peers as peers

    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    ablation = getattr(peers, f"without_{attribute.removeprefix('outcome_')}")
    model = tiny_outcome_model()
    assert row not in {e.name for e in default_estimators(model)}
    setattr(model.config, attribute, limit)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    T = (rng.random(300) < 0.4).astype(int)
    Y = np.where(T == 1, treated_slope * X[:, 0] + treated_shift, np.exp(1.2 * X[:, 1])) + 0.1 * rng.normal(size=300)
    unlimited = predict_potential_outcomes(model, X, T.astype(np.int64), Y, **{attribute.removeprefix("outcome_"): None})
    assert_ablation_row(model, row, X, T, Y, unlimited)
    assert getattr(model.config, attribute) == limit
    with pytest.raises(RuntimeError), ablation(model):
        assert getattr(model.config, attribute) is None
        raise RuntimeError("an estimator that fails")
    assert getattr(model.config, attribute) == limit
