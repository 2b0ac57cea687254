"""Per-dataset CInA (attention form) reproduces the exact SVM-dual balancing weights (docs/design.md §2)."""

import numpy as np
import pytest

from hf_causal.cina import fit_per_dataset, svm_dual_weights
from hf_causal.cina.svm import identity_scores, implied_kernel, normalize_weights_np


def _confounded(n=400, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    p = 1 / (1 + np.exp(-(x[:, 0] + 0.5 * x[:, 1])))
    t = (rng.random(n) < p).astype(int)
    return x, t


@pytest.fixture(scope="module", params=[10.0, 3.0])
def solved(request):
    lambda0 = request.param
    x, t = _confounded()
    x_std = (x - x.mean(0)) / x.std(0)
    reference = svm_dual_weights(implied_kernel(identity_scores(x_std)), t, lambda0 / len(t) ** 2)
    return x_std, t, reference, fit_per_dataset(x, t, lambda0=lambda0)


def test_attention_optimum_reproduces_libsvm_dual(solved):
    _, t, reference, fit = solved
    n = len(t)
    assert np.abs(fit.weights - reference).sum() < 1e-2
    # the weights really balance: they are far from uniform (uniform would be a trivial match)
    uniform = normalize_weights_np(np.ones(n), t)
    assert np.abs(reference - uniform).sum() > 0.2


def test_dropping_h_from_readout_breaks_equivalence(solved):
    x_std, t, reference, fit = solved
    log_h = np.log(np.exp(identity_scores(x_std)).sum(1))
    without_h = normalize_weights_np((2 * t - 1) * fit.values, t)  # alpha ~ W V, missing the h factor
    with_h = normalize_weights_np((2 * t - 1) * fit.values * np.exp(log_h), t)
    assert np.abs(with_h - reference).sum() < 1e-2
    assert np.abs(without_h - reference).sum() > 5 * np.abs(with_h - reference).sum()


def test_weights_reduce_imbalance():
    x, t = _confounded(n=300, seed=2)
    fit = fit_per_dataset(x, t, lambda0=3.0)
    w = fit.weights
    gap_before = np.abs(x[t == 1].mean(0) - x[t == 0].mean(0)).max()
    gap_after = np.abs(w[t == 1] @ x[t == 1] - w[t == 0] @ x[t == 0]).max()
    assert gap_after < 0.3 * gap_before
    assert np.all(w >= 0)
    np.testing.assert_allclose([w[t == 1].sum(), w[t == 0].sum()], [1.0, 1.0])


@pytest.mark.parametrize("landmarks", [30, 60])
def test_landmark_fit_is_the_exact_svm_of_the_nystrom_kernel(landmarks):
    """Above its exact size, per-dataset CInA optimises the SVM of the Nystrom approximation of the implied kernel
    on landmark units (docs/design.md §5.1): libsvm on that kernel, built densely here, gives the same weights."""
    import torch

    from hf_causal.cina.attention import landmark_indices

    lambda0 = 3.0
    x, t = _confounded(n=300, d=4, seed=4)
    x_std = (x - x.mean(0)) / x.std(0)
    kernel = implied_kernel(identity_scores(x_std))
    signs = torch.as_tensor(2.0 * t - 1.0)[None]
    idx = landmark_indices(signs, torch.ones_like(signs, dtype=torch.bool), landmarks)[0].numpy()
    nystrom = kernel[:, idx] @ np.linalg.pinv(kernel[np.ix_(idx, idx)], rcond=1e-10, hermitian=True) @ kernel[idx]
    reference = svm_dual_weights(nystrom, t, lambda0 / len(t) ** 2)
    fit = fit_per_dataset(x, t, lambda0=lambda0, landmark_units=landmarks)
    gap = np.abs(fit.weights - reference).sum()
    assert gap < 1e-2
    exact = svm_dual_weights(kernel, t, lambda0 / len(t) ** 2)
    assert np.abs(reference - exact).sum() > 5 * gap  # the match is to the approximated kernel, not the exact one


def test_small_datasets_keep_the_exact_kernel():
    x, t = _confounded(n=200, seed=5)
    exact = fit_per_dataset(x, t, lambda0=3.0, landmark_units=0)
    np.testing.assert_array_equal(fit_per_dataset(x, t, lambda0=3.0).weights, exact.weights)
