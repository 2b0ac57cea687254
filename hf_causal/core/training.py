"""The one training loop of hf-causal: the engine, the discovery forecaster and CInA pretraining all run it.

:class:`TrainingLoop` owns what the three trainers share (docs/design.md §9): an ``accelerate`` run (device,
mixed precision, gradient accumulation), AdamW, a linear warm-up then cosine decay, gradient clipping, periodic
evaluation with optional best-weight selection and early stopping, checkpoints with exact resume, and a
progress bar. The trainers bring only what differs: where batches come from and what the loss is.

>>> loop = TrainingLoop(model, LoopArguments(max_steps=500, learning_rate=2e-3))      # doctest: +SKIP
>>> result = loop.run(batches, loss_fn, evaluate=val_loss)                               # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import math
import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

#: Written into every checkpoint folder: the step, the planned total, the evaluation history.
STATE_FILE = "trainer_state.json"
#: The best evaluation's trainable weights, in a checkpoint of a run that selects them.
BEST_WEIGHTS_FILE = "best_weights.safetensors"

MIXED_PRECISION_MODES = ("no", "fp16", "bf16", "fp8")
#: Learning-rate schedules of :class:`LoopArguments`.
SCHEDULES = ("cosine", "plateau")

#: :attr:`LoopArguments.spike_mads` judges a loss against the last this many kept micro-batch losses ...
SPIKE_WINDOW = 200
#: ... once at least this many have been kept (before that no batch counts as a spike)
SPIKE_MIN_HISTORY = 20


def resolve_mixed_precision(value: Any) -> str:
    """accelerate's precision mode for a config value (``auto``: bf16 on a GPU, else none).

    YAML reads a bare ``no`` as ``False``, so that spelling is accepted too."""
    mode = "no" if value is False else str(value)
    if mode == "auto":
        return "bf16" if torch.cuda.is_available() else "no"
    if mode not in MIXED_PRECISION_MODES:
        raise ValueError(f"mixed_precision must be auto, {', '.join(MIXED_PRECISION_MODES)}; got {value!r}")
    return mode


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, warmup_from_zero: bool = False) -> float:
    """Learning-rate factor at ``step``: linear warm-up over ``warmup_steps``, then cosine decay to 0 at ``total_steps``.

    The warm-up's first step is at ``1 / warmup_steps`` of the peak, or at 0 with ``warmup_from_zero`` (the
    convention of ``transformers.get_cosine_schedule_with_warmup``).
    """
    if step < warmup_steps:
        return step / max(1, warmup_steps) if warmup_from_zero else (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_plateau(
    step: int, warmup_steps: int, cooldown_start: int | None, cooldown_steps: int, warmup_from_zero: bool = False
) -> float:
    """Learning-rate factor of the ``"plateau"`` schedule: linear warm-up, then the peak rate until the cool-down
    starts (``None``: not yet), then a linear decay to 0 over ``cooldown_steps``."""
    if step < warmup_steps:
        return step / max(1, warmup_steps) if warmup_from_zero else (step + 1) / warmup_steps
    if cooldown_start is None or step < cooldown_start:
        return 1.0
    return max(0.0, 1.0 - (step - cooldown_start) / max(1, cooldown_steps))


@dataclass
class LoopArguments:
    """Settings of :class:`TrainingLoop`.

    Attributes:
        max_steps: optimiser steps (after gradient accumulation).
        learning_rate: AdamW peak learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: steps of linear warm-up before the cosine decay.
        warmup_from_zero: the warm-up starts at a zero learning rate (see :func:`warmup_cosine`).
        max_grad_norm: gradient-norm clipping (``None``: off).
        gradient_accumulation_steps: micro-batches per optimiser step.
        mixed_precision: ``"no"``, ``"fp16"``, ``"bf16"``, ``"fp8"`` or ``"auto"`` (see :func:`resolve_mixed_precision`).
        cpu: force the CPU even when a GPU is visible.
        eval_every: optimiser steps between evaluations (the last step is always evaluated); ``None``: never.
        select_best: restore the weights of the best evaluation (by ``monitor``, lower is better) at the end.
        monitor: the evaluation metric that selects the best weights and drives early stopping.
        patience: stop after this many evaluations without an improvement (``None``: no early stopping); with the
            ``"plateau"`` schedule, start the cool-down instead.
        schedule: ``"cosine"`` (warm-up, then cosine decay to 0 at ``max_steps``) or ``"plateau"`` (warm-up, the
            peak rate until ``monitor`` stalls for ``patience`` evaluations, then a linear cool-down over
            ``cooldown_fraction`` of the steps so far, and stop). A run that stops on a stall under the cosine
            schedule ends on weights taken at a high learning rate; the cool-down averages that noise out. The
            cool-down also starts when it would otherwise end after ``max_steps``.
        cooldown_fraction: the cool-down's length as a share of the steps before it.
        min_improvement: an evaluation improves on the best one when it is lower by more than this; only
            an improvement moves the best weights and resets the patience count.
        output_dir: where checkpoints go (``checkpoint-<step>``); ``None``: no checkpoints.
        save_every: optimiser steps between checkpoints (``None``: none).
        save_last: also write a checkpoint at the last step when it falls on ``save_every``.
        skip_nonfinite: skip the optimiser step of a batch whose loss is NaN or infinite (counted in the result)
            instead of letting it poison the weights; for training on randomly drawn data.
        spike_mads: skip the optimiser step of a micro-batch whose loss lies more than this many median absolute
            deviations above the median of the last :data:`SPIKE_WINDOW` kept losses (counted in the result;
            ``None``: off). On randomly drawn data a rare draw can blow the network in training up (a loss
            10^8 times the usual one); clipping bounds that step's size, but its direction is then the one
            draw's, so the step is better skipped (docs/design.md §9.2). The median and its deviation work for
            losses of either sign (a Gaussian likelihood's are often negative). Like ``skip_nonfinite``, a
            skipped batch does not advance the step, so a resumed run re-reads as many batches as were skipped
            before its checkpoint.
        progress: show a progress bar.
        description: the progress bar's label.
    """

    max_steps: int
    learning_rate: float
    weight_decay: float = 0.01
    warmup_steps: int = 0
    warmup_from_zero: bool = False
    max_grad_norm: float | None = 1.0
    gradient_accumulation_steps: int = 1
    mixed_precision: Any = "no"
    cpu: bool = False
    eval_every: int | None = None
    select_best: bool = False
    monitor: str = "val_loss"
    patience: int | None = None
    schedule: str = "cosine"
    cooldown_fraction: float = 0.25
    min_improvement: float = 0.0
    output_dir: str | None = None
    save_every: int | None = None
    save_last: bool = False
    skip_nonfinite: bool = False
    spike_mads: float | None = None
    progress: bool = True
    description: str = "training"

    def __post_init__(self) -> None:
        if isinstance(self.max_steps, bool) or int(self.max_steps) <= 0:
            raise ValueError(f"max_steps must be a positive integer, got {self.max_steps!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.warmup_steps < 0 or self.warmup_steps > self.max_steps:
            raise ValueError(f"warmup_steps must be in [0, max_steps], got {self.warmup_steps}")
        if int(self.gradient_accumulation_steps) < 1:
            raise ValueError(f"gradient_accumulation_steps must be >= 1, got {self.gradient_accumulation_steps}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0 < self.cooldown_fraction <= 1:
            raise ValueError(f"cooldown_fraction must be in (0, 1], got {self.cooldown_fraction}")
        if self.spike_mads is not None and (isinstance(self.spike_mads, bool) or not float(self.spike_mads) > 0):
            raise ValueError(f"spike_mads must be None or a positive number, got {self.spike_mads!r}")
        for name in ("eval_every", "save_every", "patience"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ValueError(f"{name} must be None or >= 1, got {value}")
        self.max_steps = int(self.max_steps)
        self.mixed_precision = resolve_mixed_precision(self.mixed_precision)


@dataclass
class LoopResult:
    """What a run of :class:`TrainingLoop` leaves besides the trained model.

    Attributes:
        steps: optimiser steps taken (fewer than planned after early stopping).
        losses: the training loss of every optimiser step of this run (not of resumed earlier steps).
        smoothed_loss: exponential moving average of the training loss (factor 0.9) at the end.
        history: one record per evaluation: ``step``, ``train_loss`` (the smoothed loss) and the metrics.
        best: the best value of ``monitor`` seen (``inf`` without evaluations).
        best_step: the step of that evaluation (``None`` without evaluations).
        last_metrics: the metrics of the last evaluation (empty without one).
        stopped_early: whether early stopping ended the run.
        skipped_batches: micro-batches whose non-finite loss was skipped (``skip_nonfinite``).
        spike_batches: micro-batches skipped as loss spikes (``spike_mads``).
    """

    steps: int
    losses: list[float] = field(default_factory=list)
    smoothed_loss: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    best: float = float("inf")
    best_step: int | None = None
    last_metrics: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    skipped_batches: int = 0
    spike_batches: int = 0


Batches = Callable[[Accelerator, int], Iterable[Any]]
LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]
EvaluateFn = Callable[[torch.nn.Module], "float | dict[str, float]"]


class TrainingLoop:
    """Train ``model`` in place with the shared recipe (module docstring).

    Args:
        model: the model; only parameters with ``requires_grad`` are optimised (a LoRA backbone's frozen
            weights get no optimiser state, and the best-weight snapshot keeps only the trainable ones).
        args: :class:`LoopArguments`.
        accelerator: an existing ``Accelerator`` (default: one built from ``args``).
    """

    def __init__(self, model: torch.nn.Module, args: LoopArguments, accelerator: Accelerator | None = None) -> None:
        self.args = args
        self.accelerator = accelerator or Accelerator(
            cpu=args.cpu,
            mixed_precision=args.mixed_precision,
            gradient_accumulation_steps=int(args.gradient_accumulation_steps),
        )
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.partial = len(trainable) < sum(1 for _ in model.parameters())
        optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=args.weight_decay)
        total = args.max_steps
        #: the step the plateau schedule's cool-down started at (``None``: not yet) and its length
        self.cooldown_start: int | None = None
        self.cooldown_steps = 0
        if args.schedule == "plateau":
            def factor(s: int) -> float:
                return warmup_plateau(s, args.warmup_steps, self.cooldown_start, self.cooldown_steps,
                                      args.warmup_from_zero)
        else:
            def factor(s: int) -> float:
                return warmup_cosine(s, args.warmup_steps, total, args.warmup_from_zero)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, optimizer, scheduler)
        self.step = 0
        self.history: list[dict[str, float]] = []
        #: the trainable weights of the best evaluation so far (``select_best``), kept in checkpoints
        self.best_state: dict[str, torch.Tensor] | None = None
        #: the last kept micro-batch losses that ``spike_mads`` judges a new one against, kept in checkpoints
        self.recent_losses: deque[float] = deque(maxlen=SPIKE_WINDOW)

    @property
    def device(self) -> torch.device:
        """The device batches must be on."""
        return self.accelerator.device

    def unwrapped_model(self) -> torch.nn.Module:
        """The model without accelerate's wrappers."""
        return self.accelerator.unwrap_model(self.model)

    # -- checkpoints -------------------------------------------------------------------------------------

    def resume(self, checkpoint: str | os.PathLike) -> int:
        """Restore model, optimiser, scheduler and RNG states from a checkpoint of this loop; returns its step."""
        path = str(checkpoint)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"checkpoint folder not found: {path}")
        self.accelerator.load_state(path)
        state_file = os.path.join(path, STATE_FILE)
        if os.path.isfile(state_file):
            with open(state_file, encoding="utf-8") as f:
                state = json.load(f)
            self.step, self.history = int(state["step"]), list(state.get("history", []))
            self.cooldown_start = state.get("cooldown_start")
            self.cooldown_steps = int(state.get("cooldown_steps", 0))
            self.recent_losses.extend(float(v) for v in state.get("recent_losses", []))
        else:  # a checkpoint without the state file: the step is in the folder name
            self.step = int(os.path.basename(os.path.normpath(path)).rsplit("-", 1)[-1])
        best_file = os.path.join(path, BEST_WEIGHTS_FILE)
        if os.path.isfile(best_file):
            self.best_state = load_file(best_file, device=str(self.device))
        return self.step

    def save_checkpoint(self, save_fn: Callable[[str], None] | None, best: float, extra: dict[str, Any]) -> str:
        """Write ``output_dir/checkpoint-<step>``: accelerate state, ``save_fn(folder)`` and :data:`STATE_FILE`."""
        folder = os.path.join(str(self.args.output_dir), f"checkpoint-{self.step}")
        self.accelerator.save_state(folder, safe_serialization=True)
        if self.accelerator.is_main_process:
            if save_fn is not None:
                save_fn(folder)
            state = {"step": self.step, "total_steps": self.args.max_steps, "best": best, "history": self.history,
                     "cooldown_start": self.cooldown_start, "cooldown_steps": self.cooldown_steps,
                     "recent_losses": list(self.recent_losses)}
            state["args"] = {k: v for k, v in asdict(self.args).items()}
            state.update(extra)
            with open(os.path.join(folder, STATE_FILE), "w", encoding="utf-8") as f:
                json.dump(state, f, default=str)
            if self.best_state is not None:  # so that a resumed run still ends on the best weights
                save_file({k: v.contiguous() for k, v in self.best_state.items()}, os.path.join(folder, BEST_WEIGHTS_FILE))
        return folder

    def _replay_history(self, result: LoopResult) -> int:
        """Best value, its step and the evaluations since the last improvement, from ``self.history`` (a resumed
        run continues early stopping where it left off); returns that count."""
        bad = 0
        for record in self.history:
            value = record.get(self.args.monitor)
            if value is None:
                continue
            if value < result.best - self.args.min_improvement:
                result.best, result.best_step, bad = value, int(record["step"]), 0
            else:
                bad += 1
        return bad

    def _is_spike(self, value: float) -> bool:
        """Whether a micro-batch loss is a spike under ``spike_mads`` (keeping it in the window when not)."""
        window = self.recent_losses
        if len(window) >= SPIKE_MIN_HISTORY:
            median = statistics.median(window)
            deviation = statistics.median(abs(v - median) for v in window)
            # a window of equal losses has no deviation: judging by it would skip every higher loss from then on
            if deviation > 0 and value - median > float(self.args.spike_mads) * deviation:  # type: ignore[arg-type]
                return True
        window.append(value)
        return False

    def _snapshot(self) -> dict[str, torch.Tensor]:
        model = self.unwrapped_model()
        if not self.partial:
            return copy.deepcopy(model.state_dict())
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    # -- the loop ----------------------------------------------------------------------------------------

    def _start_cooldown(self) -> None:
        """Begin the plateau schedule's cool-down now (once): ``cooldown_fraction`` of the steps so far, at least
        one, ending by ``max_steps``."""
        if self.cooldown_start is not None:
            return
        self.cooldown_start = self.step
        wanted = max(1, round(self.args.cooldown_fraction * self.step))
        self.cooldown_steps = max(1, min(wanted, self.args.max_steps - self.step))

    def _postfix(self, result: LoopResult, bad_evaluations: int) -> dict[str, str]:
        """The progress bar's note: the loss, the last and best evaluation, and what early stopping waits for."""
        note = {"loss": f"{result.smoothed_loss:.4f}"}
        if result.best_step is not None:
            last = result.last_metrics.get(self.args.monitor)
            if last is not None:
                note[self.args.monitor] = f"{last:.4f}"
            note["best"] = f"{result.best:.4f}@{result.best_step}"
            if self.cooldown_start is not None:  # what the run waits for: the end of the cool-down
                note["cooling"] = f"{self.step - self.cooldown_start}/{self.cooldown_steps}"
            elif self.args.patience is not None:  # ... or an improvement, before the stop / the cool-down
                note["stalled"] = f"{bad_evaluations}/{self.args.patience}"
        return note

    def _evaluate(self, evaluate: EvaluateFn) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        try:
            out = evaluate(self.model)
        finally:
            self.model.train(was_training)
        return dict(out) if isinstance(out, dict) else {self.args.monitor: float(out)}

    def run(
        self,
        batches: Batches,
        loss_fn: LossFn,
        *,
        evaluate: EvaluateFn | None = None,
        on_step: Callable[[dict[str, Any]], None] | None = None,
        save_fn: Callable[[str], None] | None = None,
        checkpoint_state: Callable[[], dict[str, Any]] | None = None,
    ) -> LoopResult:
        """Run from ``self.step`` (0, or where :meth:`resume` left it) to ``args.max_steps``.

        Args:
            batches: ``batches(accelerator, start_step)`` yields the micro-batches from ``start_step`` on (on
                the accelerator's device; prepare a ``DataLoader`` with ``accelerator.prepare`` first); it may
                be endless, and is asked again from the current step when it runs out.
            loss_fn: ``loss_fn(model, batch)`` returns the scalar loss of a micro-batch.
            evaluate: ``evaluate(model)`` (in eval mode, no gradients needed) returns the ``monitor`` value or a
                dict of metrics including it; run every ``eval_every`` steps and at the last step.
            on_step: called after every optimiser step with ``{"step", "loss", "seconds"}`` plus the metrics
                of an evaluation run at that step.
            save_fn: ``save_fn(folder)`` adds a loadable model (or whatever the trainer needs) to each checkpoint.
            checkpoint_state: extra JSON-able entries for each checkpoint's :data:`STATE_FILE`.

        Returns:
            :class:`LoopResult`; the model is left in eval mode with the best weights when ``select_best``.
        """
        args, acc = self.args, self.accelerator
        result = LoopResult(steps=self.step, history=self.history)
        bad_evaluations = self._replay_history(result)
        plateau = args.schedule == "plateau"
        result.stopped_early = not plateau and args.patience is not None and bad_evaluations >= args.patience
        bar = tqdm(total=args.max_steps, initial=self.step, desc=args.description, unit="step", disable=not args.progress)
        self.model.train()
        started = time.perf_counter()
        while self.step < args.max_steps and not result.stopped_early:
            for batch in batches(acc, self.step):
                with acc.accumulate(self.model):
                    loss = loss_fn(self.model, batch)
                    if args.skip_nonfinite and not bool(torch.isfinite(loss.detach())):
                        result.skipped_batches += 1
                        self.optimizer.zero_grad(set_to_none=True)
                        continue
                    if args.spike_mads is not None and self._is_spike(float(loss.detach())):
                        result.spike_batches += 1
                        self.optimizer.zero_grad(set_to_none=True)
                        continue
                    acc.backward(loss)
                    if args.max_grad_norm is not None and acc.sync_gradients:
                        acc.clip_grad_norm_(self.model.parameters(), args.max_grad_norm)
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
                if not acc.sync_gradients:
                    continue
                self.step += 1
                value = float(loss.detach())
                result.losses.append(value)
                smoothed = result.smoothed_loss
                result.smoothed_loss = value if smoothed is None else 0.9 * smoothed + 0.1 * value
                bar.update(1)
                bar.set_postfix(self._postfix(result, bad_evaluations), refresh=False)
                record: dict[str, Any] = {"step": self.step, "loss": value, "seconds": time.perf_counter() - started}
                last = self.step >= args.max_steps
                if plateau:
                    if self.cooldown_start is None and self.step * (1 + args.cooldown_fraction) >= args.max_steps:
                        self._start_cooldown()  # so that it ends by max_steps
                    cooled = self.cooldown_start is not None and self.step >= self.cooldown_start + self.cooldown_steps
                    if cooled:  # the cool-down is over: evaluate and stop
                        result.stopped_early, last = not last, True
                if evaluate is not None and args.eval_every is not None and (self.step % args.eval_every == 0 or last):
                    metrics = self._evaluate(evaluate)
                    record.update(metrics)
                    result.last_metrics = metrics
                    self.history.append({"step": self.step, "train_loss": result.smoothed_loss, **metrics})
                    if metrics[args.monitor] < result.best - args.min_improvement:
                        result.best, result.best_step, bad_evaluations = metrics[args.monitor], self.step, 0
                        if args.select_best:
                            self.best_state = self._snapshot()
                    else:
                        bad_evaluations += 1
                    if args.patience is not None and bad_evaluations >= args.patience:
                        if plateau:
                            self._start_cooldown()
                        else:
                            result.stopped_early = True
                    bar.set_postfix(self._postfix(result, bad_evaluations))
                if on_step is not None:
                    on_step(record)
                due = args.save_every is not None and self.step % args.save_every == 0 and (args.save_last or not last)
                if args.output_dir and due:
                    self.save_checkpoint(save_fn, result.best, checkpoint_state() if checkpoint_state else {})
                if last or result.stopped_early:
                    break
        bar.close()
        result.steps = self.step
        model = self.unwrapped_model()
        if args.select_best and self.best_state is not None:
            model.load_state_dict(self.best_state, strict=not self.partial)
        model.eval()
        return result


def epoch_batches(n: int, batch_size: int, seed: int, start_step: int) -> Iterator[torch.Tensor]:
    """Row indices of shuffled mini-batches, epoch after epoch, from ``start_step`` on (exact on resume).

    Epoch ``e`` is a permutation drawn from ``seed * 100_003 + e``, so step ``s`` always sees the same rows.
    """
    per_epoch = max(1, math.ceil(n / batch_size))
    epoch, skip = divmod(start_step, per_epoch)
    while True:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        yield from list(perm.split(batch_size))[skip:]
        epoch, skip = epoch + 1, 0
