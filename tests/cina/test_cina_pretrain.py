"""The pretraining script runs end to end on CPU, logs validation error, checkpoints and resumes."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "train"))

import pretrain_cina  # noqa: E402

from hf_causal.cina import CInAModel  # noqa: E402


def test_pretrain_resume_and_supervised(tmp_path):
    cfg = str(ROOT / "train" / "configs" / "cina_zs_tiny.yaml")
    assert pretrain_cina.main(["--config", cfg, "--output-dir", str(tmp_path), "--no-progress"]) == 0
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    evals = [r for r in log if "val_ate_mae" in r]
    assert len(evals) == 2 and all(r["val_naive_mae"] >= 0 for r in evals)
    assert (tmp_path / "checkpoint-4").is_dir()
    model = CInAModel.from_pretrained(tmp_path / "final")
    assert model.config.hidden_size == 8
    # resume continues the step count from the newest checkpoint, with the supervised loss switched on
    args = ["--config", cfg, "--output-dir", str(tmp_path), "--resume", "--no-progress",
            "--set", "train.max_steps=6", "train.supervised_weight=0.5"]
    assert pretrain_cina.main(args) == 0
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps[-2:] == [5, 6]


def test_bad_override_is_rejected():
    with pytest.raises(ValueError, match="section.key=value"):
        pretrain_cina.load_config(None, ["max_steps=3"])
