"""train/pretrain_outcome.py: the tiny config end to end; an exact resume (model, optimiser, data stream); a
checkpoint that keeps the balancing weights it started from and adds the outcome network."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import load_script

from hf_causal.cina import CInAModel

CONFIG = "train/configs/cina_outcome_tiny.yaml"


@pytest.fixture(scope="module")
def script():
    return load_script("train/pretrain_outcome.py", "pretrain_outcome_script")


def losses(folder) -> list[float]:
    return [json.loads(line)["loss"] for line in (folder / "log.jsonl").read_text().splitlines()]


def test_pretraining_adds_an_outcome_network_to_the_same_balancing_weights(script, tmp_path):
    assert script.main(["--config", CONFIG, "--output-dir", str(tmp_path), "--no-progress"]) == 0
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    evals = [r for r in log if "val_loss" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert {"pehe", "pehe_kernel", "ate_error", "ate_error_kernel", "effect_coverage"} <= set(evals[0])
    final = CInAModel.from_pretrained(tmp_path / "final")
    base = CInAModel.from_pretrained("cina-zs-base")
    assert final.outcome_network is not None and final.config.outcome_hidden_size == 16
    assert final.outcome_network_wide is None  # a fresh pretraining builds one network, whatever init_from has
    balancing = {k: v for k, v in base.state_dict().items() if not k.startswith("outcome_network")}
    for name, tensor in balancing.items():  # the balancing part is frozen
        assert torch.equal(final.state_dict()[name], tensor), name
    assert any(float(p.abs().sum()) > 0 for p in final.outcome_network.head.parameters())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    t = (rng.random(200) < 0.5).astype(int)
    y = x[:, 0] + t + rng.normal(size=200)
    assert final.estimate(x, t, y, outcome_model="pretrained").outcome_model == "pretrained"


def test_resume_continues_the_data_stream_exactly(script, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    assert script.main(["--config", CONFIG, "--output-dir", str(full), "--no-progress"]) == 0
    # a run stopped after step 2 (its checkpoint; the warm-up covers both steps, so its learning rates are
    # those of the full run), then resumed: its log continues with the full run's losses
    assert script.main(["--config", CONFIG, "--output-dir", str(part), "--no-progress",
                        "--set", "train.max_steps=2"]) == 0
    assert script.main(["--config", CONFIG, "--output-dir", str(part), "--no-progress", "--resume"]) == 0
    assert losses(part) == pytest.approx(losses(full), rel=1e-5)
    with pytest.raises(SystemExit, match="no checkpoint"):
        script.main(["--config", CONFIG, "--output-dir", str(tmp_path / "empty"), "--no-progress", "--resume"])


def test_fine_tuning_starts_from_the_bundled_network_and_mixes_families(script, tmp_path, monkeypatch):
    """``init_outcome_network: true`` starts from the bundled network itself (not a reset head), with only the
    network trainable; a list of families alternates slot by slot; a second validation family logs suffixed keys."""
    base = CInAModel.from_pretrained("cina-zs-base")
    model = script.build_model({"init_from": "cina-zs-base", "init_outcome_network": True, "model": {}})
    assert model.outcome_network_wide is None  # the first network is what gets fine-tuned, not a wide copy
    # the bundled network's prior-bound limits do not describe the fine-tuned one, nor a fresh one
    assert base.config.outcome_spread_limit is not None
    assert model.config.outcome_spread_limit is None and model.config.outcome_row_limit is None
    fresh = script.build_model({"init_from": "cina-zs-base", "model": {"outcome_hidden_size": 8}})
    assert fresh.config.outcome_spread_limit is None and fresh.config.outcome_row_limit is None
    kept = {k: v for k, v in base.state_dict().items() if not k.startswith("outcome_network_wide.")}
    assert set(kept) == set(model.state_dict())
    for name, tensor in kept.items():
        assert torch.equal(model.state_dict()[name], tensor), name
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("outcome_network.") for n in trainable)
    with pytest.raises(ValueError, match="needs init_from"):
        script.build_model({"init_from": None, "init_outcome_network": True, "model": {}})

    drawn = []
    real = script.random_config
    monkeypatch.setattr(script, "random_config", lambda family, rng: drawn.append(family) or real(family, rng))
    stream = script.DatasetStream(["outcome_train", "outcome_train_wide"], 0, 0, 60, 0.3)
    assert len(stream.batch(0, 4)) == 4
    assert drawn[:4] == ["outcome_train", "outcome_train_wide", "outcome_train", "outcome_train_wide"]
    with pytest.raises(ValueError, match="at least one family"):
        script.DatasetStream([], 0, 0, 60, 0.3)

    monkeypatch.setattr(script, "random_config", real)
    assert script.main(["--config", CONFIG, "--output-dir", str(tmp_path), "--no-progress", "--set",
                        "data.validation_family=[outcome_validation,outcome_validation_wide]",
                        "data.family=[outcome_train,outcome_train_wide]", "train.max_steps=2"]) == 0
    evals = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    evals = [r for r in evals if "val_loss" in r]
    assert {"val_loss", "pehe", "val_loss[outcome_validation_wide]", "pehe[outcome_validation_wide]"} <= set(evals[0])


def test_a_single_family_stream_is_the_same_as_before_mixtures(script):
    """A one-element list and the plain name draw the same datasets (a resumed pre-mixture run stays exact)."""
    one = script.DatasetStream("outcome_train", 0, 0, 60, 0.3).batch(3, 2)
    listed = script.DatasetStream(["outcome_train"], 0, 0, 60, 0.3).batch(3, 2)
    for a, b in zip(one, listed, strict=True):
        np.testing.assert_array_equal(a["mu0"], b["mu0"])


def test_data_workers_give_the_same_run(script, tmp_path):
    """Datasets made ahead in two worker processes are the serial stream's: the same losses, step by step."""
    serial, workers = tmp_path / "serial", tmp_path / "workers"
    assert script.main(["--config", CONFIG, "--output-dir", str(serial), "--no-progress"]) == 0
    assert script.main(["--config", CONFIG, "--output-dir", str(workers), "--no-progress", "--set",
                        "data.workers=2"]) == 0
    assert losses(workers) == pytest.approx(losses(serial), rel=1e-6)


def test_the_gpu_script_dry_run_leaves_a_loadable_network(tmp_path):
    """train/device_outcome.sh --cpu-dry: the probe sizes the run to its budget, and what comes out is a
    from_pretrained folder with one outcome network, its log and config, within the device's 8 files."""
    import os
    import subprocess
    import sys

    from support import REPO_ROOT

    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "BUDGET_S": "4", "WORK_DIR": str(tmp_path / "work"),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", "train/device_outcome.sh", str(out), "--cpu-dry"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "log.jsonl", "machine.txt", "model.safetensors",
                                                     "run.log", "train_config.json"]
    planned = int(done.stdout.split("probe: ")[1].split()[0])
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == planned and "val_loss" in log[-1]
    model = CInAModel.from_pretrained(out)
    assert model.outcome_network is not None and model.outcome_network_wide is None
    assert model.config.outcome_hidden_size == 16


def test_a_grown_network_starts_as_the_trained_one(script):
    """``init_outcome_network`` with more layers than the bundled network: the old layers are copied, the new one is
    an identity map at the start (the same predictions as the bundled network, to float precision), and its weights
    still train; fewer layers, or another width, are refused."""
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    base = CInAModel.from_pretrained("cina-zs-base")
    grown = script.build_model({"init_from": "cina-zs-base", "init_outcome_network": True,
                                "model": {"outcome_num_layers": 3, "outcome_hidden_size": 64}})
    assert len(grown.outcome_network.layers) == 3 == grown.config.outcome_num_layers
    for name, tensor in base.outcome_network.state_dict().items():
        assert torch.equal(grown.outcome_network.state_dict()[name], tensor), name
    new = grown.outcome_network.layers[2]
    assert float(new.to_values.weight.abs().sum()) > 0 and float(new.merge.weight.abs().sum()) == 0
    assert all(p.requires_grad for p in new.parameters())
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    t = (rng.random(300) < 0.4).astype(np.int64)
    y = x[:, 0] - x[:, 1] ** 2 + 0.5 * t + rng.normal(size=300)
    ours = predict_potential_outcomes(grown, x, t, y)
    theirs = predict_potential_outcomes(base, x, t, y, wide_network=False)
    np.testing.assert_allclose(ours.mu1, theirs.mu1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.sd0, theirs.sd0, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="grown, not cut"):
        script.build_model({"init_from": "cina-zs-base", "init_outcome_network": True,
                            "model": {"outcome_num_layers": 1}})
    with pytest.raises(ValueError, match="outcome_hiden_size is not a setting"):
        script.build_model({"init_from": "cina-zs-base", "init_outcome_network": True,
                            "model": {"outcome_hiden_size": 64}})
    with pytest.raises(ValueError, match="outcome_hidden_size"):
        script.build_model({"init_from": "cina-zs-base", "init_outcome_network": True,
                            "model": {"outcome_hidden_size": 128}})
