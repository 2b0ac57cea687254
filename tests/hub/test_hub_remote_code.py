"""Checkpoints carry their code: save_for_hub layout, cards, and loading where hf_causal cannot be imported."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch
from huggingface_hub import ModelCard
from support import tiny_cina_model

from hf_causal.cina import CInAConfig, CInAModel
from hf_causal.discovery.configuration_forecaster import ForecasterConfig
from hf_causal.discovery.modeling_forecaster import CausalForecasterModel
from hf_causal.hub import (
    RemoteCodeError,
    enable_remote_code,
    remote_code_files,
    remote_code_requirements,
    save_for_hub,
)


def tiny_model(seed: int = 0) -> CInAModel:
    return tiny_cina_model(seed=seed)


def tiny_inputs(seed: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "covariates": torch.randn(2, 25, 4, generator=gen),
        "treatment": (torch.rand(2, 25, generator=gen) < 0.5).float(),
        "outcome": torch.randn(2, 25, generator=gen),
        "attention_mask": torch.cat([torch.ones(2, 20), torch.zeros(2, 5)], dim=1),
    }


def test_remote_code_closure_is_self_contained() -> None:
    names = {f.name for f in remote_code_files(CInAModel)}
    assert {"modeling_cina.py", "configuration_cina.py", "attention.py", "balancing.py"} <= names
    assert "estimator.py" not in names  # library code, imported inside try by CInAModel.estimate
    assert "__init__.py" not in names
    assert {f.name for f in remote_code_files(CInAConfig)} == {"configuration_cina.py"}
    reqs = remote_code_requirements(CInAModel)
    assert "hf_causal" not in reqs and "torch" not in reqs and "os" not in reqs


def test_absolute_package_import_is_rejected(tmp_path) -> None:
    source = (
        "import hf_causal.cina.attention\n"
        "from transformers import PreTrainedModel, PretrainedConfig\n"
        "class BadModel(PreTrainedModel):\n"
        "    config_class = PretrainedConfig\n"
    )
    path = tmp_path / "modeling_bad.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("modeling_bad_hub_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        with pytest.raises(RemoteCodeError, match="import hf_causal absolutely"):
            enable_remote_code(module.BadModel)
    finally:
        del sys.modules[spec.name]
    with pytest.raises(TypeError, match="PreTrainedModel"):
        enable_remote_code(object())


def test_save_for_hub_writes_code_auto_map_and_card(tmp_path) -> None:
    model = tiny_model()
    results = [
        {"dataset": "lalonde_nsw_cps", "dataset_type": "hf-causal/lalonde", "metric": "att_abs_error", "value": 210.5},
        {"dataset": "ihdp_b", "metric": "pehe", "value": 1.25, "split": "test"},
    ]
    folder = save_for_hub(model, tmp_path / "ckpt", repo_id="org/tiny-cina", results=results)
    files = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "modeling_cina.py", "configuration_cina.py"} <= files
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_cina.CInAConfig",
        "AutoModel": "modeling_cina.CInAModel",
    }
    for f in remote_code_files(CInAModel):  # shipped byte for byte
        assert (folder / f.name).read_bytes() == f.read_bytes()

    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "transformers"
    assert {"hf-causal", "cina", "custom_code"} <= set(card.data.tags)
    evals = {(e.dataset_name, e.metric_type): e for e in card.data.eval_results}
    assert evals[("lalonde_nsw_cps", "att_abs_error")].metric_value == 210.5
    assert evals[("lalonde_nsw_cps", "att_abs_error")].dataset_type == "hf-causal/lalonde"
    assert evals[("ihdp_b", "pehe")].dataset_split == "test"
    assert 'AutoModel.from_pretrained("org/tiny-cina", trust_remote_code=True)' in card.text
    assert "| `hidden_size` | `8` |" in card.text


LOCAL_LOAD = r'''
import json, sys, torch
_orig_meta, _orig_path = list(sys.meta_path), list(sys.path)
{prelude}
from transformers import AutoConfig, AutoModel
inputs = torch.load({inputs!r})
remote = AutoModel.from_pretrained({folder!r}, trust_remote_code=True).eval()
config = AutoConfig.from_pretrained({folder!r}, trust_remote_code=True)
forecaster = AutoModel.from_pretrained({forecaster!r}, trust_remote_code=True).eval()
with torch.no_grad():
    out = remote(**inputs)
    predictions = forecaster(past_values=inputs["covariates"]).predictions
try:  # the estimator is library code: without hf_causal the remote model gives the forward pass only
    remote.estimate(inputs["covariates"][0], inputs["treatment"][0], inputs["outcome"][0])
    estimate_error = None
except ImportError as err:
    estimate_error = str(err)
import shutil
from safetensors.torch import load_file, save_file
broken = {folder!r} + "_without_a_tensor"
shutil.copytree({folder!r}, broken)
tensors = load_file(broken + "/model.safetensors")
del tensors["embed.weight"]
save_file(tensors, broken + "/model.safetensors", metadata={{"format": "pt"}})
try:  # the remote copy refuses weights it would have to make up, as the library does
    AutoModel.from_pretrained(broken, trust_remote_code=True)
    missing_error = None
except ValueError as err:
    missing_error = str(err)
report = {{
    "missing_error": missing_error,
    "estimate_error": estimate_error,
    "forecaster_class": type(forecaster).__module__,
    "class": type(remote).__module__,
    "config_class": type(config).__module__,
    "hf_causal_imported": any(m.split(".")[0] == "hf_causal" for m in sys.modules),
}}
# hf_causal importable again: loading the remote copy must not replace the library's Auto registrations
sys.meta_path[:] = _orig_meta
sys.path[:] = _orig_path
import hf_causal.cina as lib
again = AutoModel.from_pretrained({folder!r}, trust_remote_code=True)
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
report["registry_kept"] = CONFIG_MAPPING["cina"] is lib.CInAConfig
report["plain_auto_class"] = type(AutoModel.from_pretrained({folder!r})).__module__
torch.save({{"weights": out.weights, "effect": out.effect, "loss": out.loss, "values": out.values,
            "predictions": predictions}}, {outputs!r})
print(json.dumps(report))
'''


def test_loads_where_hf_causal_cannot_be_imported(tmp_path, hubtools) -> None:
    model = tiny_model()
    inputs = tiny_inputs()
    with torch.no_grad():
        expected = model(**inputs)
    folder = save_for_hub(model, tmp_path / "ckpt")
    # the helpers are generic: the discovery forecaster ships its code the same way
    torch.manual_seed(0)
    forecaster = CausalForecasterModel(
        ForecasterConfig(n_vars=4, context_length=25, hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16)
    ).eval()
    with torch.no_grad():
        expected_predictions = forecaster(past_values=inputs["covariates"]).predictions
    forecaster_folder = save_for_hub(forecaster, tmp_path / "forecaster")
    torch.save(inputs, tmp_path / "inputs.pt")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    code = LOCAL_LOAD.format(
        prelude=hubtools.blocker_prelude(),
        folder=str(folder),
        forecaster=str(forecaster_folder),
        inputs=str(tmp_path / "inputs.pt"),
        outputs=str(tmp_path / "outputs.pt"),
    )
    report = hubtools.run_python(code, workdir, hubtools.fresh_env(tmp_path, HF_HUB_OFFLINE="1"))
    assert report["class"].startswith("transformers_modules.")
    assert report["config_class"].startswith("transformers_modules.")
    assert report["forecaster_class"].startswith("transformers_modules.")
    assert not report["hf_causal_imported"]
    assert "needs hf-causal installed" in report["estimate_error"]
    assert "lacks the tensors ['embed.weight']" in report["missing_error"]
    assert report["registry_kept"]
    assert report["plain_auto_class"] == "hf_causal.cina.modeling_cina"
    got = torch.load(tmp_path / "outputs.pt")
    for key in ("weights", "effect", "loss", "values"):
        assert torch.equal(got[key], getattr(expected, key)), key
    assert torch.equal(got["predictions"], expected_predictions)
