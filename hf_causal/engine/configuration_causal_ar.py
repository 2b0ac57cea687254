"""Configuration of the sequencified autoregressive causal model."""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig

#: The GPT-2 trained from scratch when the size is not derived from the data (:func:`sized_backbone`).
DEFAULT_BACKBONE: dict[str, Any] = {
    "model_type": "gpt2",
    "n_embd": 128,
    "n_layer": 3,
    "n_head": 4,
    "n_inner": 256,
    "activation_function": "gelu",
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attn_pdrop": 0.0,
    "tie_word_embeddings": False,
}

#: Up to this many variables a table gets the small model of :func:`sized_backbone`.
SMALL_TABLE_VARIABLES = 8


def sized_backbone(n_variables: int, max_tokens: int) -> dict[str, Any]:
    """A from-scratch GPT-2 sized to the table (docs/design.md §6.8): for variables of one token each, 64 wide with
    2 layers up to :data:`SMALL_TABLE_VARIABLES` variables and 1 layer beyond; :data:`DEFAULT_BACKBONE` (128 wide,
    3 layers) for rows of sequences and texts (``max_tokens`` above two tokens per variable plus one).

    Why: training and sampling cost grow with width squared times depth times the row's positions, and a table
    of one-token variables needs little capacity per token; on the 20-variable benchmark table one 64-wide layer
    had a lower held-out NLL than two 96-wide ones at a third of the cost. ``benchmarks/results/engine.md``
    records the cost and accuracy of this choice.
    """
    if max_tokens <= 2 * n_variables + 1:
        return table_backbone(64, 2 if n_variables <= SMALL_TABLE_VARIABLES else 1)
    return dict(DEFAULT_BACKBONE)


def table_backbone(width: int, layers: int) -> dict[str, Any]:
    """The from-scratch GPT-2 of :func:`sized_backbone`'s family at a given width and depth: 4 heads, an MLP
    twice as wide (``width`` a positive multiple of 4, ``layers`` positive)."""
    if width <= 0 or layers <= 0 or width % 4:
        raise ValueError(f"width must be a positive multiple of 4 and layers positive, got {width} and {layers}")
    return {**DEFAULT_BACKBONE, "n_embd": width, "n_layer": layers, "n_head": 4, "n_inner": 2 * width}


def resolve_backbone_name(name_or_path: str) -> str:
    """Map an offline alias (``"smollm2"``, ``"minilm"``) to its local folder; pass anything else through.

    The aliases need hf-causal installed; the import sits in ``try`` so that this file also works as Hub remote
    code (transformers ignores imports inside ``try`` when it checks what remote code needs).
    """
    try:
        from hf_causal.backbones import resolve_backbone
    except ImportError:
        return name_or_path
    return str(resolve_backbone(name_or_path))


def load_backbone_config(name_or_path: str) -> PretrainedConfig:
    """The ``AutoConfig`` of a pretrained backbone (an alias, a local folder or a Hub id), or a ``ValueError`` naming
    it and the aliases when it cannot be found: transformers' own ``OSError`` speaks of hub connections and
    cached files, which hides a misspelt name."""
    path = resolve_backbone_name(name_or_path)
    try:
        return AutoConfig.from_pretrained(path)
    except OSError as err:
        try:  # in try, as in resolve_backbone_name: this file also serves as Hub remote code
            from hf_causal.backbones import BACKBONE_ALIASES as known
        except ImportError:
            known = ()
        aliases = f"an alias {list(known)}, " if known else ""
        raise ValueError(
            f"backbone {name_or_path!r} cannot be loaded: it is not {aliases}a local model folder, nor a Hub id that "
            f"can be reached or is in the local cache ({str(err).splitlines()[0]})"
        ) from err


class CausalARConfig(PretrainedConfig):
    r"""Configuration of :class:`~hf_causal.engine.modeling_causal_ar.CausalARModel`.

    The model is a decoder language model (any ``AutoModelForCausalLM`` architecture) over the
    vocabulary of a :class:`~hf_causal.engine.tokenization_causal.CausalSequenceTokenizer`.

    Args:
        backbone_config: keyword arguments of the backbone's config, including ``model_type``
            (e.g. ``"gpt2"``, ``"llama"``). Defaults to :data:`DEFAULT_BACKBONE`.
        backbone_name_or_path: a pretrained backbone (an alias such as ``"smollm2"``, a Hub id or a local
            folder) whose weights initialise the model; its embeddings are resized to ``vocab_size`` (the
            backbone's vocabulary plus the new causal tokens, or a new causal vocabulary). A LoRA engine is
            saved without the backbone's weights and reloads them from here.
        vocab_size: size of the causal vocabulary.
        max_positions: longest token sequence of a row.
        bidirectional_context: the engine's context variables (which come first in the order) and ``<bos>``
            form a prefix block whose tokens attend to each other in both directions (a prefix LM); every other
            token stays causal. Meant for BERT-style encoders, pretrained bidirectionally.
        text_summary_size: ``0`` (default) for none; else the width of the text-summary head
            (:class:`~hf_causal.engine.modeling_causal_ar.TextSummaryHead`, docs/design.md §6.9): the mean of the
            last hidden states over the text tokens seen so far feeds an MLP of this width whose output is added
            to the logits of the causal tokens (ids ``>= text_token_limit``).
        text_token_limit: ids below it are text tokens (the backbone vocabulary of a
            :class:`~hf_causal.engine.tokenization_causal_backbone.BackboneCausalTokenizer`); needed by the
            text-summary head.
    """

    model_type = "causal_ar"

    def __init__(
        self,
        backbone_config: dict[str, Any] | None = None,
        backbone_name_or_path: str | None = None,
        vocab_size: int = 8,
        max_positions: int = 64,
        bidirectional_context: bool = False,
        text_summary_size: int = 0,
        text_token_limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        if vocab_size <= 0 or max_positions <= 0:
            raise ValueError("vocab_size and max_positions must be positive")
        if isinstance(text_summary_size, bool) or int(text_summary_size) < 0:
            raise ValueError(f"text_summary_size must be a non-negative integer, got {text_summary_size!r}")
        if text_summary_size and not (text_token_limit is not None and 0 < int(text_token_limit) < vocab_size):
            raise ValueError(
                f"text_summary_size > 0 needs text_token_limit in (0, vocab_size={vocab_size}), got {text_token_limit!r}"
            )
        backbone_config = dict(DEFAULT_BACKBONE if backbone_config is None else backbone_config)
        if "model_type" not in backbone_config:
            raise ValueError("backbone_config needs a 'model_type' (e.g. 'gpt2' or 'llama')")
        self.backbone_config = backbone_config
        self.backbone_name_or_path = backbone_name_or_path
        self.vocab_size = int(vocab_size)
        self.max_positions = int(max_positions)
        self.bidirectional_context = bool(bidirectional_context)
        self.text_summary_size = int(text_summary_size)
        self.text_token_limit = None if text_token_limit is None else int(text_token_limit)
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(**kwargs)

    def build_backbone_config(self) -> PretrainedConfig:
        """The backbone's own config, sized to the causal vocabulary and sequence length."""
        spec = dict(self.backbone_config)
        model_type = spec.pop("model_type")
        cfg = AutoConfig.for_model(model_type, **spec)
        cfg.vocab_size = self.vocab_size
        for attr in ("n_positions", "max_position_embeddings"):
            if hasattr(cfg, attr) and getattr(cfg, attr) < self.max_positions:
                setattr(cfg, attr, self.max_positions)
        for attr in ("bos_token_id", "eos_token_id", "pad_token_id"):
            if hasattr(self, attr) and getattr(self, attr, None) is not None:
                setattr(cfg, attr, getattr(self, attr))
        return cfg


__all__ = ["CausalARConfig", "DEFAULT_BACKBONE", "load_backbone_config", "resolve_backbone_name", "sized_backbone"]
