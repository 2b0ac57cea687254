"""``CausalARModel``: a decoder language model over causal token sequences."""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    GenerationMixin,
    PreTrainedModel,
)
from transformers.modeling_outputs import CausalLMOutputWithPast

from .configuration_causal_ar import CausalARConfig

IGNORE_INDEX = -100


class CausalARModel(PreTrainedModel, GenerationMixin):
    """Wraps any ``AutoModelForCausalLM`` backbone (GPT-2 from scratch by default).

    The loss is next-token cross-entropy restricted to value tokens: the tokenizer sets the labels
    of ``<bos>``, ``<start_VAR>`` and padding positions to ``-100``, so the model is never trained
    to predict the (deterministic) structure tokens and the loss is ``-log p(row) / n_value_tokens``.
    """

    config_class = CausalARConfig
    config: CausalARConfig
    base_model_prefix = "causal_ar"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules: list[str] = []

    def __init__(self, config: CausalARConfig, backbone: PreTrainedModel | None = None) -> None:
        super().__init__(config)
        if backbone is None:
            backbone = AutoModelForCausalLM.from_config(config.build_backbone_config())
        self.backbone = backbone
        self.post_init()

    @classmethod
    def from_backbone(cls, config: CausalARConfig) -> CausalARModel:
        """Build the model; initialise from ``config.backbone_name_or_path`` when set."""
        if not config.backbone_name_or_path:
            return cls(config)
        backbone = AutoModelForCausalLM.from_pretrained(config.backbone_name_or_path)
        backbone.resize_token_embeddings(config.vocab_size)
        config.backbone_config = backbone.config.to_dict()
        config.backbone_config["model_type"] = backbone.config.model_type
        return cls(config, backbone=backbone)

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value: torch.nn.Module) -> None:
        self.backbone.set_input_embeddings(value)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Any = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """Next-token logits; ``loss`` when ``labels`` are given (``-100`` entries ignored)."""
        out = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **kwargs,
        )
        loss = None
        if labels is not None:
            logits = out.logits[:, :-1].float()
            target = labels[:, 1:].to(logits.device)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=IGNORE_INDEX
            )
        return CausalLMOutputWithPast(loss=loss, logits=out.logits, past_key_values=out.past_key_values)


AutoConfig.register("causal_ar", CausalARConfig, exist_ok=True)
AutoModel.register(CausalARConfig, CausalARModel, exist_ok=True)
AutoModelForCausalLM.register(CausalARConfig, CausalARModel, exist_ok=True)

__all__ = ["CausalARModel"]
