"""Attributions, thresholds and metrics do what they say."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from hf_causal.discovery import (
    CausalForecasterModel,
    ForecasterConfig,
    auroc,
    lagged_attributions,
    lagged_graph_metrics,
    otsu_threshold,
    threshold_scores,
)

torch.set_num_threads(1)


def test_gradient_scores_equal_mean_absolute_jacobian():
    torch.manual_seed(0)
    model = CausalForecasterModel(
        ForecasterConfig(n_vars=3, context_length=4, hidden_size=16, num_heads=2)
    ).eval()
    x = torch.randn(7, 4, 3)
    jac = torch.stack(
        [torch.autograd.functional.jacobian(lambda w: model(w[None]).predictions[0, -1], w) for w in x]
    )  # (n, target, position, source)
    expected = np.zeros((3, 3, 3))
    for lag in range(1, 4):
        expected[:, :, lag - 1] = jac[:, :, 4 - lag, :].abs().mean(0).numpy()
    got = lagged_attributions(model, x, max_lag=3, method="gradient", batch_size=3)
    assert np.allclose(got, expected, atol=1e-6)
    ixg = lagged_attributions(model, x, max_lag=3, method="input_x_gradient")
    exp_ixg = np.stack(
        [(jac[:, :, 4 - lag, :] * x[:, None, 4 - lag, :]).abs().mean(0).numpy() for lag in (1, 2, 3)], -1
    )
    assert np.allclose(ixg, exp_ixg, atol=1e-6)
    with pytest.raises(ValueError, match="max_lag"):
        lagged_attributions(model, x, max_lag=5)
    with pytest.raises(ValueError, match="unknown attribution"):
        lagged_attributions(model, x, max_lag=2, method="shap")


def test_otsu_splits_two_clusters():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 0.1, 50), rng.normal(3, 0.1, 10)])
    cut = otsu_threshold(values)
    assert 0.5 < cut < 2.5


def test_threshold_rules():
    scores = np.full((3, 3, 2), 0.01)
    scores[0, 0, 0], scores[0, 2, 1] = 1.0, 0.8  # target 0: two parents
    scores[1, 1, 0] = 5.0  # target 1: one parent, different scale
    scores[2, 2, 0], scores[2, 0, 0] = 2.0, 1.9
    truth = scores > 0.5
    for rule in ("otsu", "gap", 0.3):
        assert np.array_equal(threshold_scores(scores, rule), truth), rule
    top1 = threshold_scores(scores, "topk", k=1)
    assert top1.reshape(3, -1).sum(1).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="topk"):
        threshold_scores(scores, "topk")
    with pytest.raises(ValueError, match="unknown threshold"):
        threshold_scores(scores, "median")
    with pytest.raises(ValueError, match="non-negative"):
        threshold_scores(-scores, "otsu")


def test_metrics_against_sklearn_and_counts():
    rng = np.random.default_rng(1)
    truth = rng.random((4, 4, 3)) < 0.3
    scores = truth + rng.normal(0, 0.8, truth.shape)
    scores[0, 0, 0] = scores[0, 1, 0]  # a tie
    assert auroc(truth, scores) == pytest.approx(roc_auc_score(truth.ravel(), scores.ravel()))
    pred = truth.copy()
    pred[0, 1, 2] = ~pred[0, 1, 2]
    pred[3, 2, 0] = ~pred[3, 2, 0]
    m = lagged_graph_metrics(truth, pred, scores)
    assert m["shd"] == 2
    assert lagged_graph_metrics(truth, truth)["f1"] == 1.0
    assert np.isnan(auroc(np.zeros(5, bool), np.arange(5.0)))
