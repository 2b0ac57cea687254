"""The in-context outcome network and its inputs: exact at initialisation, equivariant, d-agnostic, batch-safe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_causal.cina import CInAConfig, CInAModel
from hf_causal.cina.calibration import CovariateMap, calibration_features, standardize_columns
from hf_causal.cina.collate import pad_outcome_contexts
from hf_causal.cina.outcome import KernelOutcomeModel, kernel_outcome_predictions
from hf_causal.cina.outcome_features import N_UNIT_FEATURES, UNIT_FEATURES, outcome_context
from hf_causal.cina.outcome_network import outcome_loss
from hf_causal.data.families import sample_family

CONFIG = {"hidden_size": 8, "num_layers": 1, "kernel_temperatures": [1.0], "intermediate_size": 16,
          "outcome_hidden_size": 16, "outcome_num_layers": 2, "outcome_intermediate_size": 32,
          "outcome_kernel_temperatures": [1.0, 4.0], "outcome_landmark_units": 64}


def dataset(seed: int = 3, n: int = 150):
    return next(iter(sample_family("outcome_validation", 1, seed=seed, n_units=n)))


def trained_network(seed: int = 0) -> torch.nn.Module:
    """A network with random (non-zero) heads, so that its corrections are not trivially zero."""
    torch.manual_seed(seed)
    net = CInAModel(CInAConfig(**CONFIG)).outcome_network.eval()
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.3)
    return net


def run(net, contexts, **kwargs):
    batch = pad_outcome_contexts(contexts)
    with torch.no_grad():
        return net(**batch, **kwargs), batch


def test_covariate_map_is_the_estimators_features_on_its_own_rows():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=200), rng.integers(0, 2, 200), np.ones(200), rng.exponential(size=200)])
    cmap = CovariateMap(x)
    np.testing.assert_array_equal(cmap.standardized(x), standardize_columns(x))
    np.testing.assert_array_equal(cmap.balanced(x), calibration_features(standardize_columns(x)))
    new = rng.normal(size=(5, 4))
    np.testing.assert_allclose(cmap.standardized(new)[:, 0], (new[:, 0] - x[:, 0].mean()) / x[:, 0].std())


def test_kernel_model_predicts_new_rows_and_its_spread_shrinks_with_data():
    d = dataset(n=400)
    cmap = CovariateMap(d.X)
    xs, feats = cmap.standardized(d.X), cmap.balanced(d.X)
    model = KernelOutcomeModel(xs, feats, d.T, d.Y)
    m1, m0, sd1, sd0 = model.predict(xs, feats)
    np.testing.assert_allclose(m1, model.m1, atol=1e-10)
    np.testing.assert_allclose(m0, model.m0, atol=1e-10)
    old = kernel_outcome_predictions(xs, feats, d.T, d.Y)
    np.testing.assert_array_equal(old[2], model.residuals)
    # the ridge mean's sampling variance from the hat matrix H = 11'/n + Zc (Zc'Zc + penalty I)^-1 Zc':
    # var(yhat) = sigma^2 diag(H H'), sigma^2 estimated by the leave-one-out error
    t = d.T == 1
    fit1 = model.fits[0]
    z = model.design(xs[t], feats[t])
    zc = z - z.mean(0)
    hat = zc @ np.linalg.solve(zc.T @ zc + fit1.penalty * np.eye(z.shape[1]), zc.T)
    expected = fit1.loo_mse * (1.0 / t.sum() + np.einsum("ij,ij->i", hat, hat))
    np.testing.assert_allclose(sd1[t] ** 2, expected, rtol=1e-6)
    assert sd1[t].mean() < sd1[~t].mean()  # the treated model is surer where it saw treated units


def test_context_features_and_new_rows():
    d = dataset()
    ctx = outcome_context(d.X, d.T, d.Y, x_new=d.X[:7] + 0.01)
    assert ctx.unit_features.shape == (157, N_UNIT_FEATURES) and len(UNIT_FEATURES) == N_UNIT_FEATURES
    assert (ctx.signs[:150] != 0).all() and (ctx.signs[150:] == 0).all() and (ctx.y[150:] == 0).all()
    np.testing.assert_allclose(ctx.y[:150] * ctx.y_scale + ctx.y_mean, d.Y)
    np.testing.assert_allclose(ctx.unit_features[:, UNIT_FEATURES.index("kernel_effect")],
                               ctx.kernel_mu[:, 1] - ctx.kernel_mu[:, 0], atol=1e-5)


def test_untrained_network_is_the_kernel_model():
    torch.manual_seed(0)
    net = CInAModel(CInAConfig(**CONFIG)).outcome_network.eval()
    out, batch = run(net, [outcome_context(*(lambda d: (d.X, d.T, d.Y))(dataset()))])
    torch.testing.assert_close(out.mu0, batch["kernel_mu"][..., 0])
    torch.testing.assert_close(out.mu1, batch["kernel_mu"][..., 1])
    torch.testing.assert_close(out.log_sd0, torch.full_like(out.log_sd0, float(np.log(0.3))))


def test_rows_permute_with_their_predictions_and_new_rows_do_not_change_the_context():
    net = trained_network()
    d = dataset()
    ctx = outcome_context(d.X, d.T, d.Y)
    out, _ = run(net, [ctx], landmark_units=0)
    perm = np.random.default_rng(1).permutation(150)
    out_p, _ = run(net, [outcome_context(d.X[perm], d.T[perm], d.Y[perm])], landmark_units=0)
    torch.testing.assert_close(out_p.mu1[0], out.mu1[0, perm], atol=1e-4, rtol=1e-4)
    with_new, _ = run(net, [outcome_context(d.X, d.T, d.Y, x_new=d.X[:20])], landmark_units=0)
    torch.testing.assert_close(with_new.mu0[0, :150], out.mu0[0], atol=1e-5, rtol=1e-5)  # new rows are queries only


def test_padding_in_a_batch_changes_nothing():
    net = trained_network()
    small, large = dataset(seed=5, n=60), dataset(seed=6, n=150)
    contexts = [outcome_context(small.X, small.T, small.Y), outcome_context(large.X, large.T, large.Y)]
    alone, _ = run(net, contexts[:1], landmark_units=0)
    together, _ = run(net, contexts, landmark_units=0)
    torch.testing.assert_close(together.mu1[0, :60], alone.mu1[0], atol=1e-5, rtol=1e-5)
    # landmarks: the small dataset (fewer context rows than landmarks) keeps exact keys inside a mixed batch
    alone_lm, _ = run(net, contexts[:1], landmark_units=100)
    together_lm, _ = run(net, contexts, landmark_units=100)
    torch.testing.assert_close(together_lm.mu1[0, :60], alone_lm.mu1[0], atol=1e-5, rtol=1e-5)


def test_loss_is_the_gaussian_likelihood_of_the_true_surfaces():
    from hf_causal.cina.outcome_network import OutcomeNetworkOutput

    mu = torch.tensor([[0.0, 1.0]])
    out = OutcomeNetworkOutput(mu0=mu, mu1=mu + 1.0, log_sd0=torch.zeros(1, 2), log_sd1=torch.log(torch.full((1, 2), 2.0)))
    truth0, truth1 = torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, 3.0]])
    mask = torch.tensor([[True, True]])
    # row 0: z0 = 1, z1 = 0, effect error (1 - 0)^2 = 1; row 1: z0 = 0, z1 = 1/2, effect error (1 - 2)^2 = 1
    expected = np.mean([0.5 + np.log(2) + 1, 0.125 + np.log(2) + 1])
    assert float(outcome_loss(out, truth0, truth1, mask)) == pytest.approx(expected)
    far = OutcomeNetworkOutput(mu0=torch.tensor([[100.0]]), mu1=torch.tensor([[0.0]]),
                               log_sd0=torch.zeros(1, 1), log_sd1=torch.zeros(1, 1))
    # Huber beyond 4 SDs (mu) and 2 SDs (the effect): 4 * 100 - 8 + 4 * 100 - 4, not 5e3 + 1e4
    assert float(outcome_loss(far, torch.zeros(1, 1), torch.zeros(1, 1), mask[:, :1])) == pytest.approx(788.0)
