"""LoRA (PEFT) on the engine's pretrained backbone, with the new tokens' embeddings trained too.

What is trained and saved in LoRA mode, besides the adapters on ``target_modules`` (all linear layers by
default, the output layer excluded):

* the embedding rows of the tokens the backbone does not know (``<start_VAR>``, value tokens, end and
  structure tokens) through PEFT's ``trainable_token_indices``: only those rows are trainable and saved
  (tens of KB), not the whole matrix as ``modules_to_save=[embed_tokens, lm_head]`` would (2 x 28M
  parameters for SmolLM2; ``CausalEngine.save_pretrained`` also passes ``save_embedding_layers=False``, as
  PEFT would otherwise store the resized matrix). With tied embeddings (GPT-2, SmolLM2) PEFT ties the LM-head
  rows to them; an untied LM head (``tie_word_embeddings=False``) gets its own trainable rows.
* modules the pretrained checkpoint lacks (e.g. the LM-head transform of a BERT encoder used as a decoder)
  through ``modules_to_save``: they are randomly initialised at every load, so the adapter must carry them.

Adapters therefore reload exactly on top of a freshly loaded and resized backbone (whose new rows are
random): PEFT *replaces* the selected rows rather than adding deltas to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "DEFAULT_LORA", "add_lora", "is_peft_model", "lora_config", "merged_backbone", "modules_to_save_for",
    "trainable_token_targets",
]

#: LoRA settings used for ``lora=True``.
DEFAULT_LORA: dict[str, Any] = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear"}


def _has_conv1d(module: nn.Module) -> bool:
    from transformers.pytorch_utils import Conv1D

    return any(isinstance(m, Conv1D) for m in module.modules())


def is_peft_model(module: nn.Module) -> bool:
    """Whether ``module`` is a ``peft.PeftModel`` (without importing peft when it is not installed)."""
    return any(c.__name__ == "PeftModel" and c.__module__.startswith("peft") for c in type(module).__mro__)


def _module_name(model: nn.Module, target: nn.Module) -> str:
    return next(n for n, m in model.named_modules() if m is target)


def trainable_token_targets(backbone: nn.Module, token_ids: Sequence[int]) -> list[int] | dict[str, list[int]]:
    """``trainable_token_indices`` for ``backbone``: a list when the LM head is tied to the input embeddings
    (PEFT ties its rows), else ``{input embeddings: ids, LM head: ids}``."""
    ids = sorted({int(i) for i in token_ids})
    emb, head = backbone.get_input_embeddings(), backbone.get_output_embeddings()
    if head is None or head.weight is emb.weight:
        return ids
    return {_module_name(backbone, emb): ids, _module_name(backbone, head): ids}


def modules_to_save_for(backbone: nn.Module, missing_keys: Sequence[str]) -> list[str]:
    """Smallest modules made only of parameters the checkpoint lacked (newly initialised), excluding the
    embeddings and LM head (whose new rows are covered by ``trainable_token_indices``)."""
    params = dict(backbone.named_parameters(remove_duplicate=False))
    missing = set(missing_keys) & set(params)
    chosen: set[str] = set()
    for key in sorted(missing):
        parts = key.split(".")[:-1]
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            under = [p for p in params if p.startswith(prefix + ".")]
            if under and all(p in missing for p in under):
                chosen.add(prefix)
                break
    # a parameter that only lives next to the LM head (e.g. BERT's zero-initialised output bias) is left alone
    return sorted(c for c in chosen if not any(c != o and c.startswith(o + ".") for o in chosen))


def lora_config(
    lora: Any, backbone: nn.Module, new_token_ids: Sequence[int], missing_keys: Sequence[str] = ()
) -> Any:
    """A ``peft.LoraConfig`` for the engine's backbone.

    Args:
        lora: ``True`` (:data:`DEFAULT_LORA`), a dict of ``LoraConfig`` arguments (merged over the defaults), or
            a ``LoraConfig``. ``trainable_token_indices`` and ``modules_to_save`` are filled in when unset.
        backbone: the (resized) backbone.
        new_token_ids: ids whose embedding rows are new.
        missing_keys: parameters the pretrained checkpoint lacked.
    """
    try:
        from peft import LoraConfig
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("LoRA needs the 'peft' package: pip install peft  (or pip install 'hf-causal[text]')") from err
    if lora is True or isinstance(lora, Mapping):
        kwargs = {**DEFAULT_LORA, **(dict(lora) if isinstance(lora, Mapping) else {})}
        if "fan_in_fan_out" not in kwargs and _has_conv1d(backbone):
            kwargs["fan_in_fan_out"] = True  # GPT-2's Conv1D stores weights transposed
        config = LoraConfig(**kwargs)
    elif isinstance(lora, LoraConfig):
        config = lora
    else:
        raise TypeError(f"lora must be True, a dict of LoraConfig arguments or a peft.LoraConfig, got {lora!r}")
    if config.trainable_token_indices is None and len(new_token_ids):
        config.trainable_token_indices = trainable_token_targets(backbone, new_token_ids)
    if config.modules_to_save is None:
        config.modules_to_save = modules_to_save_for(backbone, missing_keys) or None
    return config


def add_lora(backbone: nn.Module, lora: Any, new_token_ids: Sequence[int], missing_keys: Sequence[str] = ()) -> Any:
    """Wrap ``backbone`` in a ``peft.PeftModel``; only adapters, new-token rows and ``modules_to_save`` train."""
    from peft import get_peft_model

    if is_peft_model(backbone):
        raise ValueError("the backbone already carries adapters")
    return get_peft_model(backbone, lora_config(lora, backbone, new_token_ids, missing_keys))


@torch.no_grad()
def merged_backbone(backbone: Any) -> nn.Module:
    """The plain backbone with adapters and new-token rows written into its weights."""
    if not is_peft_model(backbone):
        raise ValueError("the backbone has no adapters to merge")
    return backbone.merge_and_unload()
