"""train/train_engine.py: CSV with JSON-encoded sequences + graph JSON + YAML config, then --resume."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from support import load_script

from hf_causal.engine import CausalEngine, CausalGraph

SCRIPT = Path(__file__).resolve().parents[2] / "train" / "train_engine.py"


def _load_script():
    return load_script(SCRIPT, "train_engine_script")


def test_train_script_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    a = rng.integers(0, 2, n)
    df = pd.DataFrame({"A": a, "S": [json.dumps(["x"] * (int(k) + 1)) for k in a], "Y": a + rng.normal(size=n)})
    df.to_csv(tmp_path / "rows.csv", index=False)
    graph = CausalGraph({"A": "binary", "S": "sequence", "Y": "continuous"}, [("A", "S"), ("S", "Y")])
    graph.to_json(tmp_path / "graph.json")
    (tmp_path / "cfg.yaml").write_text(
        "seed: 1\nmax_steps: 6\nsave_steps: 3\nprogress: false\nnum_threads: 1\nn_bins: 8\n"
        "backbone: {model_type: gpt2, n_embd: 16, n_layer: 1, n_head: 2, tie_word_embeddings: false}\n"
    )
    out = tmp_path / "out"
    argv = ["--data", str(tmp_path / "rows.csv"), "--graph", str(tmp_path / "graph.json"),
            "--config", str(tmp_path / "cfg.yaml"), "--output-dir", str(out)]
    script = _load_script()
    engine = script.main(argv)
    assert (out / "checkpoint-3" / "model.safetensors").exists()
    loaded = CausalEngine.from_pretrained(out)
    assert loaded.tokenizer.codecs["S"].max_length == 2
    assert all(set(s) <= {"x"} for s in loaded.sample(20, seed=0).S)
    assert engine.training_summary["steps"] == 6
    resumed = script.main([*argv, "--resume"])
    assert resumed.training_summary["steps"] == 6
