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
    # the last step is a checkpoint too, so that --resume after a finished run has nothing left to train
    assert (out / "checkpoint-6" / "model.safetensors").exists()
    loaded = CausalEngine.from_pretrained(out)
    assert loaded.tokenizer.codecs["S"].max_length == 2
    assert all(set(s) <= {"x"} for s in loaded.sample(20, seed=0).S)
    assert engine.training_summary["steps"] == 6


def test_resume_continues_an_interrupted_run_exactly(tmp_path, monkeypatch):
    """A run stopped after checkpoint-3 and resumed trains steps 4-6 only (not 1-6 again), and ends with the
    uninterrupted run's weights: the checkpoint restores weights, optimiser, schedule and batch order."""
    import shutil

    import torch

    from hf_causal.engine import training

    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 150)
    pd.DataFrame({"A": a, "Y": a + rng.normal(size=150)}).to_csv(tmp_path / "rows.csv", index=False)
    CausalGraph({"A": "binary", "Y": "continuous"}, [("A", "Y")]).to_json(tmp_path / "graph.json")
    (tmp_path / "cfg.yaml").write_text(
        "seed: 3\nmax_steps: 6\nsave_steps: 3\nprogress: false\nnum_threads: 1\nn_bins: 8\nbatch_size: 16\n"
        "backbone: {model_type: gpt2, n_embd: 16, n_layer: 1, n_head: 2, tie_word_embeddings: false}\n"
    )
    common = ["--data", str(tmp_path / "rows.csv"), "--graph", str(tmp_path / "graph.json"),
              "--config", str(tmp_path / "cfg.yaml")]
    script = _load_script()
    starts = []
    real_batches = training.epoch_batches

    def recording_batches(n, batch_size, seed, start_step):
        starts.append(start_step)
        return real_batches(n, batch_size, seed, start_step)

    monkeypatch.setattr(training, "epoch_batches", recording_batches)
    full = script.main([*common, "--output-dir", str(tmp_path / "full")])
    assert starts == [0]
    shutil.copytree(tmp_path / "full" / "checkpoint-3", tmp_path / "stopped" / "checkpoint-3")  # the run so far
    resumed = script.main([*common, "--output-dir", str(tmp_path / "stopped"), "--resume"])
    assert starts == [0, 3]  # the resumed run started at step 3
    assert resumed.training_summary["steps"] == 6
    after = resumed.model.state_dict()
    for name, value in full.model.state_dict().items():
        assert torch.equal(value, after[name]), name
    changed = CausalEngine.from_pretrained(tmp_path / "full" / "checkpoint-3").model.state_dict()
    assert any(not torch.equal(value, changed[name]) for name, value in after.items())  # steps 4-6 did train


def test_bad_input_is_one_line_not_a_traceback(tmp_path):
    import subprocess
    import sys

    pd.DataFrame({"A": [0, 1] * 10, "Y": np.arange(20.0)}).to_csv(tmp_path / "rows.csv", index=False)
    (tmp_path / "cycle.json").write_text(json.dumps({"variables": {"A": "binary", "Y": "continuous"},
                                                     "edges": [["A", "Y"], ["Y", "A"]]}))
    (tmp_path / "broken.json").write_text("{not json")
    for graph, message in (("cycle.json", "cycle"), ("broken.json", "train_engine.py: error: "),
                           ("missing.json", "No such file or directory")):
        proc = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path / "rows.csv"), "--graph",
                               str(tmp_path / graph), "--output-dir", str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("train_engine.py: error: ") and message in lines[0], lines
