"""Saving and loading engines: tokenizer, model (or LoRA adapter) and the engine's own settings.

A full model is written as ``config.json`` + ``model.safetensors``. With unmerged LoRA adapters only
``config.json`` (which names the backbone), ``adapter_config.json`` and ``adapter_model.safetensors`` (adapters,
new-token rows, newly initialised modules) are written, not the backbone's weights; loading rebuilds the
model from the backbone plus the adapter (adapter files take precedence over a ``model.safetensors`` in the
same folder, e.g. a training checkpoint's full state). A text-summary head (docs/design.md §6.9) lives outside
the backbone, so a LoRA engine stores it in its own ``text_summary_head.safetensors``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..hub.checkpoints import check_checkpoint_folder, read_json_file, resolve_checkpoint
from .adapters import is_peft_model
from .configuration_causal_ar import CausalARConfig
from .modeling_causal_ar import CausalARModel
from .tokenization_causal import CausalSequenceTokenizer

#: The engine's own settings (seed, batch size, context variables, training summary).
ENGINE_FILE = "engine_config.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
#: JSON files of an engine folder besides config.json, checked before anything loads.
ENGINE_JSON_FILES = ("tokenizer_config.json", ENGINE_FILE, ADAPTER_FILES[0])
#: A LoRA engine's text-summary head (a full model keeps it in ``model.safetensors``).
TEXT_HEAD_FILE = "text_summary_head.safetensors"


@dataclass
class EngineSettings:
    """What an engine folder stores besides its model and tokenizer."""

    seed: int = 0
    batch_size: int = 4096
    context_variables: tuple[str, ...] = ()
    training: dict[str, Any] = field(default_factory=dict)


def _find_file(path: str, filename: str) -> bool:
    """Whether ``filename`` exists in a local folder or a Hub repo ``path``."""
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, filename))
    from transformers.utils import cached_file

    try:
        return cached_file(path, filename, _raise_exceptions_for_missing_entries=False) is not None
    except (OSError, ValueError):
        return False


def save_engine(
    path: str | os.PathLike, model: CausalARModel, tokenizer: CausalSequenceTokenizer, settings: EngineSettings
) -> None:
    """Write tokenizer, model (or adapter) and settings into ``path`` (module docstring)."""
    path = str(path)
    os.makedirs(path, exist_ok=True)
    lora = is_peft_model(model.backbone)
    if lora:
        model.config.save_pretrained(path)
        had_readme = os.path.exists(os.path.join(path, "README.md"))
        # the new rows live in the adapter (trainable tokens): PEFT would otherwise store the whole resized
        # embedding matrix (28M parameters for SmolLM2), although its other rows are the backbone's own
        model.backbone.save_pretrained(path, save_embedding_layers=False)
        if getattr(model, "text_summary_head", None) is not None:
            from safetensors.torch import save_file

            state = {k: v.detach().cpu().contiguous() for k, v in model.text_summary_head.state_dict().items()}
            save_file(state, os.path.join(path, TEXT_HEAD_FILE))
        if not had_readme and os.path.exists(os.path.join(path, "README.md")):
            os.remove(os.path.join(path, "README.md"))  # PEFT's stub card names a local path
    else:
        model.save_pretrained(path)
        for name in ADAPTER_FILES:  # adapters of an earlier save would take precedence when loading
            if os.path.isfile(os.path.join(path, name)):
                os.remove(os.path.join(path, name))
    tokenizer.save_pretrained(path)
    with open(os.path.join(path, ENGINE_FILE), "w", encoding="utf-8") as f:
        json.dump({"seed": settings.seed, "batch_size": settings.batch_size, "adapter": lora,
                   "context_variables": list(settings.context_variables), "training": settings.training},
                  f, indent=2)


def load_engine(
    path: str | os.PathLike, *, trainable: bool = False, backbone: Any = None, **kwargs: Any
) -> tuple[CausalARModel, CausalSequenceTokenizer, EngineSettings]:
    """Model, tokenizer and settings of an engine folder (or Hub repo) written by :func:`save_engine`.

    Weights load from safetensors only. A missing folder, unreadable JSON, corrupt or pickled weights raise a
    one-line ``ValueError`` / ``FileNotFoundError`` naming the file (:mod:`hf_causal.hub.checkpoints`).

    Args:
        trainable: keep LoRA adapters trainable (resuming training).
        backbone: for a LoRA engine, where the pretrained backbone now lives (default: the recorded one).
        kwargs: passed to ``from_pretrained`` (``revision``, ``cache_dir`` ...).
    """
    path = resolve_checkpoint(str(path))  # a missing folder or an unknown Hub id fails here, in one line
    local = os.path.isdir(path)
    if local:  # unreadable JSON, corrupt or pickled weights: one line naming the file
        check_checkpoint_folder(path, json_files=ENGINE_JSON_FILES)
    try:
        tokenizer = CausalSequenceTokenizer.from_pretrained(path, **kwargs)
        if _find_file(path, ADAPTER_FILES[0]):
            if not _find_file(path, ADAPTER_FILES[1]):
                raise ValueError(f"{path} has {ADAPTER_FILES[0]} but no {ADAPTER_FILES[1]}; hf-causal loads "
                                 "safetensors only")
            from peft import PeftModel

            config = CausalARConfig.from_pretrained(path, **kwargs)
            if backbone is not None:
                config.backbone_name_or_path = str(backbone)
            if not config.backbone_name_or_path:
                raise ValueError(f"{path} holds LoRA adapters but its config names no backbone; pass backbone=")
            model = CausalARModel.from_backbone(config)
            model.backbone = PeftModel.from_pretrained(model.backbone, path, is_trainable=trainable)
            if model.text_summary_head is not None:
                _load_text_head(model, path, trainable, **kwargs)
        else:
            model = CausalARModel.from_pretrained(path, use_safetensors=True, **kwargs)
    except (ValueError, TypeError, KeyError, RuntimeError) as err:
        if not local or str(err).startswith(path):
            raise
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} does not load as a causal engine: {reason}") from err
    stored: dict[str, Any] = {}
    if local and os.path.isfile(os.path.join(path, ENGINE_FILE)):
        stored = read_json_file(os.path.join(path, ENGINE_FILE))
    settings = EngineSettings(
        seed=stored.get("seed", 0),
        batch_size=stored.get("batch_size", 4096),
        context_variables=tuple(stored.get("context_variables", ())),
        training=stored.get("training") or {},
    )
    return model, tokenizer, settings


def _load_text_head(model: CausalARModel, path: str, trainable: bool, **kwargs: Any) -> None:
    """Load a LoRA engine's text-summary head; its config names one, so a missing file is an error."""
    from safetensors.torch import load_file

    local = os.path.join(path, TEXT_HEAD_FILE)
    if not os.path.isfile(local):
        from transformers.utils import cached_file

        local = cached_file(path, TEXT_HEAD_FILE, _raise_exceptions_for_missing_entries=False, **kwargs)
    if local is None:
        raise ValueError(f"{path}: the config has a text-summary head but {TEXT_HEAD_FILE} is missing")
    model.text_summary_head.load_state_dict(load_file(local))
    model.text_summary_head.requires_grad_(trainable)
