"""Training the engine: tokenizer and model from the data and :class:`EngineTrainingArguments`, then the shared loop.

:func:`build_tokenizer_and_model` fits the value codecs and builds (or loads and resizes) the decoder;
:func:`train_causal_model` tokenises the table once, holds out a validation split and runs
:class:`hf_causal.core.training.TrainingLoop` with the engine's batches (end-aligned, compacted) and loss
(constrained to each variable's value tokens). See docs/design.md §6.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.training import LoopArguments, TrainingLoop, epoch_batches
from .adapters import add_lora
from .configuration_causal_ar import CausalARConfig, load_backbone_config, sized_backbone
from .graph import CausalGraph
from .modeling_causal_ar import IGNORE_INDEX, CausalARModel
from .tokenization_causal import CausalSequenceTokenizer
from .tokenization_causal_backbone import BackboneCausalTokenizer, load_backbone_tokenizer
from .training_args import EngineTrainingArguments
from .value_embeddings import init_ordered_bin_embeddings

logger = logging.getLogger(__name__)


def check_context_variables(graph: CausalGraph, names: Sequence[str]) -> tuple[str, ...]:
    """The context variables as a tuple; each must be a root variable of ``graph``."""
    for name in names:
        if name not in graph:
            raise ValueError(f"context_variables: unknown variable {name!r}")
        if graph.ancestors(name):
            raise ValueError(f"context variable {name!r} has parents; only root variables can be context")
    return tuple(names)


def check_prefix_order(order: Sequence[str], names: Sequence[str]) -> None:
    """The bidirectional block must be the context variables ``names`` and come first in ``order``."""
    if set(order[: len(names)]) != set(names):
        raise ValueError(
            f"bidirectional_context needs the context variables {list(names)} first in the variable order "
            f"{list(order)}; a modelled variable before them would be seen by the text block"
        )
    if len(names) == len(order):
        raise ValueError("bidirectional_context: every variable is a context variable; nothing would be modelled")


def context_positions(tokenizer: CausalSequenceTokenizer, input_ids: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Boolean mask of the positions holding the value tokens of ``names`` (after their start token)."""
    ids = input_ids.numpy()
    owner = np.full(ids.shape, -1)
    for i, name in enumerate(tokenizer.order):
        owner[ids == tokenizer.start_ids[name]] = i
    cols = np.where(owner >= 0, np.arange(ids.shape[1]), 0)
    last_start = np.maximum.accumulate(cols, axis=1)
    current = np.take_along_axis(owner, last_start, axis=1)  # variable of the latest start token
    wanted = [tokenizer.order.index(n) for n in names]
    return torch.from_numpy(np.isin(current, wanted) & (owner < 0))


def prefix_block(tokenizer: CausalSequenceTokenizer, input_ids: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Boolean mask of each row's bidirectional prefix: ``<bos>`` and every token of the context variables
    ``names``, which must be the first variables of the order (so no modelled token sits inside the block)."""
    check_prefix_order(tokenizer.order, names)
    first_modelled = (input_ids == tokenizer.start_ids[tokenizer.order[len(names)]]).long()
    return first_modelled.cumsum(1) == 0


def check_positions(model: CausalARModel, tokenizer: CausalSequenceTokenizer) -> None:
    """A pretrained backbone's position table must cover the longest row."""
    cfg = model.backbone.config
    limit = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)
    need = tokenizer.max_sequence_length()
    if limit is not None and need > limit:
        raise ValueError(
            f"rows take up to {need} tokens but the backbone handles {limit} positions; lower max_text_length "
            "or the text variables' max_length"
        )


def _resolve_vocabulary(args: EngineTrainingArguments) -> tuple[str, Any]:
    """``("backbone", tokenizer)`` or ``("causal", None)`` for the backbone and ``vocabulary`` of ``args``."""
    vocabulary, backbone, backbone_tokenizer = args.vocabulary, args.backbone, args.backbone_tokenizer
    if not args.pretrained:
        if vocabulary == "backbone" or backbone_tokenizer is not None:
            raise ValueError("vocabulary='backbone' and backbone_tokenizer= need a pretrained backbone (name or path)")
        return "causal", None
    if vocabulary == "causal":
        return "causal", None
    if backbone_tokenizer is not None:
        if isinstance(backbone_tokenizer, (str, os.PathLike)):
            backbone_tokenizer = load_backbone_tokenizer(backbone_tokenizer)
        return "backbone", backbone_tokenizer
    try:
        return "backbone", load_backbone_tokenizer(backbone)
    except ValueError:
        if vocabulary == "backbone":
            raise
        logger.warning("backbone %s has no tokenizer: using a new causal vocabulary (vocabulary='causal')", backbone)
        return "causal", None


def build_tokenizer_and_model(
    data: pd.DataFrame, graph: CausalGraph, args: EngineTrainingArguments
) -> tuple[CausalSequenceTokenizer, CausalARModel]:
    """Fit the tokenizer's codecs on ``data`` and build the model (a fresh or pretrained backbone, LoRA if asked)."""
    if args.pretrained:  # a misspelt backbone is named before its tokenizer is looked for or any codec fitted
        load_backbone_config(str(args.backbone))
    mode, backbone_tokenizer = _resolve_vocabulary(args)
    codec_options = {"n_bins": args.resolved_bins(len(data)), "continuous_codec": args.continuous_codec}
    if mode == "backbone":
        tokenizer: CausalSequenceTokenizer = BackboneCausalTokenizer.from_data(
            data, graph, backbone_tokenizer=backbone_tokenizer, backbone_name_or_path=str(args.backbone),
            max_text_length=args.max_text_length, **codec_options,
        )
    else:
        # one-token variables only, no context block: rows without <start_VAR> tokens, half as long (§6.1)
        layout = args.layout if args.layout != "auto" or not args.context_variables else "marked"
        tokenizer = CausalSequenceTokenizer.from_data(data, graph, layout=layout, **codec_options)
    if isinstance(args.backbone, Mapping):
        backbone_config: dict[str, Any] | None = dict(args.backbone)
    elif args.backbone is None:  # from scratch, sized to the table
        backbone_config = sized_backbone(len(tokenizer.order), tokenizer.max_sequence_length())
    else:
        backbone_config = None
    config = CausalARConfig(
        backbone_config=backbone_config,
        backbone_name_or_path=str(args.backbone) if args.pretrained else None,
        vocab_size=len(tokenizer),
        max_positions=tokenizer.max_sequence_length(),
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bidirectional_context=args.bidirectional_context,
    )
    model = CausalARModel.from_backbone(config)
    if not args.pretrained and args.ordered_bins:  # a pretrained table already means something: keep it
        init_ordered_bin_embeddings(model, tokenizer, args.seed)
    check_positions(model, tokenizer)
    if args.lora is not None:
        model.backbone = add_lora(
            model.backbone, args.lora, tokenizer.new_token_ids(), getattr(model, "backbone_missing_keys", ())
        )
    return tokenizer, model


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


def training_inputs(
    tokenizer: CausalSequenceTokenizer, data: pd.DataFrame, args: EngineTrainingArguments, bidirectional: bool
) -> dict[str, torch.Tensor]:
    """The whole table tokenised once: ids, masks, labels (none on context variables), the prefix block."""
    inputs = tokenizer.build_inputs(data)
    if args.context_variables:
        inputs["labels"][context_positions(tokenizer, inputs["input_ids"], args.context_variables)] = IGNORE_INDEX
    if bidirectional:
        inputs["prefix_mask"] = prefix_block(tokenizer, inputs["input_ids"], args.context_variables)
    return inputs


@torch.no_grad()
def validation_loss(
    model: torch.nn.Module, data: dict[str, torch.Tensor], batch_size: int, device: torch.device,
    loss_groups: torch.Tensor | None,
) -> float:
    """Mean loss per value token over ``data`` (the model is in eval mode)."""
    total, count = 0.0, 0
    for idx in torch.arange(data["input_ids"].size(0)).split(4 * batch_size):
        batch = compact_batch({k: v[idx].to(device) for k, v in data.items()})
        tokens = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        total += float(model(**batch, loss_groups=loss_groups).loss) * tokens
        count += tokens
    return total / max(count, 1)


def train_causal_model(
    model: CausalARModel,
    tokenizer: CausalSequenceTokenizer,
    data: pd.DataFrame,
    args: EngineTrainingArguments,
    save_fn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train ``model`` in place on ``data``; returns the summary (steps, losses, best validation loss, history).

    Args:
        save_fn: ``save_fn(folder)`` writes a loadable engine into each checkpoint folder.
    """
    inputs = training_inputs(tokenizer, data, args, bool(model.config.bidirectional_context))
    n = len(data)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))
    n_val = int(round(args.val_fraction * n)) if n >= 20 else 0
    val = {k: v[perm[:n_val]] for k, v in inputs.items()} if n_val else None
    train_part = {k: v[perm[n_val:]] for k, v in inputs.items()}
    n_train = train_part["input_ids"].size(0)
    total_steps = args.resolve_steps(n_train)
    torch.manual_seed(args.seed)
    loop = TrainingLoop(
        model,
        LoopArguments(
            max_steps=total_steps,
            learning_rate=args.resolved_learning_rate(),
            weight_decay=args.weight_decay,
            warmup_steps=int(args.warmup_ratio * total_steps),
            warmup_from_zero=True,
            cpu=args.device == "cpu",
            eval_every=args.resolved_eval_every(n_train) if val is not None else None,
            select_best=False,  # the cooled-down weights: a noisy NLL minimum taken at the peak rate fits worse
            patience=args.patience if val is not None else None,
            schedule="plateau",
            min_improvement=args.min_improvement,
            monitor="val_nll",
            description="training (cools down when the held-out NLL stalls)" if args.patience and val is not None
            else "training",
            output_dir=None if args.output_dir is None else str(args.output_dir),
            save_every=args.save_steps,
            save_last=True,  # so that --resume after a finished run finds its last step, not an earlier one
            progress=args.progress,
        ),
    )
    if args.resume_from_checkpoint is not None:
        loop.resume(args.resume_from_checkpoint)
    groups = None
    if args.constrained_loss:
        groups = torch.as_tensor(tokenizer.loss_groups(), dtype=torch.long, device=loop.device)

    # a table without padding (one-token values, fixed-length sequences) is laid out once, as tensors on the
    # device; batches are then row slices of it (ragged rows are re-laid per batch, see compact_batch)
    laid_out = compact_batch(train_part) if bool(train_part["attention_mask"].all()) else None
    if laid_out is not None:
        keep = laid_out.pop("logits_to_keep")
        laid_out = {k: v.to(loop.device) for k, v in laid_out.items()}

    def batches(accelerator: Any, start: int):
        for idx in epoch_batches(n_train, args.batch_size, args.seed, start):
            if laid_out is not None:
                yield {**{k: v[idx.to(accelerator.device)] for k, v in laid_out.items()}, "logits_to_keep": keep}
            else:
                yield compact_batch({k: v[idx].to(accelerator.device) for k, v in train_part.items()})

    result = loop.run(
        batches,
        lambda m, batch: m(**batch, loss_groups=groups).loss,
        evaluate=lambda m: {"val_nll": validation_loss(m, val, args.batch_size, loop.device, groups)},
        save_fn=save_fn,
    )
    return {"steps": result.steps, "max_steps": total_steps, "stopped_early": result.stopped_early,
            "best_val_loss": result.best, "best_step": result.best_step, "final_train_loss": result.smoothed_loss,
            "history": result.history}
