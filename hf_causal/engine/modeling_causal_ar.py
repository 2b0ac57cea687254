"""``CausalARModel``: a decoder language model over causal token sequences."""

from __future__ import annotations

import functools
import inspect
import warnings
import weakref
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from transformers import AutoModelForCausalLM, GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils import logging as hf_logging

from .configuration_causal_ar import CausalARConfig, load_backbone_config, resolve_backbone_name

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations are never evaluated here (3.10 is supported)

IGNORE_INDEX = -100
#: Parameter names of a backbone's LM head (BERT's ``cls.predictions``, a decoder's ``lm_head``): an encoder checkpoint
#: lacks them, and they are expected to start new.
LM_HEAD_PREFIXES = ("cls.", "lm_head.")
#: Backbone classes whose logits are ``lm_head(last hidden state)`` (see :meth:`CausalARModel.has_linear_head`).
LINEAR_HEAD_BACKBONES = frozenset({"GPT2LMHeadModel", "LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"})
#: The output field holding the KV cache: ``cache`` in recent transformers, ``past_key_values`` before.
CACHE_FIELD = "cache" if "cache" in getattr(CausalLMOutputWithPast, "__dataclass_fields__", {}) else "past_key_values"


@functools.cache
def _cache_keyword_of(model_class: type) -> str:
    parameters = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def cache_keyword(backbone: torch.nn.Module) -> str:
    """The keyword under which ``backbone.forward`` takes the KV cache.

    Recent transformers renamed ``past_key_values`` to ``cache`` and warn (a ``FutureWarning``) on every call
    that uses the old name, which during sampling is every forward pass; older versions know only the old name.
    A PEFT wrapper passes keywords through to the model it wraps, whose signature decides.
    """
    base = backbone.get_base_model() if hasattr(backbone, "get_base_model") else backbone
    return _cache_keyword_of(type(base))


def output_cache(output: Any) -> Any:
    """The KV cache of a model output, read from whichever field this transformers version has (no warning)."""
    fields = getattr(output, "__dataclass_fields__", {})
    return getattr(output, "cache" if "cache" in fields else "past_key_values", None)


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
        self.text_summary_head: TextSummaryHead | None = None
        if getattr(config, "text_summary_size", 0):
            self.text_summary_head = TextSummaryHead(
                backbone.config.hidden_size, config.text_summary_size, config.vocab_size - config.text_token_limit
            )
        # running text sums of each KV cache a sampler carries from chunk to chunk (see _add_text_summary)
        self._summary_states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.post_init()
        if self.text_summary_head is not None:
            self.text_summary_head.reset_output()  # starts as the plain model, whatever post_init drew

    def add_text_summary_head(self, text_token_limit: int, size: int = 128) -> TextSummaryHead:
        """Add a zero-initialised :class:`TextSummaryHead` (docs/design.md §6.9) and record it in the config.

        Args:
            text_token_limit: ids below it are text tokens (``BackboneCausalTokenizer.backbone_vocab_size``).
            size: width of the head's hidden layer.

        The head is outside the backbone, so it trains whatever the backbone's LoRA adapters freeze; it starts
        at zero, so the model's predictions are unchanged until it is trained.
        """
        if not 0 < int(text_token_limit) < self.config.vocab_size:
            raise ValueError(f"text_token_limit must be in (0, {self.config.vocab_size}), got {text_token_limit}")
        if isinstance(size, bool) or int(size) <= 0:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.config.text_token_limit = int(text_token_limit)
        self.config.text_summary_size = int(size)
        weight = self.get_input_embeddings().weight
        head = TextSummaryHead(self.backbone.config.hidden_size, int(size), self.config.vocab_size - int(text_token_limit))
        self.text_summary_head = head.to(device=weight.device, dtype=weight.dtype)
        return self.text_summary_head

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any) -> Self:
        """``PreTrainedModel.from_pretrained`` from safetensors only (pickled weights could run code when loaded)."""
        kwargs.setdefault("use_safetensors", True)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    @classmethod
    def from_backbone(cls, config: CausalARConfig) -> CausalARModel:
        """Build the model; initialise from ``config.backbone_name_or_path`` when set.

        The name may be an alias of :func:`hf_causal.backbones.resolve_backbone` (``"smollm2"``,
        ``"minilm"``), a local folder or a Hub id. The weights load in float32 and the embeddings (and LM head)
        are resized to ``config.vocab_size``. A BERT-style encoder becomes a decoder (``is_decoder=True``,
        causal attention; ``AutoModelForCausalLM`` gives e.g. ``BertLMHeadModel``). Parameters the checkpoint
        lacks (such an encoder's LM-head transform) are newly initialised; their names are kept in
        ``model.backbone_missing_keys`` so that LoRA can train and save them.
        """
        if not config.backbone_name_or_path:
            return cls(config)
        path = resolve_backbone_name(config.backbone_name_or_path)
        extra: dict[str, Any] = {}
        if getattr(load_backbone_config(config.backbone_name_or_path), "is_decoder", None) is False:
            extra["is_decoder"] = True  # encoder-only architectures (BERT...) run as causal decoders
        # transformers reports an encoder's absent LM head as a "corrupted checkpoint" load report; that head is
        # expected to be new here (it is trained, and kept in backbone_missing_keys), so only the rest is reported
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            backbone, info = AutoModelForCausalLM.from_pretrained(  # safetensors only: never unpickle weights
                path, dtype=torch.float32, output_loading_info=True, use_safetensors=True, **extra
            )
        except ValueError as err:
            raise ValueError(
                f"backbone {config.backbone_name_or_path!r} has no causal-LM head class in transformers "
                f"(AutoModelForCausalLM): {err}"
            ) from err
        finally:
            hf_logging.set_verbosity(verbosity)
        unexpected = [k for k in info.get("missing_keys", []) if not k.startswith(LM_HEAD_PREFIXES)]
        if unexpected:
            warnings.warn(f"backbone {config.backbone_name_or_path!r}: {len(unexpected)} weights missing from the "
                          f"checkpoint beyond its LM head were newly initialised: {unexpected[:5]}", UserWarning,
                          stacklevel=2)
        old_size = backbone.get_input_embeddings().weight.shape[0]
        backbone.resize_token_embeddings(config.vocab_size, mean_resizing=False)  # new rows are redrawn below
        _spread_new_rows(backbone, old_size)
        config.backbone_config = backbone.config.to_dict()
        config.backbone_config["model_type"] = backbone.config.model_type
        model = cls(config, backbone=backbone)
        model.backbone_missing_keys = sorted(info.get("missing_keys", []))
        return model

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
        loss_groups: torch.Tensor | None = None,
        prefix_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """Next-token logits; ``loss`` when ``labels`` are given (``-100`` entries ignored).

        ``past_key_values`` (or ``cache``, its newer name) is the KV cache; it reaches the backbone under the name
        its transformers version expects (:func:`cache_keyword`), and comes back in the output's cache field.

        ``loss_groups`` (``(vocab,)`` long, from the tokenizer's ``loss_groups()``) restricts each label's
        softmax to the tokens of its own group (a variable's value tokens), the same constraint the sampler
        applies; labels in group -1 keep the full softmax. The loss is then the likelihood of the
        constrained model, and no training goes into pushing down tokens the sampler never allows. When the
        backbone's logits are a plain linear head (:meth:`has_linear_head`), only those groups' logits are
        computed (:func:`grouped_cross_entropy`) and the output's ``logits`` is ``None``.

        ``prefix_mask`` (``(batch, new tokens)`` bool) marks a prefix block whose tokens attend to each other in
        both directions (a prefix LM, see :func:`prefix_lm_attention_mask`); every other token stays causal.

        With a :class:`TextSummaryHead` the causal tokens' logits also get the head's reading of the mean last
        hidden state over the text tokens seen so far (docs/design.md §6.9).
        """
        if past_key_values is None:
            past_key_values = kwargs.pop("cache", None)
        kwargs.pop("cache", None)
        text_mask = None
        past = 0
        if past_key_values is not None and (prefix_mask is not None or self.text_summary_head is not None):
            past = int(past_key_values.get_seq_length())  # before the backbone appends this chunk
        if self.text_summary_head is not None:
            text_mask = input_ids < self.config.text_token_limit
            if attention_mask is not None and attention_mask.dim() == 2:  # padding is never text
                text_mask &= attention_mask[:, -input_ids.size(1) :].bool()
            kwargs["output_hidden_states"] = True
        if prefix_mask is not None and bool(prefix_mask.any()):
            attention_mask = prefix_lm_attention_mask(
                attention_mask, prefix_mask, past, self.get_input_embeddings().weight.dtype
            )
        if labels is not None and loss_groups is not None and self.has_linear_head():
            return self._grouped_loss_forward(
                input_ids, attention_mask, position_ids, past_key_values, labels, use_cache, logits_to_keep,
                loss_groups, **kwargs,
            )
        out = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **{cache_keyword(self.backbone): past_key_values},
            **kwargs,
        )
        logits_all = out.logits
        if text_mask is not None:
            logits_all = self._add_text_summary(logits_all, out.hidden_states[-1], text_mask, past_key_values, past)
        loss = None
        if labels is not None:
            # with logits_to_keep = k only the last k columns have logits; each predicts the next column's label
            logits = logits_all[:, :-1].float()
            target = labels[:, labels.size(1) - logits_all.size(1) + 1 :].to(logits.device)
            logits, target = logits.reshape(-1, logits.size(-1)), target.reshape(-1)
            if loss_groups is not None:
                logits = restrict_to_groups(logits, target, loss_groups.to(logits.device))
            loss = torch.nn.functional.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
        return CausalLMOutputWithPast(loss=loss, logits=logits_all, **{CACHE_FIELD: output_cache(out)})

    def has_linear_head(self) -> bool:
        """Whether the logits are ``lm_head(last hidden state)`` and nothing else, so that the logits of a few
        tokens can be computed from the hidden state alone (:meth:`hidden_states`, :meth:`token_logits`).

        True for the from-scratch GPT-2 and the plain Llama-style decoders; false with a text summary head
        (it adds to the logits), a PEFT wrapper, or an architecture that scales or caps its logits.
        """
        return (
            self.text_summary_head is None
            and type(self.backbone).__name__ in LINEAR_HEAD_BACKBONES
            and isinstance(self.backbone.get_output_embeddings(), nn.Linear)
            and getattr(self.backbone.config, "final_logit_softcapping", None) is None
        )

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Any = None,
        use_cache: bool | None = None,
        prefix_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, Any]:
        """The backbone's last hidden states ``(batch, new tokens, hidden)`` and its KV cache, without the LM
        head (only when :meth:`has_linear_head`). Arguments as in :meth:`forward`."""
        if prefix_mask is not None and bool(prefix_mask.any()):
            past = int(past_key_values.get_seq_length()) if past_key_values is not None else 0
            attention_mask = prefix_lm_attention_mask(
                attention_mask, prefix_mask, past, self.get_input_embeddings().weight.dtype
            )
        base = self.backbone.base_model
        out = base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=use_cache,
            **{cache_keyword(base): past_key_values},
            **kwargs,
        )
        return out.last_hidden_state, output_cache(out)

    def token_logits(self, hidden: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
        """Logits of ``token_ids`` only, ``(..., len(token_ids))``, from last hidden states ``(..., hidden)``:
        the columns the full LM head would give for those ids (only when :meth:`has_linear_head`)."""
        head = self.backbone.get_output_embeddings()
        bias = None if head.bias is None else head.bias[token_ids]
        return torch.nn.functional.linear(hidden, head.weight[token_ids], bias)

    def _grouped_loss_forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        past_key_values: Any,
        labels: torch.Tensor,
        use_cache: bool | None,
        logits_to_keep: int,
        loss_groups: torch.Tensor,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """:meth:`forward` with ``labels`` and ``loss_groups`` on a linear head: the same loss from the logits of
        each label's own group (the prefix mask, if any, is already in ``attention_mask``)."""
        hidden, cache = self.hidden_states(
            input_ids, attention_mask, position_ids, past_key_values, use_cache=use_cache, **kwargs
        )
        if logits_to_keep:  # the columns forward() would have logits for
            hidden = hidden[:, -int(logits_to_keep) :]
        target = labels[:, labels.size(1) - hidden.size(1) + 1 :].to(hidden.device)
        head = self.backbone.get_output_embeddings()
        loss = grouped_cross_entropy(
            hidden[:, :-1].reshape(-1, hidden.size(-1)), target.reshape(-1), head.weight, head.bias,
            loss_groups.to(hidden.device),
        )
        return CausalLMOutputWithPast(loss=loss, logits=None, **{CACHE_FIELD: cache})

    def _add_text_summary(
        self, logits: torch.Tensor, hidden: torch.Tensor, text_mask: torch.Tensor, cache: Any, past: int
    ) -> torch.Tensor:
        """``logits`` plus the summary head's output on the causal tokens' columns.

        The summary at each position is the mean last hidden state over the text tokens up to it (a running
        mean, so the model stays causal). A sampler feeds a row in chunks over one KV cache; the running sums
        of earlier chunks are kept per cache object, so a later chunk continues them exactly.
        """
        weight = text_mask.unsqueeze(-1).to(hidden.dtype)
        sums, counts = (hidden * weight).cumsum(1), weight.cumsum(1)
        if past > 0:
            state = self._summary_states.get(cache)
            if state is None:
                raise RuntimeError("the text summary of this cache's earlier tokens is unknown; feed its first chunk here")
            sums, counts = sums + state[0][:, None], counts + state[1][:, None]
        if cache is not None:
            self._summary_states[cache] = (sums[:, -1].detach(), counts[:, -1].detach())
        k = logits.size(1)
        pooled = sums[:, -k:] / counts[:, -k:].clamp(min=1.0)
        bias = self.text_summary_head(pooled).to(logits.dtype)
        limit = self.config.text_token_limit
        return torch.cat([logits[..., :limit], logits[..., limit : limit + bias.size(-1)] + bias,
                          logits[..., limit + bias.size(-1) :]], dim=-1)


class TextSummaryHead(nn.Module):
    """Reads a pooled text summary into the logits of the causal tokens (docs/design.md §6.9).

    A decoder that meets the text as a context prefix must carry what the text says to the positions of the
    modelled variables through attention alone, which a short LoRA run learns slowly. This head gives those
    positions the masked mean of the last hidden states over the text (what sentence encoders such as MiniLM
    were trained to make informative), through ``Linear -> GELU -> Linear``, as an additive bias on the logits
    of every token after the backbone vocabulary (start, value and end tokens). The output layer starts at
    zero, so an untrained head leaves the model unchanged.

    Args:
        hidden_size: the backbone's hidden size.
        inner_size: width of the hidden layer.
        n_outputs: number of causal tokens (``vocab_size - text_token_limit``).
    """

    def __init__(self, hidden_size: int, inner_size: int, n_outputs: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, inner_size)
        self.act = nn.GELU()
        self.out = nn.Linear(inner_size, n_outputs)
        self.reset_output()

    @torch.no_grad()
    def reset_output(self) -> None:
        """Zero the output layer: the head adds nothing until trained."""
        self.out.weight.zero_()
        self.out.bias.zero_()

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(batch, positions, hidden) -> (batch, positions, n_outputs)`` logit biases."""
        return self.out(self.act(self.dense(pooled)))


def prefix_lm_attention_mask(
    attention_mask: torch.Tensor | None, prefix_mask: torch.Tensor, past_length: int, dtype: torch.dtype
) -> torch.Tensor:
    """A 4D additive mask ``(batch, 1, new, past + new)``: causal, except that the new tokens marked in
    ``prefix_mask`` attend to each other in both directions.

    Why: a BERT-style encoder was pretrained with bidirectional attention; run causally over a text confounder it
    sees each token only through the ones before it. Letting the text block (which precedes every modelled variable) see itself in
    both directions keeps the encoder's features, and nothing downstream can leak into it because no modelled
    token sits inside the block. ``attention_mask`` (``(batch, past + new)``, 1 = real token) masks padding keys;
    each token always sees itself, so padding rows stay finite. transformers passes a prepared 4D mask through.
    """
    batch, new = prefix_mask.shape
    device = prefix_mask.device
    query = torch.arange(new, device=device)[:, None] + past_length
    key = torch.arange(past_length + new, device=device)[None, :]
    allowed = (key <= query).unsqueeze(0).expand(batch, -1, -1).clone()
    block = prefix_mask.bool()
    allowed[:, :, past_length:] |= block[:, :, None] & block[:, None, :]
    if attention_mask is not None:
        allowed &= attention_mask.bool()[:, None, :]
    allowed |= key == query  # each token sees itself
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def restrict_to_groups(logits: torch.Tensor, target: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """``logits`` ``(rows, vocab)`` with tokens outside each row's target group set to ``-inf``.

    ``groups`` gives each vocabulary id a group (-1: none); rows whose target is ignored or in group -1 are
    unchanged. Ids beyond ``len(groups)`` (a padded embedding matrix) are in no group.
    """
    vocab = logits.size(-1)
    if groups.numel() < vocab:
        groups = torch.cat([groups, groups.new_full((vocab - groups.numel(),), -1)])
    groups = groups[:vocab]
    valid_target = (target >= 0) & (target < vocab)
    row_group = torch.where(valid_target, groups[target.clamp(0, vocab - 1)], torch.full_like(target, -1))
    outside = (groups.unsqueeze(0) != row_group.unsqueeze(1)) & (row_group >= 0).unsqueeze(1)
    return logits.masked_fill(outside, float("-inf"))


def grouped_cross_entropy(
    hidden: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    groups: torch.Tensor,
) -> torch.Tensor:
    """Mean cross-entropy of ``target`` ``(rows,)`` under ``hidden @ weight.T + bias``, each row's softmax
    restricted to its target's group: ``cross_entropy(restrict_to_groups(logits, target, groups), target)``
    (``-100`` targets ignored; targets in group -1 keep the whole vocabulary), without the full logits.

    Why: the constrained loss needs, per labelled position, only the logits of its variable's value tokens.
    A full-vocabulary head computes ``vocab`` logits per position and then masks almost all of them out; here
    the rows are sorted by group and each group's rows meet only that group's rows of ``weight`` (for a table
    of many variables, the head's cost drops by about the number of variables).
    """
    # half-precision activations get a float32 softmax, as forward() gives the full logits
    dtype = torch.float32 if hidden.dtype in (torch.float16, torch.bfloat16) else hidden.dtype
    hidden, target = hidden.to(dtype), target.to(hidden.device)
    vocab = weight.size(0)
    if groups.numel() < vocab:
        groups = torch.cat([groups, groups.new_full((vocab - groups.numel(),), -1)])
    groups = groups[:vocab].to(hidden.device)
    keep = (target >= 0) & (target < vocab)
    count = int(keep.sum())
    if count == 0:  # as cross_entropy with every target ignored
        return hidden.sum() * float("nan")
    rows = keep.nonzero().squeeze(1)
    row_group = groups[target[rows]]
    free = row_group < 0
    total = hidden.new_zeros(())
    if bool(free.any()):  # labels outside every group: the whole vocabulary
        logits = torch.nn.functional.linear(hidden[rows[free]], weight.to(dtype), None if bias is None else bias.to(dtype))
        total = total + torch.nn.functional.cross_entropy(logits, target[rows[free]], reduction="sum")
        rows, row_group = rows[~free], row_group[~free]
    if rows.numel():
        # vocabulary and rows both sorted by group: every group is then one slice of each (torch.split, whose
        # backward is one concatenation rather than a zero-filled full-size gradient per slice)
        by_group = torch.argsort(groups * (vocab + 1) + torch.arange(vocab, device=groups.device))
        in_group = groups[by_group] >= 0
        vocab_ids = by_group[in_group]
        vocab_group = groups[vocab_ids]
        present, vocab_sizes = torch.unique_consecutive(vocab_group, return_counts=True)
        local = torch.empty(vocab, dtype=torch.long, device=groups.device)
        starts = torch.cumsum(vocab_sizes, 0) - vocab_sizes
        local[vocab_ids] = torch.arange(vocab_ids.numel(), device=groups.device) - starts.repeat_interleave(vocab_sizes)
        order = torch.argsort(row_group, stable=True)
        rows, row_group = rows[order], row_group[order]
        row_counts = torch.bincount(torch.searchsorted(present, row_group), minlength=present.numel())
        w = weight[vocab_ids].to(dtype)
        b = None if bias is None else bias[vocab_ids].to(dtype)
        sizes, counts = vocab_sizes.tolist(), row_counts.tolist()
        w_parts = w.split(sizes)
        b_parts = b.split(sizes) if b is not None else [None] * len(sizes)
        h_parts = hidden[rows].split(counts)
        t_parts = local[target[rows]].split(counts)
        for h, t, w_g, b_g in zip(h_parts, t_parts, w_parts, b_parts):
            if h.size(0):
                logits = torch.nn.functional.linear(h, w_g, b_g)
                total = total + torch.nn.functional.cross_entropy(logits, t, reduction="sum")
    return total / count


@torch.no_grad()
def _spread_new_rows(backbone: PreTrainedModel, old_size: int) -> None:
    """Draw the new embedding (and untied LM-head) rows from N(mean, var) of the pretrained rows, per dimension.

    transformers' mean-resizing gives every new row almost the same vector (covariance scaled by 1e-9): fine
    for one new chat token, but here the new rows *are* the values of a variable (``<A=0>`` vs ``<A=1>``), and
    near-identical embeddings left the model blind to them for hundreds of steps in our tests.
    """
    layers = [backbone.get_input_embeddings(), backbone.get_output_embeddings()]
    seen: set[int] = set()
    for layer in layers:
        weight = getattr(layer, "weight", None)
        if weight is None or id(weight) in seen or weight.shape[0] <= old_size or old_size < 2:
            continue
        seen.add(id(weight))
        old = weight[:old_size].float()
        new = old.mean(0) + old.std(0) * torch.randn(weight.shape[0] - old_size, weight.shape[1])
        weight[old_size:] = new.to(weight.dtype)


__all__ = ["CausalARModel", "TextSummaryHead", "grouped_cross_entropy", "prefix_lm_attention_mask"]
