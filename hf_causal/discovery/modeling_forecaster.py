"""A small decoder-only (causal-masked) transformer forecaster for multivariate time series.

One token per time step: the ``n_vars`` vector is embedded linearly and a learned positional
embedding is added (time order matters for lagged effects). Pre-norm transformer blocks with a
causal mask follow; a linear head maps position ``p`` to a forecast of ``x_{p+1}``.

The blocks support an ``lrp`` switch that turns the ordinary backward pass into layer-wise relevance
propagation in the sense of Ali et al. (2022) and Achtibat et al. (2024, AttnLRP): the attention
probabilities and the layer-norm scale are treated as constants and element-wise activations follow
the identity rule, so that *gradient x input* of the modified graph is an LRP relevance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_forecaster import ForecasterConfig

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations are never evaluated here (3.10 is supported)


@dataclass
class ForecasterOutput(ModelOutput):
    """Output of :class:`CausalForecasterModel`.

    Args:
        loss: mean squared one-step-ahead error (only when ``labels`` are given).
        predictions: ``(batch, window, n_vars)``; position ``p`` forecasts the input at ``p + 1``.
        last_hidden_state: ``(batch, window, hidden_size)`` after the final layer norm.
    """

    loss: torch.Tensor | None = None
    predictions: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None


def _layer_norm(module: nn.LayerNorm, x: torch.Tensor, lrp: bool) -> torch.Tensor:
    if not lrp:
        return module(x)
    centred = x - x.mean(dim=-1, keepdim=True)
    scale = torch.sqrt(centred.pow(2).mean(dim=-1, keepdim=True) + module.eps).detach()
    return centred / scale * module.weight + module.bias


def _identity_rule(act: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    """``act`` with the gradient of ``pre * (act / pre)`` (ratio detached): LRP identity rule."""
    safe = torch.where(pre.abs() < 1e-6, torch.full_like(pre, 1e-6), pre)
    return pre * (act / safe).detach()


class ForecasterAttention(nn.Module):
    """Multi-head causal self-attention with an explicit softmax (its weights can be detached)."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.hidden_size // config.num_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, lrp: bool = False) -> torch.Tensor:
        batch, length, width = hidden.shape
        q, k, v = self.qkv(hidden).split(width, dim=-1)
        q, k, v = (t.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        mask = torch.ones(length, length, dtype=torch.bool, device=hidden.device).tril()
        probs = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        if lrp:
            probs = probs.detach()
        out = self.dropout(probs) @ v
        out = out.transpose(1, 2).reshape(batch, length, width)
        return self.out_proj(out)


class ForecasterBlock(nn.Module):
    """Pre-norm transformer block: causal attention then a GELU feed-forward network."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attn = ForecasterAttention(config)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.fc_in = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc_out = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, lrp: bool = False) -> torch.Tensor:
        hidden = hidden + self.dropout(self.attn(_layer_norm(self.norm1, hidden, lrp), lrp=lrp))
        pre = self.fc_in(_layer_norm(self.norm2, hidden, lrp))
        act = F.gelu(pre)
        if lrp:
            act = _identity_rule(act, pre)
        return hidden + self.dropout(self.fc_out(act))


class CausalForecasterPreTrainedModel(PreTrainedModel):
    """Weight initialisation and Hugging Face plumbing shared by the forecaster classes."""

    config_class = ForecasterConfig
    config: ForecasterConfig
    base_model_prefix = "forecaster"
    main_input_name = "past_values"
    _no_split_modules = ["ForecasterBlock"]
    supports_gradient_checkpointing = False
    _supports_sdpa = False

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> Self:
        """``PreTrainedModel.from_pretrained`` from safetensors only (pickled weights could run code when loaded)."""
        kwargs.setdefault("use_safetensors", True)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class CausalForecasterModel(CausalForecasterPreTrainedModel):
    """Decoder-only transformer forecasting ``x_{t+1}`` from ``x_{t-W+1..t}`` at every position.

    Example:
        >>> cfg = ForecasterConfig(n_vars=3, context_length=4)
        >>> model = CausalForecasterModel(cfg)
        >>> out = model(torch.randn(2, 4, 3))
        >>> tuple(out.predictions.shape)
        (2, 4, 3)
    """

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__(config)
        self.input_proj = nn.Linear(config.n_vars, config.hidden_size)
        self.position_embedding = nn.Embedding(config.context_length, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([ForecasterBlock(config) for _ in range(config.num_layers)])
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.head = nn.Linear(config.hidden_size, config.n_vars)
        self.post_init()

    def forward(
        self,
        past_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        lrp: bool = False,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ForecasterOutput | tuple:
        """Forecast one step ahead at every position of the window.

        Args:
            past_values: ``(batch, window, n_vars)`` standardised series, ``window <= context_length``.
            labels: optional ``(batch, window, n_vars)`` targets (the window shifted by one step);
                the loss is their mean squared error.
            lrp: treat softmax, layer-norm scale and activations as in LRP (for attribution only).
            return_dict: return a tuple when False.
        """
        if past_values.dim() != 3 or past_values.shape[-1] != self.config.n_vars:
            raise ValueError(
                f"past_values must have shape (batch, window, {self.config.n_vars}), "
                f"got {tuple(past_values.shape)}"
            )
        window = past_values.shape[1]
        if window > self.config.context_length:
            raise ValueError(f"window {window} exceeds context_length {self.config.context_length}")
        positions = torch.arange(window, device=past_values.device)
        hidden = self.input_proj(past_values) + self.position_embedding(positions)
        hidden = self.dropout(hidden)
        for block in self.blocks:
            hidden = block(hidden, lrp=lrp)
        hidden = _layer_norm(self.final_norm, hidden, lrp)
        predictions = self.head(hidden)
        loss = None
        if labels is not None:
            if labels.shape != predictions.shape:
                raise ValueError(
                    f"labels shape {tuple(labels.shape)} != predictions {tuple(predictions.shape)}"
                )
            loss = F.mse_loss(predictions, labels)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if not return_dict:
            return tuple(v for v in (loss, predictions, hidden) if v is not None)
        return ForecasterOutput(loss=loss, predictions=predictions, last_hidden_state=hidden)
