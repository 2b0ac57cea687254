"""Engine folders load from safetensors only, and a broken folder is one line naming the file."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from hf_causal.engine import CausalARConfig, CausalARModel, CausalEngine, CausalGraph, CausalSequenceTokenizer


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"A": rng.integers(0, 2, 100), "Y": rng.normal(size=100)})
    tok = CausalSequenceTokenizer.from_data(df, CausalGraph({"A": "binary", "Y": "continuous"}, [("A", "Y")]),
                                            n_bins=8)
    torch.manual_seed(0)
    cfg = CausalARConfig(backbone_config={"model_type": "gpt2", "n_embd": 16, "n_layer": 1, "n_head": 2},
                         vocab_size=len(tok), max_positions=tok.max_sequence_length())
    CausalEngine(CausalARModel(cfg), tok, num_threads=1).save_pretrained(tmp_path / "engine")
    return tmp_path / "engine"


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS = {
    "truncated weights": (lambda f: _truncate(f / "model.safetensors"), "model.safetensors is not a readable "
                          "safetensors file"),
    "tokenizer config not JSON": (lambda f: (f / "tokenizer_config.json").write_text("{"),
                                  "tokenizer_config.json is not valid JSON"),
    "engine config not JSON": (lambda f: (f / "engine_config.json").write_text("seed: 0"),
                               "engine_config.json is not valid JSON"),
    "pickled weights only": (lambda f: (f / "model.safetensors").rename(f / "pytorch_model.bin"),
                             "holds pickled weights only"),
    "adapter without safetensors": (
        lambda f: ((f / "adapter_config.json").write_text("{}"), (f / "adapter_model.bin").write_bytes(b"x")),
        "has adapter_config.json but no adapter_model.safetensors"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_broken_engine_folder_is_one_line_naming_the_file(folder, case):
    corrupt, message = CORRUPTIONS[case]
    corrupt(folder)
    with pytest.raises(ValueError, match=message) as err:
        CausalEngine.from_pretrained(folder)
    assert "\n" not in str(err.value) and str(folder) in str(err.value)


def test_a_sound_folder_loads_and_a_missing_one_is_named(folder, tmp_path):
    engine = CausalEngine.from_pretrained(folder)
    assert engine.sample(5, seed=0).shape == (5, 2)
    assert json.loads((folder / "engine_config.json").read_text())["seed"] == 0
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        CausalEngine.from_pretrained(tmp_path / "nowhere")


def test_the_model_class_alone_refuses_pickled_weights(folder):
    torch.save(CausalARModel.from_pretrained(folder).state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(OSError, match="safetensors"):
        CausalARModel.from_pretrained(folder)
