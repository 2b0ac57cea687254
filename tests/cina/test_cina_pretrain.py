"""The pretraining script runs end to end on CPU, logs validation error, checkpoints and resumes."""

import json
import sys
from pathlib import Path

import pytest
import torch
from support import tiny_cina_model

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


def test_bf16_run_with_threaded_distillation(tmp_path):
    """The GPU recipe's switches (bf16 autocast, distillation solved in a thread pool) run on CPU too: losses stay
    finite, the float32 master weights are saved, and validation error is logged."""
    import math

    from accelerate.state import AcceleratorState

    cfg = str(ROOT / "train" / "configs" / "cina_zs_tiny.yaml")
    logs = {}
    for precision in ("bf16", "no"):
        out = tmp_path / precision
        args = ["--config", cfg, "--output-dir", str(out), "--no-progress", "--set",
                f"train.mixed_precision={precision}", "train.distill_weight=1.0", "train.distill_workers=2",
                "train.max_steps=3", "train.eval_every=3"]
        # accelerate keeps one process-wide state; another precision needs a fresh one (a new process in real use)
        AcceleratorState._reset_state(reset_partial_state=True)
        try:
            assert pretrain_cina.main(args) == 0
        finally:
            AcceleratorState._reset_state(reset_partial_state=True)
        logs[precision] = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    log = logs["bf16"]
    assert [r["step"] for r in log] == [1, 2, 3] and all(math.isfinite(r["loss"]) for r in log)
    assert math.isfinite(log[-1]["val_ate_mae"])
    # same seed and data: bf16 autocast changes the first step's loss only by rounding
    assert log[0]["loss"] == pytest.approx(logs["no"][0]["loss"], rel=0.05)
    model = CInAModel.from_pretrained(tmp_path / "bf16" / "final")
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_bad_override_is_rejected():
    from hf_causal.core.run_config import load_run_config
    from hf_causal.core.training import resolve_mixed_precision

    with pytest.raises(ValueError, match="section.key=value"):
        load_run_config(pretrain_cina.DEFAULTS, None, ["max_steps=3"])
    with pytest.raises(ValueError, match="mixed_precision"):
        resolve_mixed_precision("bf61")
    # YAML turns a bare `no` into False; it still means no mixed precision
    cfg = load_run_config(pretrain_cina.DEFAULTS, None, ["train.mixed_precision=no"])
    assert cfg["train"]["mixed_precision"] is False and resolve_mixed_precision(False) == "no"


def test_exact_duals_match_the_model_kernel_and_distillation_moves_toward_them():
    """The distillation targets solve the SVM dual on the model's own kernel, and the loss pulls the head there."""
    import numpy as np
    import torch

    from hf_causal.cina.balancing import masked_standardize
    from hf_causal.cina.collate import pad_datasets
    from hf_causal.cina.svm import implied_kernel

    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(n, 3)) for n in (40, 25)]
    ts = [(rng.random(len(x)) < 1 / (1 + np.exp(-x[:, 0]))).astype(int) for x in xs]
    model = tiny_cina_model().train()
    batch = pad_datasets(xs, ts)
    targets = pretrain_cina.exact_duals(model, batch)
    assert targets.shape == (2, 40) and float(targets[1, 25:].abs().sum()) == 0.0  # padding stays 0
    for b, (x, t) in enumerate(zip(xs, ts, strict=True)):
        a = targets[b, : len(t)].double().numpy()
        # KKT of the dual: box constraints and sum_i a_i W_i = 0
        assert a.min() >= 0 and a.max() <= 1 and abs(np.sum(a * (2 * t - 1))) < 1e-4
        # independently: the dual objective is no worse than at a feasible perturbation
        z = masked_standardize(torch.tensor(x)[None], torch.ones(1, len(t), dtype=torch.bool), 5.0)[0].numpy()
        k = implied_kernel(z @ z.T / 3)
        w = 2 * t - 1
        q = (w[:, None] * w[None, :]) * k
        lam = model.config.lambda0 / len(t) ** 2
        objective = 0.5 * a @ q @ a - lam * a.sum()
        uniform = np.where(t == 1, 1.0 / t.sum(), 1.0 / (1 - t).sum()) * 0.5  # feasible: balanced arm sums
        assert objective <= 0.5 * uniform @ q @ uniform - lam * uniform.sum() + 1e-12
    # a few gradient steps on the distillation loss alone reduce it
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        out = model(**batch)
        loss = pretrain_cina.distillation_loss(out.dual, targets, batch["attention_mask"].bool())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def test_exact_duals_in_a_thread_pool_equal_the_serial_solves():
    import numpy as np
    import torch

    from hf_causal.cina.collate import pad_datasets

    rng = np.random.default_rng(5)
    xs = [rng.normal(size=(n, 2)) for n in (30, 18, 45)]
    ts = [(rng.random(len(x)) < 0.4).astype(int) for x in xs]
    model = tiny_cina_model().train()
    batch = pad_datasets(xs, ts)
    serial = pretrain_cina.exact_duals(model, batch)
    assert torch.equal(pretrain_cina.exact_duals(model, batch, workers=3), serial)
    assert float(serial[1, 18:].abs().sum()) == 0.0 and float(serial[1, :18].abs().sum()) > 0
