"""The forecaster is a well-behaved transformers model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel

from hf_causal.discovery import CausalForecasterModel, ForecasterConfig, ForecasterOutput

torch.set_num_threads(1)


def _model(seed: int = 0) -> CausalForecasterModel:
    torch.manual_seed(seed)
    return CausalForecasterModel(
        ForecasterConfig(n_vars=3, context_length=5, hidden_size=16, num_heads=2)
    ).eval()


def test_output_dataclass_and_loss():
    model = _model()
    x = torch.randn(4, 6, 3)
    out = model(past_values=x[:, :-1], labels=x[:, 1:])
    assert isinstance(out, ForecasterOutput)
    assert out.predictions.shape == (4, 5, 3)
    assert torch.allclose(out.loss, ((out.predictions - x[:, 1:]) ** 2).mean())
    assert isinstance(model(x[:, :-1], return_dict=False), tuple)


def test_causal_mask_future_inputs_do_not_change_past_forecasts():
    model = _model()
    x = torch.randn(2, 5, 3)
    y = x.clone()
    y[:, 3:] += 5.0
    a, b = model(x).predictions, model(y).predictions
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert not torch.allclose(a[:, 3:], b[:, 3:], atol=1e-3)


def test_lrp_mode_keeps_forward_values_but_changes_gradients():
    model = _model()
    for p in model.parameters():  # non-trivial layer norms
        p.data += 0.1 * torch.randn_like(p)
    x = torch.randn(3, 5, 3, requires_grad=True)
    plain = model(x).predictions
    lrp = model(x, lrp=True).predictions
    assert torch.allclose(plain, lrp, atol=1e-5)
    (g1,) = torch.autograd.grad(plain[:, -1].sum(), x)
    (g2,) = torch.autograd.grad(lrp[:, -1].sum(), x)
    assert not torch.allclose(g1, g2, atol=1e-4)


def test_save_load_round_trip_with_auto_classes(tmp_path):
    model = _model(1)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "config.json").exists()
    config = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(config, ForecasterConfig) and config.context_length == 5
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, CausalForecasterModel)
    x = torch.randn(2, 5, 3)
    assert torch.allclose(model(x).predictions, loaded.eval()(x).predictions, atol=1e-6)


def test_config_and_input_errors():
    with pytest.raises(ValueError, match="num_heads"):
        ForecasterConfig(hidden_size=10, num_heads=3)
    with pytest.raises(ValueError, match="n_vars"):
        ForecasterConfig(n_vars=0)
    model = _model()
    with pytest.raises(ValueError, match="shape"):
        model(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="context_length"):
        model(torch.randn(2, 6, 3))
    assert np.isfinite(model(torch.randn(1, 1, 3)).predictions.detach().numpy()).all()


def test_pickled_weights_are_never_loaded(tmp_path):
    """A folder with ``pytorch_model.bin`` only (a pickle, which can run code when loaded) is refused by the class
    and through the Auto classes, although torch could read it."""
    model = _model(2)
    model.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "model.safetensors").unlink()
    for load in (CausalForecasterModel.from_pretrained, AutoModel.from_pretrained):
        with pytest.raises(OSError, match="safetensors"):
            load(tmp_path)
