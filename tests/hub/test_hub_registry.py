"""The model registry: each wing registers its models, the hub finds a model type's wing through the entry
points and imports only that wing; bundled names and checkpoint folders resolve in one place."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import tiny_bert, tiny_cina_model

from hf_causal.hub import (
    bundled_checkpoints,
    load_checkpoint,
    model_entry,
    registered_models,
    resolve_checkpoint,
)

PROBE = r"""
import json, sys
from hf_causal.hub.registry import model_entry
entry = model_entry({model_type!r})
print(json.dumps({{"class": entry.model_class.__name__,
                   "wings": sorted(w for w in ("cina", "engine", "discovery") if "hf_causal." + w in sys.modules)}}))
"""


@pytest.mark.parametrize(
    ("model_type", "cls", "wing"),
    [("cina", "CInAModel", "cina"), ("causal_ar", "CausalARModel", "engine"),
     ("hf_causal_forecaster", "CausalForecasterModel", "discovery")],
)
def test_a_model_type_imports_only_its_wing(model_type, cls, wing):
    out = subprocess.run([sys.executable, "-c", PROBE.format(model_type=model_type)], capture_output=True,
                         text=True, timeout=120, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"class": cls, "wings": [wing]}


def test_every_wing_registers_with_the_auto_classes():
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING

    entries = registered_models()
    assert {"cina", "causal_ar", "hf_causal_forecaster"} <= set(entries)
    for entry in entries.values():
        assert AutoConfig.for_model(entry.model_type).__class__ is entry.config_class
        for auto in entry.auto_classes:
            assert {"AutoModel": AutoModel, "AutoModelForCausalLM": AutoModelForCausalLM}[auto]._model_mapping[
                entry.config_class] is entry.model_class
    engine = entries["causal_ar"]
    assert engine.tokenizer_class.__name__ == "CausalSequenceTokenizer"
    assert TOKENIZER_MAPPING[engine.config_class] is engine.tokenizer_class
    assert model_entry("no_such_type") is None


def test_checkpoints_resolve_in_one_place(tmp_path):
    assert set(bundled_checkpoints()) == {"cina-zs-base"}
    folder = resolve_checkpoint("cina-zs-base")
    assert folder.endswith("checkpoints/cina-zs-base")
    assert type(load_checkpoint("cina-zs-base")).__name__ == "CInAModel"
    with pytest.raises(FileNotFoundError, match="Hub is offline"):  # the suite runs offline; nothing cached
        resolve_checkpoint("org/some-model")
    with pytest.raises(ValueError, match="config.json is missing"):
        resolve_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "cina"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ValueError, match="safetensors only"):
        resolve_checkpoint(tmp_path)
    model = tiny_cina_model(seed=0)
    model.save_pretrained(tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert type(loaded) is type(model) and loaded.config.hidden_size == model.config.hidden_size
    tiny_bert(16).save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match="not an hf-causal model"):
        load_checkpoint(tmp_path / "other")
