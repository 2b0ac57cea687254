"""The engine's training loop (``accelerate``): shuffled mini-batches, AdamW, cosine schedule,
validation-based model selection, periodic checkpoints and exact resume."""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from .modeling_causal_ar import IGNORE_INDEX, CausalARModel

STATE_FILE = "trainer_state.json"


@dataclass
class EngineTrainingArguments:
    """Hyper-parameters of :meth:`CausalEngine.train` (defaults fit ~10k tabular rows in minutes on a CPU).

    Attributes:
        max_steps: optimisation steps; ``None`` chooses ``clip(20 * sqrt(n_rows), 300, 3000)`` rounded to whole epochs.
        batch_size: rows per step.
        learning_rate: AdamW peak learning rate (cosine decay after ``warmup_ratio`` of the steps).
        weight_decay: AdamW weight decay.
        warmup_ratio: share of steps with linear warm-up.
        val_fraction: rows held out to select the best checkpoint by validation loss (0 disables).
        eval_every: steps between validation passes (``None``: once per epoch).
        output_dir: where checkpoints go (``None``: no checkpoints).
        save_steps: steps between checkpoints (``None``: only at the end).
        device: ``"cpu"``, ``"cuda"``...; ``None`` lets accelerate choose.
        progress: show a tqdm progress bar.
        constrained_loss: restrict each label's softmax to its variable's value tokens (the sampler's
            constraint; see :meth:`CausalARModel.forward`'s ``loss_groups``). Off: softmax over the whole
            vocabulary, which with a pretrained backbone's 30k-50k tokens spends much of a short run
            learning which tokens are valid at all.
    """

    max_steps: int | None = None
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    val_fraction: float = 0.1
    eval_every: int | None = None
    output_dir: str | None = None
    save_steps: int | None = None
    device: str | None = None
    progress: bool = True
    constrained_loss: bool = True
    history: list[dict[str, float]] = field(default_factory=list, repr=False)

    def resolve_steps(self, n_rows: int) -> int:
        """Optimisation steps for ``n_rows`` rows: ``max_steps`` if set, else whole epochs totalling about
        ``20 * sqrt(n_rows)`` steps, clamped to 300-3000."""
        if self.max_steps is not None:
            if self.max_steps <= 0:
                raise ValueError(f"max_steps must be positive, got {self.max_steps}")
            return int(self.max_steps)
        per_epoch = max(1, math.ceil(n_rows / self.batch_size))
        target = min(3000, max(300, int(20 * math.sqrt(n_rows))))
        return per_epoch * max(1, round(target / per_epoch))


def _batches(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(n, generator=g)
    return list(perm.split(batch_size))


def compact_batch(batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Left-align a right-padded batch, drop its all-padding columns, and keep only the logits the loss needs.

    Rows end-aligned (with explicit position ids, so every token keeps the position it has at sampling time)
    put the loss-carrying tokens of every row in the last columns; ``logits_to_keep`` then skips the LM head
    (a pretrained backbone's whole vocabulary) on the columns before the first labelled token, e.g. a
    context-only text prefix. The loss is the same as on the padded batch.
    """
    mask = batch["attention_mask"]
    lengths = mask.sum(1)
    width = int(lengths.max())
    src = torch.arange(width, device=mask.device)[None, :] - (width - lengths)[:, None]
    valid = src >= 0
    src = src.clamp(min=0)
    ids = torch.gather(batch["input_ids"], 1, src)
    labels = torch.where(valid, torch.gather(batch["labels"], 1, src), torch.full_like(ids, IGNORE_INDEX))
    attention = valid.long()
    has = labels != IGNORE_INDEX
    first = int(has.float().argmax(1)[has.any(1)].min()) if bool(has.any()) else width - 1
    out = {
        "input_ids": torch.where(valid, ids, torch.zeros_like(ids)),
        "attention_mask": attention,
        "position_ids": (attention.cumsum(1) - 1).clamp(min=0),
        "labels": labels,
        "logits_to_keep": max(2, width - first + 1),  # logits from the column before the first label
    }
    if "prefix_mask" in batch:  # a bidirectional prefix block (CausalARModel.forward) moves with its tokens
        out["prefix_mask"] = valid & torch.gather(batch["prefix_mask"], 1, src)
    return out


@torch.no_grad()
def _evaluate(
    model: CausalARModel,
    data: dict[str, torch.Tensor],
    batch_size: int,
    device: torch.device,
    loss_groups: torch.Tensor | None = None,
) -> float:
    model.eval()
    total, count = 0.0, 0
    for idx in torch.arange(data["input_ids"].size(0)).split(4 * batch_size):
        batch = compact_batch({k: v[idx].to(device) for k, v in data.items()})
        tokens = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        total += float(model(**batch, loss_groups=loss_groups).loss) * tokens
        count += tokens
    model.train()
    return total / max(count, 1)


def _snapshot(model: torch.nn.Module, partial: bool) -> dict[str, torch.Tensor]:
    """Weights to restore the best validation step: only the trainable ones when the rest is frozen."""
    if not partial:
        return copy.deepcopy(model.state_dict())
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def train_model(
    model: CausalARModel,
    train_data: dict[str, torch.Tensor],
    val_data: dict[str, torch.Tensor] | None,
    args: EngineTrainingArguments,
    seed: int,
    save_fn: Any = None,
    resume_from: str | None = None,
    loss_groups: Any = None,
) -> dict[str, Any]:
    """Train ``model`` in place; returns a summary (steps, losses, best validation loss).

    Args:
        loss_groups: the tokenizer's ``loss_groups()``; used when ``args.constrained_loss``.
        save_fn: ``save_fn(directory)`` writes the engine (tokenizer + model) into a checkpoint.
        resume_from: a checkpoint directory written by this loop; optimisation resumes at its step.
    """
    torch.manual_seed(seed)
    accelerator = Accelerator(cpu=args.device == "cpu")
    n = train_data["input_ids"].size(0)
    total_steps = args.resolve_steps(n)
    # frozen weights (a LoRA backbone) get no optimiser state
    trainable = [p for p in model.parameters() if p.requires_grad]
    partial = len(trainable) < sum(1 for _ in model.parameters())
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=args.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(args.warmup_ratio * total_steps), total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    device = accelerator.device
    groups = None
    if args.constrained_loss and loss_groups is not None:
        groups = torch.as_tensor(loss_groups, dtype=torch.long, device=device)
    per_epoch = max(1, math.ceil(n / args.batch_size))
    eval_every = args.eval_every or per_epoch
    step, best_loss, best_state, history = 0, float("inf"), None, []
    if resume_from is not None:
        accelerator.load_state(resume_from)
        with open(os.path.join(resume_from, STATE_FILE), encoding="utf-8") as f:
            state = json.load(f)
        # the best in-memory weights of the interrupted run are gone: select among the resumed steps
        step, history = state["step"], state["history"]
        total_steps = state["total_steps"]
    model.train()
    bar = tqdm(total=total_steps, initial=step, desc="training", unit="step", disable=not args.progress)
    running = None
    while step < total_steps:
        epoch, skip = divmod(step, per_epoch)
        for idx in _batches(n, args.batch_size, seed, epoch)[skip:]:
            batch = compact_batch({k: v[idx].to(device) for k, v in train_data.items()})
            loss = model(**batch, loss_groups=groups).loss
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            value = float(loss.detach())
            running = value if running is None else 0.9 * running + 0.1 * value
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
            if val_data is not None and (step % eval_every == 0 or step == total_steps):
                val = _evaluate(model, val_data, args.batch_size, device, groups)
                history.append({"step": step, "train_loss": running, "val_loss": val})
                if val < best_loss:
                    best_loss = val
                    best_state = _snapshot(accelerator.unwrap_model(model), partial)
            if args.output_dir and args.save_steps and step % args.save_steps == 0 and step < total_steps:
                ckpt = os.path.join(args.output_dir, f"checkpoint-{step}")
                accelerator.save_state(ckpt, safe_serialization=True)
                if save_fn is not None:
                    save_fn(ckpt)
                with open(os.path.join(ckpt, STATE_FILE), "w", encoding="utf-8") as f:
                    json.dump({"step": step, "total_steps": total_steps, "best_val_loss": best_loss,
                               "history": history, "args": {k: v for k, v in asdict(args).items() if k != "history"}}, f)
            if step >= total_steps:
                break
    bar.close()
    model = accelerator.unwrap_model(model)
    if best_state is not None:
        model.load_state_dict(best_state, strict=not partial)
    model.eval()
    return {"steps": step, "best_val_loss": best_loss, "final_train_loss": running, "history": history}
