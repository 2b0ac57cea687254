"""CInAModel: save/load round trip, permutation and padding invariance, loss and weights semantics."""

import json

import pytest
import torch
from transformers import AutoConfig, AutoModel

from hf_causal.cina import CInAConfig, CInAModel
from hf_causal.cina.balancing import log_kernel_scale
from hf_causal.cina.collate import pad_datasets


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = CInAModel(CInAConfig(hidden_size=16, num_layers=2, kernel_temperatures=[0.5, 2.0], intermediate_size=32))
    # perturb away from the init so that outputs depend on every parameter
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return m.eval()


def _data(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    t = (torch.rand(n, generator=g) < torch.sigmoid(x[:, 0])).float()
    y = x.sum(1) + 2 * t + torch.randn(n, generator=g)
    return x, t, y


def test_save_load_round_trip(model, tmp_path):
    x, t, y = _data(60, 3, 1)
    before = model(x[None], t[None], outcome=y[None])
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "cina"
    loaded = CInAModel.from_pretrained(tmp_path).eval()
    after = loaded(x[None], t[None], outcome=y[None])
    torch.testing.assert_close(before.weights, after.weights)
    torch.testing.assert_close(before.loss, after.loss)
    auto = AutoModel.from_pretrained(tmp_path)
    assert isinstance(auto, CInAModel)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), CInAConfig)


def test_rejects_pickled_only_checkpoint(tmp_path):
    CInAConfig().save_pretrained(tmp_path)
    torch.save({}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="safetensors"):
        CInAModel.from_pretrained(tmp_path)


def test_corrupt_checkpoint_fails_loudly(model, tmp_path):
    model.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"model.safetensors is not a readable safetensors file") as err:
        CInAModel.from_pretrained(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_permutation_equivariance(model):
    x, t, y = _data(80, 4, 2)
    perm = torch.randperm(80, generator=torch.Generator().manual_seed(3))
    a = model(x[None], t[None], outcome=y[None])
    b = model(x[perm][None], t[perm][None], outcome=y[perm][None])
    torch.testing.assert_close(a.weights[0][perm], b.weights[0], rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(a.effect, b.effect, rtol=1e-5, atol=1e-6)


def test_padding_invariance_in_a_batch(model):
    datasets = [_data(50, 3, 4), _data(90, 5, 5), _data(70, 2, 6)]
    batch = pad_datasets([d[0].numpy() for d in datasets], [d[1].numpy() for d in datasets],
                         [d[2].numpy() for d in datasets])
    out = model(**batch)
    for i, (x, t, y) in enumerate(datasets):
        alone = model(x[None], t[None], outcome=y[None])
        n = len(t)
        torch.testing.assert_close(out.weights[i, :n], alone.weights[0], rtol=1e-5, atol=1e-9)
        assert out.weights[i, n:].abs().sum() == 0
        torch.testing.assert_close(out.per_dataset_loss[i], alone.per_dataset_loss[0], rtol=1e-5, atol=1e-6)


def test_feature_order_and_constant_features_do_not_matter(model):
    x, t, y = _data(60, 4, 7)
    a = model(x[None], t[None]).weights
    b = model(x[:, [2, 0, 3, 1]][None], t[None]).weights
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-9)
    # a constant column standardises to zero but still counts in d; the feature mask drops it exactly
    padded = torch.cat([x, torch.full((60, 1), 3.0)], dim=1)
    c = model(padded[None], t[None], feature_mask=torch.tensor([[1.0, 1, 1, 1, 0]])).weights
    torch.testing.assert_close(a, c, rtol=1e-5, atol=1e-9)


def test_weights_are_normalised_per_arm_and_effect_is_weighted_difference(model):
    x, t, y = _data(100, 3, 8)
    out = model(x[None], t[None], outcome=y[None])
    w = out.weights[0]
    assert (w >= 0).all()
    torch.testing.assert_close(w[t == 1].sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(w[t == 0].sum(), torch.tensor(1.0, dtype=torch.float64))
    manual = (w[t == 1] * y[t == 1].double()).sum() - (w[t == 0] * y[t == 0].double()).sum()
    torch.testing.assert_close(out.effect[0], manual)


def test_loss_is_the_penalised_hinge_of_the_attention_svm(model):
    """Recompute the per-dataset objective densely from the outputs and compare."""
    x, t, _ = _data(40, 3, 9)
    out = model(x[None], t[None])
    x, t = x.double(), t.double()
    xs = (x - x.mean(0)) / x.std(0, unbiased=False)
    temp = model.balancing_temperature().item()
    s = temp * xs @ xs.T / 3
    e = torch.exp(s)
    log_c = log_kernel_scale(torch.logsumexp(s, 1)[None], torch.ones(1, 40, dtype=torch.bool))[0]
    e_hat = e / torch.exp(log_c)
    h_hat = e_hat.sum(1)
    v = out.values[0]
    signs = 2 * t - 1
    att = (e_hat / h_hat[:, None]) @ v
    lam = model.config.lambda0 / 40**2
    hinge = torch.clamp(1 - signs * (att + out.beta0[0].double()), min=0).sum()
    expected = (hinge + 0.5 * lam * v @ e_hat @ v) / 40
    torch.testing.assert_close(out.per_dataset_loss[0], expected, rtol=1e-4, atol=1e-5)


def test_input_validation(model):
    x, t, _ = _data(20, 2, 10)
    with pytest.raises(ValueError, match="batch"):
        model(x, t)
    with pytest.raises(ValueError, match="treatment must have shape"):
        model(x[None], t[None, :10])
    bad = x.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad[None], t[None])


def test_config_validation():
    with pytest.raises(ValueError, match="lambda0"):
        CInAConfig(lambda0=0)
    with pytest.raises(ValueError, match="kernel_temperatures"):
        CInAConfig(kernel_temperatures=[])


def test_chunk_size_does_not_change_outputs(model):
    x, t, _ = _data(64, 3, 11)
    a = model(x[None], t[None]).weights
    old = model.config.chunk_elements
    try:
        for layer in model.layers:
            layer.chunk_elements = 64 * 3
        model.config.chunk_elements = 64 * 3
        b = model(x[None], t[None]).weights
    finally:
        model.config.chunk_elements = old
        for layer in model.layers:
            layer.chunk_elements = old
    torch.testing.assert_close(a, b)
    assert torch.isfinite(b).all()


def test_inference_forward_without_objective_gives_the_same_weights(model):
    x, t, y = _data(300, 4, 11)
    with torch.no_grad():
        full = model(x[None], t[None], outcome=y[None])
        fast = model(x[None], t[None], outcome=y[None], return_objective=False)
    assert fast.loss is None and fast.values is None
    torch.testing.assert_close(fast.weights, full.weights, rtol=0, atol=1e-12)
    torch.testing.assert_close(fast.effect, full.effect)


def test_landmark_indices_are_real_distinct_stratified_and_seeded():
    from hf_causal.cina.attention import landmark_indices

    x, t, _ = _data(1000, 3, 12)
    x2, t2, _ = _data(700, 3, 13)
    batch = pad_datasets([x.numpy(), x2.numpy()], [t.numpy(), t2.numpy()])
    signs = 2 * batch["treatment"] - 1
    mask = batch["attention_mask"].bool()
    idx = landmark_indices(signs, mask, 200)
    assert idx.shape == (2, 200)
    assert torch.equal(idx, landmark_indices(signs, mask, 200))  # deterministic
    for b, (tt, n) in enumerate(((t, 1000), (t2, 700))):
        assert len(set(idx[b].tolist())) == 200 and int(idx[b].max()) < n  # distinct, never padding
        share = float(tt[idx[b]].mean())
        assert abs(share - float(tt.mean())) <= 1 / 200 + 1e-9  # arm shares kept up to rounding


def test_landmark_attention_approximates_exact_weights(model):
    x, t, y = _data(3000, 5, 14)
    with torch.no_grad():
        exact = model(x[None], t[None], return_objective=False, landmark_units=0).weights
        approx = model(x[None], t[None], return_objective=False, landmark_units=512).weights
        too_many = model(x[None], t[None], return_objective=False, landmark_units=3000).weights
    torch.testing.assert_close(too_many, exact, rtol=0, atol=1e-12)  # N <= M: exact attention
    assert not torch.equal(approx, exact)  # the landmark path ran
    for arm in (t == 1, t == 0):  # each arm's weights sum to 1; the landmark error is a few % of that
        assert float((approx[0, arm] - exact[0, arm]).abs().sum()) < 0.05
    assert float(torch.corrcoef(torch.stack([approx[0], exact[0]]))[0, 1]) > 0.95
    with pytest.raises(ValueError, match="inference-only"):
        model(x[None], t[None], landmark_units=512)


def test_config_landmarks_apply_to_inference_only(model):
    x, t, _ = _data(1200, 3, 15)
    config = CInAConfig(**{**model.config.to_dict(), "landmark_units": 256})
    fast_model = CInAModel(config).eval()
    fast_model.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fast_model(x[None], t[None]).weights, model(x[None], t[None]).weights)
        inferred = fast_model(x[None], t[None], return_objective=False).weights
        explicit = model(x[None], t[None], return_objective=False, landmark_units=256).weights
    torch.testing.assert_close(inferred, explicit, rtol=0, atol=0)
    with pytest.raises(ValueError, match="landmark_units"):
        CInAConfig(landmark_units=-1)
