"""The shared training loop against closed forms: the schedule, least squares, exact resume, best weights."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from transformers import get_cosine_schedule_with_warmup

from hf_causal.core.training import (
    STATE_FILE,
    LoopArguments,
    TrainingLoop,
    epoch_batches,
    resolve_mixed_precision,
    warmup_cosine,
    warmup_plateau,
)


def regression_data(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """``y = X b + noise``; returns the data and the least-squares coefficients (with intercept)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x @ torch.tensor([1.5, -2.0, 0.5]) + 0.7 + 0.1 * torch.randn(n, generator=gen)
    design = np.column_stack([x.numpy(), np.ones(n)])
    coef, *_ = np.linalg.lstsq(design, y.numpy(), rcond=None)
    return x, y, coef


def linear_model(seed: int = 0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 1)


def batches_of(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0):
    def batches(accelerator, start):
        for idx in epoch_batches(len(x), batch_size, seed, start):
            yield x[idx].to(accelerator.device), y[idx].to(accelerator.device)

    return batches


def mse(model: torch.nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return ((model(x).squeeze(-1) - y) ** 2).mean()


def params_of(model: torch.nn.Module) -> np.ndarray:
    return np.concatenate([model.weight.detach().numpy().ravel(), model.bias.detach().numpy()])


@pytest.mark.parametrize("warmup", [0, 1, 10])
def test_warmup_from_zero_is_transformers_cosine_schedule(warmup):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = get_cosine_schedule_with_warmup(opt, warmup, 100).lr_lambdas[0]
    for step in range(101):
        assert warmup_cosine(step, warmup, 100, warmup_from_zero=True) == pytest.approx(reference(step), abs=1e-15)


def test_warmup_cosine_closed_form():
    assert [warmup_cosine(s, 4, 20) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert warmup_cosine(4, 4, 20) == 1.0
    assert warmup_cosine(12, 4, 20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert warmup_cosine(20, 4, 20) == pytest.approx(0.0, abs=1e-15)
    assert warmup_cosine(30, 4, 20) == pytest.approx(0.0, abs=1e-15)  # stays at the end, does not rise again


def test_the_loop_reaches_least_squares():
    x, y, coef = regression_data()
    model = linear_model()
    loop = TrainingLoop(model, LoopArguments(max_steps=400, learning_rate=0.05, weight_decay=0.0, warmup_steps=10,
                                             cpu=True, progress=False))
    result = loop.run(batches_of(x, y, 64), mse)
    assert result.steps == 400 and len(result.losses) == 400 and not model.training
    np.testing.assert_allclose(params_of(model), coef, atol=2e-3)


def test_gradient_accumulation_matches_the_full_batch():
    """Two micro-batches of 32 accumulated are one step on the batch of 64 (equal sizes, mean losses)."""
    x, y, _ = regression_data(n=64)
    runs = []
    for micro, accumulate in ((64, 1), (32, 2)):
        model = linear_model()
        loop = TrainingLoop(model, LoopArguments(max_steps=5, learning_rate=0.1, weight_decay=0.0, cpu=True,
                                                 gradient_accumulation_steps=accumulate, progress=False))

        def fixed_order(accelerator, start, micro=micro):
            while True:
                for s in range(0, 64, micro):
                    yield x[s: s + micro], y[s: s + micro]

        loop.run(fixed_order, mse)
        runs.append(params_of(model))
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)


def test_resume_from_a_checkpoint_is_exact(tmp_path):
    x, y, _ = regression_data()
    args = {"max_steps": 12, "learning_rate": 0.05, "warmup_steps": 3, "cpu": True, "progress": False}
    full = linear_model()
    TrainingLoop(full, LoopArguments(**args)).run(batches_of(x, y, 48), mse)

    saved = []
    interrupted = linear_model()
    loop = TrainingLoop(interrupted, LoopArguments(**args, output_dir=str(tmp_path), save_every=5))
    loop.run(batches_of(x, y, 48), mse, save_fn=saved.append, checkpoint_state=lambda: {"stream": 7})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-10", "checkpoint-5"]  # not at the last step
    assert saved == [str(tmp_path / "checkpoint-5"), str(tmp_path / "checkpoint-10")]
    state = json.loads((tmp_path / "checkpoint-5" / STATE_FILE).read_text())
    assert state["step"] == 5 and state["total_steps"] == 12 and state["stream"] == 7

    resumed = linear_model(seed=1)  # other initial weights: the checkpoint must overwrite them
    again = TrainingLoop(resumed, LoopArguments(**args))
    assert again.resume(tmp_path / "checkpoint-5") == 5
    result = again.run(batches_of(x, y, 48), mse)
    assert result.steps == 12 and len(result.losses) == 7
    np.testing.assert_array_equal(params_of(resumed), params_of(full))
    with pytest.raises(FileNotFoundError):
        again.resume(tmp_path / "checkpoint-99")


def test_best_weights_are_restored_and_early_stopping_waits_for_patience():
    x, y, _ = regression_data()
    scores = iter([5.0, 3.0, 4.0, 3.5, 2.0, 2.5, 9.0, 9.0, 9.0])
    snapshots = {}
    model = linear_model()
    loop = TrainingLoop(model, LoopArguments(max_steps=9, learning_rate=0.05, cpu=True, eval_every=1,
                                             select_best=True, progress=False))

    def remember(record):
        snapshots[record["step"]] = params_of(loop.unwrapped_model()).copy()

    result = loop.run(batches_of(x, y, 32), mse, evaluate=lambda m: next(scores), on_step=remember)
    assert result.best == 2.0 and result.best_step == 5 and result.steps == 9
    np.testing.assert_array_equal(params_of(model), snapshots[5])
    assert [h["val_loss"] for h in result.history] == [5.0, 3.0, 4.0, 3.5, 2.0, 2.5, 9.0, 9.0, 9.0]

    flat = iter([1.0, 0.99995, 0.5, 0.6, 0.7, 0.8])  # the second is not an improvement of more than 1e-4
    loop = TrainingLoop(linear_model(), LoopArguments(max_steps=50, learning_rate=0.05, cpu=True, eval_every=2,
                                                      patience=2, min_improvement=1e-4, progress=False))
    result = loop.run(batches_of(x, y, 32), mse, evaluate=lambda m: {"val_loss": next(flat), "other": 1.0})
    assert result.stopped_early and result.steps == 10  # evaluations at 2..10: 0.5 at step 6, then two worse
    assert result.best == 0.5 and result.last_metrics == {"val_loss": 0.7, "other": 1.0}


def test_warmup_plateau_closed_form():
    assert [warmup_plateau(s, 4, None, 0) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [warmup_plateau(s, 0, 10, 4) for s in (9, 10, 11, 12, 13, 14, 20)] == [1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def _learning_rates(loop: TrainingLoop) -> list[float]:
    rates = []
    original = loop.optimizer.step

    def step(*args, **kwargs):
        rates.append(loop.optimizer.param_groups[0]["lr"])
        return original(*args, **kwargs)

    loop.optimizer.step = step
    return rates


def test_plateau_schedule_cools_down_after_a_stall_then_stops():
    x, y, _ = regression_data()
    scores = iter([3.0, 2.0, 2.5, 2.4, 2.2, 2.1, 2.0, 1.9, 1.8])  # best at the 2nd evaluation, stalled at the 4th
    loop = TrainingLoop(linear_model(), LoopArguments(max_steps=100, learning_rate=0.1, cpu=True, eval_every=5,
                                                      patience=2, schedule="plateau", cooldown_fraction=0.5,
                                                      progress=False))
    rates = _learning_rates(loop)
    result = loop.run(batches_of(x, y, 32), mse, evaluate=lambda m: next(scores))
    # stall detected at step 20 (two evaluations without a new best): a cool-down of 0.5 * 20 steps, then stop
    assert loop.cooldown_start == 20 and loop.cooldown_steps == 10
    assert result.steps == 30 and result.stopped_early
    assert rates[:20] == pytest.approx([0.1] * 20)
    assert rates[20:] == pytest.approx([0.1 * (1 - k / 10) for k in range(10)])
    assert [h["step"] for h in result.history] == [5, 10, 15, 20, 25, 30]  # the cooled weights are evaluated


def test_plateau_schedule_without_a_stall_ends_its_cool_down_at_max_steps():
    x, y, _ = regression_data()
    loop = TrainingLoop(linear_model(), LoopArguments(max_steps=30, learning_rate=0.1, cpu=True, schedule="plateau",
                                                      cooldown_fraction=0.5, progress=False))
    rates = _learning_rates(loop)
    result = loop.run(batches_of(x, y, 32), mse)
    assert loop.cooldown_start == 20 and loop.cooldown_steps == 10 and result.steps == 30 and not result.stopped_early
    assert rates[-1] == pytest.approx(0.01)


def test_resume_continues_early_stopping_the_cool_down_and_the_best_weights(tmp_path):
    x, y, _ = regression_data()
    values = [3.0, 2.0, 2.5, 2.4, 2.2, 2.1, 2.0]
    args = {"max_steps": 100, "learning_rate": 0.1, "cpu": True, "eval_every": 5, "patience": 2,
            "schedule": "plateau", "cooldown_fraction": 0.5, "select_best": True, "progress": False}
    full = linear_model()
    full_loop = TrainingLoop(full, LoopArguments(**args))
    scores = iter(values)
    full_result = full_loop.run(batches_of(x, y, 32), mse, evaluate=lambda m: next(scores))

    interrupted = TrainingLoop(linear_model(), LoopArguments(**args, output_dir=str(tmp_path), save_every=25))
    scores = iter(values)
    interrupted.run(batches_of(x, y, 32), mse, evaluate=lambda m: next(scores))
    assert (tmp_path / "checkpoint-25" / "best_weights.safetensors").exists()

    resumed_model = linear_model(seed=3)
    resumed = TrainingLoop(resumed_model, LoopArguments(**args))
    assert resumed.resume(tmp_path / "checkpoint-25") == 25 and resumed.cooldown_start == 20
    scores = iter(values[5:])
    result = resumed.run(batches_of(x, y, 32), mse, evaluate=lambda m: next(scores))
    assert result.steps == full_result.steps == 30
    assert result.best == full_result.best == 2.0 and result.best_step == 10  # from the history before the resume
    np.testing.assert_array_equal(params_of(resumed_model), params_of(full))  # the step-10 weights, restored


def test_only_trainable_parameters_are_optimised():
    x, y, _ = regression_data()
    model = linear_model()
    model.bias.requires_grad_(False)
    bias = model.bias.detach().clone()
    loop = TrainingLoop(model, LoopArguments(max_steps=20, learning_rate=0.05, cpu=True, eval_every=5,
                                             select_best=True, progress=False))
    assert loop.partial
    loop.run(batches_of(x, y, 32), mse, evaluate=lambda m: float(mse(m, (x, y)).detach()))
    assert torch.equal(model.bias, bias) and len(loop.optimizer.param_groups[0]["params"]) == 1


def test_epoch_batches_cover_each_epoch_and_resume_mid_epoch():
    stream = epoch_batches(10, 4, seed=3, start_step=0)
    first = [next(stream) for _ in range(6)]  # two epochs of 3 batches (4, 4, 2)
    assert [len(b) for b in first] == [4, 4, 2, 4, 4, 2]
    assert sorted(torch.cat(first[:3]).tolist()) == list(range(10))
    resumed = epoch_batches(10, 4, seed=3, start_step=4)
    assert all(torch.equal(next(resumed), b) for b in first[4:])


def test_arguments_are_checked():
    for bad in ({"max_steps": 0}, {"max_steps": True}, {"learning_rate": 0.0}, {"warmup_steps": 11},
                {"gradient_accumulation_steps": 0}, {"eval_every": 0}, {"mixed_precision": "fp12"}):
        with pytest.raises(ValueError):
            LoopArguments(**{"max_steps": 10, "learning_rate": 1e-3, **bad})
    assert resolve_mixed_precision(False) == "no" and resolve_mixed_precision("bf16") == "bf16"
    assert resolve_mixed_precision("auto") == ("bf16" if torch.cuda.is_available() else "no")


def test_nonfinite_batches_are_skipped_when_asked():
    x, y, _ = regression_data()
    poisoned = y.clone()
    poisoned[:32] = float("nan")

    def batches(accelerator, start):
        while True:
            yield x[:32], poisoned[:32]  # NaN
            yield x[32:64], y[32:64]

    model = linear_model()
    result = TrainingLoop(model, LoopArguments(max_steps=6, learning_rate=0.05, cpu=True, skip_nonfinite=True,
                                               progress=False)).run(batches, mse)
    assert result.skipped_batches == 6 and result.steps == 6 and np.isfinite(params_of(model)).all()
    unguarded = linear_model()
    TrainingLoop(unguarded, LoopArguments(max_steps=2, learning_rate=0.05, cpu=True, progress=False)).run(batches, mse)
    assert not np.isfinite(params_of(unguarded)).all()


def test_loss_spikes_are_skipped_as_if_the_batch_was_never_drawn():
    x, y, _ = regression_data(n=400)
    ordinary = [(x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]) for i in range(40)]
    spike = (x[:10], y[:10] * 1e4)  # a draw the model predicts 10^8 times worse than usual

    def feeding(items):
        def batches(accelerator, start):
            yield from items[start:]

        return batches

    def train(items, **extra):
        model = linear_model()
        args = LoopArguments(max_steps=40, learning_rate=0.2, cpu=True, progress=False, **extra)
        return model, TrainingLoop(model, args).run(feeding(items), mse)

    with_spike = ordinary[:20] + [spike] + ordinary[20:]
    guarded, result = train(with_spike, spike_mads=50.0)
    reference, _ = train(ordinary)
    unguarded, _ = train(with_spike[:40])
    assert result.spike_batches == 1 and result.steps == 40
    np.testing.assert_array_equal(params_of(guarded), params_of(reference))
    # unguarded, the spike's gradient swamps Adam's second moment and the later steps shrink: a worse fit
    with torch.no_grad():
        assert mse(unguarded, (x, y)) > 1.05 * mse(reference, (x, y))


def test_spike_window_survives_a_resume(tmp_path):
    x, y, _ = regression_data()
    args = dict(max_steps=30, learning_rate=0.05, cpu=True, progress=False, spike_mads=20.0,
                output_dir=str(tmp_path), save_every=25)
    first = TrainingLoop(linear_model(), LoopArguments(**args))
    first.run(batches_of(x, y, 16), mse)
    saved = json.loads((tmp_path / "checkpoint-25" / STATE_FILE).read_text())["recent_losses"]
    assert len(saved) == 25 and saved == list(first.recent_losses)[:25]
    resumed = TrainingLoop(linear_model(), LoopArguments(**args))
    resumed.resume(tmp_path / "checkpoint-25")
    assert list(resumed.recent_losses) == saved
    flat = TrainingLoop(linear_model(), LoopArguments(**{**args, "output_dir": None}))
    for _ in range(25):
        assert not flat._is_spike(1.0)
    assert not flat._is_spike(1.5)  # equal losses give no deviation to judge by: nothing is a spike
    for bad in (0.0, -1.0, True):
        with pytest.raises(ValueError, match="spike_mads"):
            LoopArguments(max_steps=10, learning_rate=1e-3, spike_mads=bad)
