"""``BackboneCausalTokenizer``: causal token sequences over a pretrained backbone's own vocabulary.

With a pretrained decoder (SmolLM2, GPT-2, a BERT used as a decoder...) the text of a row keeps the
backbone tokenizer's ids, so its pretrained embeddings and language knowledge apply. A row
``{Z: 2, T: "a fine film", A: 1}`` along the order ``Z, T, A`` becomes::

    <causal_bos> <start_Z> <Z=2> <start_T> a Ġfine Ġfilm <end_T> <start_A> <A=1>

Vocabulary layout (``V0`` = size of the backbone vocabulary)::

    0 .. V0-1     the backbone's tokens (text values; its special tokens are never valid inside a value)
    V0 ..         new special tokens: <causal_bos> <causal_pad> <causal_eos>, one <start_VAR> per variable,
                  then per variable in causal order its value block (non-text variables, exactly as in
                  CausalSequenceTokenizer) or its <end_VAR> token (text variables)

The model's embedding matrix (and LM head) is resized to the new vocabulary; only rows ``>= V0`` are new
(:meth:`new_token_ids`), which is what LoRA trains besides the adapters. Constrained decoding stays a mask:
a non-text value is a slice of the new block, a text value any non-special backbone token or its end
token, up to ``max_length`` tokens.

The backend is the backbone's ``tokenizers`` object with the new tokens added, saved as ``tokenizer.json``;
``causal_spec`` (in ``tokenizer_config.json``) records the backbone vocabulary size, so reloading checks
that every new token still has its id. ``CausalSequenceTokenizer.from_pretrained`` and ``AutoTokenizer``
return this class for such folders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from tokenizers import AddedToken, Tokenizer
from transformers import PreTrainedTokenizerFast

from .codecs import BackboneTextCodec, ValueCodec
from .configuration_causal_ar import resolve_backbone_name
from .graph import CausalGraph
from .tokenization_causal import CausalSequenceTokenizer, fit_codec

BOS, PAD, EOS = "<causal_bos>", "<causal_pad>", "<causal_eos>"

__all__ = ["BackboneCausalTokenizer", "backbone_backend", "load_backbone_tokenizer", "new_token_layout"]


def load_backbone_tokenizer(name_or_path: str | os.PathLike[str]) -> PreTrainedTokenizerFast:
    """The fast tokenizer of a backbone: an alias of :func:`hf_causal.backbones.resolve_backbone`, a local
    folder or a Hub id.

    Raises:
        ValueError: when the backbone has no tokenizer files (e.g. a folder holding only model weights).
    """
    from transformers import AutoTokenizer
    from transformers.utils import cached_file

    path = resolve_backbone_name(name_or_path)
    found = False
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "tokenizer.model"):
        try:
            found = cached_file(path, name, _raise_exceptions_for_missing_entries=False) is not None
        except (OSError, ValueError):
            found = False
        if found:
            break
    if not found:
        raise ValueError(f"backbone {str(name_or_path)!r} has no tokenizer files; pass backbone_tokenizer=")
    return AutoTokenizer.from_pretrained(path)


def backbone_backend(tokenizer: Any) -> Tokenizer:
    """A private copy of the ``tokenizers`` backend of ``tokenizer`` (a fast tokenizer or a ``Tokenizer``)."""
    if isinstance(tokenizer, Tokenizer):
        backend = tokenizer
    elif isinstance(getattr(tokenizer, "backend_tokenizer", None), Tokenizer):
        backend = tokenizer.backend_tokenizer
    else:
        raise TypeError(
            f"backbone_tokenizer must be a fast (tokenizers-backed) tokenizer or a tokenizers.Tokenizer, "
            f"got {type(tokenizer).__name__}"
        )
    backend = Tokenizer.from_str(backend.to_str())
    backend.no_truncation()  # values are cut to max_length by the codec, never silently by the backend
    backend.no_padding()
    return backend


def _block_names(name: str, codec: ValueCodec) -> list[str]:
    if isinstance(codec, BackboneTextCodec):
        return [f"<end_{name}>"]
    return [f"<end_{name}>" if s == "<end>" else f"<{name}={s}>" for s in codec.token_names()]


def new_token_layout(order: Sequence[str], codecs: dict[str, ValueCodec], backbone_vocab_size: int) -> dict[str, int]:
    """Every new token string and its id, in the documented order after the backbone vocabulary."""
    tokens = [BOS, PAD, EOS] + [f"<start_{n}>" for n in order]
    for n in order:
        tokens.extend(_block_names(n, codecs[n]))
    if len(set(tokens)) != len(tokens):
        raise ValueError("token strings collide; rename variables or levels")
    return {t: backbone_vocab_size + i for i, t in enumerate(tokens)}


def _backbone_vocab_size(backend: Tokenizer) -> int:
    vocab = backend.get_vocab(with_added_tokens=True)
    return max(vocab.values()) + 1 if vocab else 0


class BackboneCausalTokenizer(CausalSequenceTokenizer):
    """A :class:`CausalSequenceTokenizer` whose text variables use a pretrained backbone's token ids.

    Build one with :meth:`from_data`; reload with ``CausalSequenceTokenizer.from_pretrained`` (or
    ``AutoTokenizer``), which dispatches here on the saved ``causal_spec``.

    Args:
        causal_spec: ``{"graph": ..., "codecs": ..., "backbone": {"vocab_size": V0, "name_or_path": ...}}``.
        tokenizer_object / tokenizer_file: the backbone backend with the new tokens already added.
    """

    spec_key = "backbone"

    def __init__(self, causal_spec: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if causal_spec is None or not causal_spec.get("backbone"):
            raise ValueError("BackboneCausalTokenizer needs a causal_spec with a 'backbone' entry; use from_data()")
        backend = kwargs.pop("tokenizer_object", None)
        file = kwargs.pop("tokenizer_file", None)
        if backend is None and file is not None and os.path.isfile(file):
            backend = Tokenizer.from_file(file)
        if backend is None:
            raise ValueError("BackboneCausalTokenizer needs its backend: tokenizer_object= or a tokenizer.json")
        for key in ("vocab", "merges", "post_processor", "tokenizer_padding", "tokenizer_truncation",
                    "_json_truncation", "_json_padding"):
            kwargs.pop(key, None)
        self.graph = CausalGraph.from_dict(causal_spec["graph"])
        self.order: list[str] = list(self.graph.topological_order)
        self.codecs: dict[str, ValueCodec] = {n: ValueCodec.from_dict(causal_spec["codecs"][n]) for n in self.order}
        self.backbone_vocab_size = int(causal_spec["backbone"]["vocab_size"])
        self.backbone_name_or_path: str | None = causal_spec["backbone"].get("name_or_path")
        layout = self._layout()
        for token, expected in layout.items():
            if backend.token_to_id(token) != expected:
                raise ValueError(
                    f"the tokenizer backend does not match causal_spec: {token!r} has id "
                    f"{backend.token_to_id(token)}, expected {expected}"
                )
        kwargs.setdefault("extra_special_tokens", [f"<start_{n}>" for n in self.order])
        kwargs.update(bos_token=BOS, eos_token=EOS, pad_token=PAD)
        # skip CausalSequenceTokenizer.__init__ (it builds a word-level backend); keep the backbone's
        PreTrainedTokenizerFast.__init__(self, tokenizer_object=backend, causal_spec=causal_spec, **kwargs)
        v0 = self.backbone_vocab_size
        self.start_ids = {n: layout[f"<start_{n}>"] for n in self.order}
        self.end_ids = {n: layout[f"<end_{n}>"] for n in self.order if self._is_text(n)}
        self.offsets = {}
        for n in self.order:
            # text values: local index == backbone id (offset 0); the end token is mapped by end_token_id()
            self.offsets[n] = 0 if self._is_text(n) else layout[_block_names(n, self.codecs[n])[0]]
        self._vocab_list = None
        total = len(backend.get_vocab(with_added_tokens=True))
        self._token_owner = np.full(max(total, v0 + len(layout)), -1, dtype=np.int64)
        for i, n in enumerate(self.order):
            if self._is_text(n):
                self._token_owner[np.flatnonzero(self.codecs[n].allowed(0)[:v0])] = i
                self._token_owner[self.end_ids[n]] = i
            else:
                self._token_owner[self.offsets[n]: self.offsets[n] + self.codecs[n].size] = i

    # ---------------------------------------------------------------------------------- layout
    def _is_text(self, name: str) -> bool:
        return isinstance(self.codecs[name], BackboneTextCodec)

    def _layout(self) -> dict[str, int]:
        return new_token_layout(self.order, self.codecs, self.backbone_vocab_size)

    # ---------------------------------------------------------------------------------- building
    @classmethod
    def from_data(  # type: ignore[override]
        cls,
        data: pd.DataFrame,
        graph: CausalGraph,
        *,
        backbone_tokenizer: Any = None,
        backbone_name_or_path: str | None = None,
        max_text_length: int = 64,
        n_bins: int = 64,
        continuous_codec: str = "quantile",
        n_digits: int = 3,
        max_levels: int = 64,
        **kwargs: Any,
    ) -> BackboneCausalTokenizer:
        """Fit the codecs on ``data``; text variables are measured in backbone tokens.

        Args:
            data: one column per graph variable.
            graph: the causal graph.
            backbone_tokenizer: the backbone's fast tokenizer (or a ``tokenizers.Tokenizer``, or a name/path
                for :func:`load_backbone_tokenizer`).
            backbone_name_or_path: recorded in the spec (where the backbone weights come from).
            max_text_length: cap on a text value's length in backbone tokens; a text variable's
                ``max_length`` is its longest observed value up to this cap (a per-variable ``max_length``
                option wins). Longer texts are truncated to ``max_length`` tokens.
            n_bins, continuous_codec, n_digits, max_levels: as in :meth:`CausalSequenceTokenizer.from_data`.
        """
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        if not isinstance(graph, CausalGraph):
            raise TypeError(f"graph must be a CausalGraph, got {type(graph).__name__}")
        if backbone_tokenizer is None:
            raise TypeError("from_data needs backbone_tokenizer= (the pretrained backbone's tokenizer)")
        if isinstance(backbone_tokenizer, (str, os.PathLike)):
            backbone_tokenizer = load_backbone_tokenizer(backbone_tokenizer)
        if isinstance(max_text_length, bool) or not isinstance(max_text_length, int) or max_text_length <= 0:
            raise ValueError(f"max_text_length must be a positive integer, got {max_text_length!r}")
        missing = [n for n in graph.variables if n not in data.columns]
        if missing:
            raise ValueError(f"data lacks the graph variables {missing}")
        if len(data) == 0:
            raise ValueError("data is empty")
        backend = backbone_backend(backbone_tokenizer)
        v0 = _backbone_vocab_size(backend)
        blocked = sorted(i for i, t in backend.get_added_tokens_decoder().items() if t.special)
        defaults = {"n_bins": n_bins, "continuous_codec": continuous_codec, "n_digits": n_digits,
                    "max_levels": max_levels}
        codecs: dict[str, dict[str, Any]] = {}
        for n, v in graph.variables.items():
            if v.type != "text":
                codecs[n] = fit_codec(n, v.type, data[n], v.options, defaults).to_dict()
                continue
            texts = _check_texts(n, data[n], allow_empty=False)
            longest = max(len(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False))
            max_length = int(v.options.get("max_length", min(max(longest, 1), max_text_length)))
            codecs[n] = BackboneTextCodec(v0, max_length, blocked, name=n).to_dict()
        spec = {"graph": graph.to_dict(), "codecs": codecs,
                "backbone": {"vocab_size": v0, "name_or_path": backbone_name_or_path}}
        order = list(graph.topological_order)
        layout = new_token_layout(order, {n: ValueCodec.from_dict(codecs[n]) for n in order}, v0)
        new = [AddedToken(t, special=True, normalized=False) for t in layout]
        backend.add_special_tokens(new)
        kwargs.setdefault("unk_token", getattr(backbone_tokenizer, "unk_token", None))
        try:
            return cls(causal_spec=spec, tokenizer_object=backend, **kwargs)
        except ValueError as err:
            if "does not match" in str(err):  # an added string already existed in the backbone vocabulary
                raise ValueError(f"a new token string is already in the backbone vocabulary: {err}") from err
            raise

    # ------------------------------------------------------------------------------------ access
    def new_token_ids(self) -> list[int]:
        """Ids appended after the backbone vocabulary (their embedding rows are new)."""
        return list(range(self.backbone_vocab_size, len(self)))

    def _to_global(self, name: str, local: np.ndarray) -> np.ndarray:
        local = np.asarray(local, dtype=np.int64)
        if not self._is_text(name):
            return self.offsets[name] + local
        return np.where(local == self.codecs[name].end, self.end_ids[name], local)

    def value_ids(self, name: str) -> np.ndarray:  # type: ignore[override]
        """Global ids of the value tokens of ``name`` (for a text variable: its valid backbone ids + end)."""
        return self._to_global(name, np.flatnonzero(self.codecs[name].allowed(0)))

    def allowed_ids(self, name: str, position: int) -> np.ndarray:
        """Global ids valid at ``position`` within the value of ``name`` (constrained decoding)."""
        return self._to_global(name, np.flatnonzero(self.codecs[name].allowed(position)))

    def loss_groups(self) -> np.ndarray:
        """Like the base class, but text variables (whose tokens are the shared backbone vocabulary) are in
        no group: their labels keep the full softmax."""
        groups = self._token_owner.copy()
        for i, n in enumerate(self.order):
            if self._is_text(n):
                groups[groups == i] = -1
        return groups

    def end_token_id(self, name: str) -> int | None:
        """Global id of the end token of a variable-length variable (``None`` for fixed-length ones)."""
        if self._is_text(name):
            return self.end_ids[name]
        return super().end_token_id(name)

    def element_token_id(self, name: str, element: Any) -> int:
        """A text variable's element is one backbone token, given as its id or its token string."""
        if not self._is_text(name):
            return super().element_token_id(name, element)
        codec = self.codecs[name]
        if isinstance(element, (int, np.integer)) and not isinstance(element, bool):
            tok = int(element)
        elif isinstance(element, str):
            found = self._tokenizer.token_to_id(element)
            if found is None:
                ids = self._tokenizer.encode(element, add_special_tokens=False).ids
                if len(ids) != 1:
                    raise ValueError(f"{name!r}: {element!r} is not a single backbone token (it is {len(ids)})")
                found = ids[0]
            tok = int(found)
        else:
            raise TypeError(f"{name!r}: an element must be a backbone token string or id, got {element!r}")
        if not 0 <= tok < codec.vocab_size or not codec.allowed(0)[tok]:
            raise ValueError(f"{name!r}: token {element!r} is special or outside the backbone vocabulary")
        return tok

    # ------------------------------------------------------------------------------- value codec
    def _text_ids(self, name: str, texts: Sequence[Any]) -> list[list[int]]:
        texts = _check_texts(name, pd.Series(list(texts), dtype=object))
        codec = self.codecs[name]
        out = []
        for text, enc in zip(texts, self._tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = enc.ids
            reserved = [i for i in ids if i >= self.backbone_vocab_size]
            if reserved:
                raise ValueError(
                    f"variable {name!r}: the text {text[:40]!r} contains reserved token strings "
                    f"{self.convert_ids_to_tokens(reserved[:3])}"
                )
            out.append(self._to_global(name, codec.encode(ids[: codec.max_length])).tolist())
        return out

    def encode_value(self, name: str, value: Any) -> list[int]:
        """Global ids of one variable's value (without its start token); texts longer than the variable's
        ``max_length`` backbone tokens are truncated."""
        if name in self.codecs and self._is_text(name):
            return self._text_ids(name, [value])[0]
        return super().encode_value(name, value)

    def encode_column(self, name: str, values: Sequence[Any]) -> list[list[int]]:
        """Global ids of each value in a column (texts tokenised in one batch)."""
        if name in self.codecs and self._is_text(name):
            return self._text_ids(name, values)
        return super().encode_column(name, values)

    def decode_value(self, name: str, ids: Sequence[int], rng: np.random.Generator | None = None) -> Any:
        """Inverse of :meth:`encode_value`; text is decoded by the backbone tokenizer (its normalisation,
        e.g. lower-casing for uncased BERT, is not undone)."""
        if not self._is_text(name):
            return super().decode_value(name, ids, rng)
        end = self.end_ids[name]
        body = [int(i) for i in ids if int(i) != end]
        bad = [i for i in body if not 0 <= i < self.backbone_vocab_size]
        if bad:
            raise ValueError(f"ids {bad[:5]} are not backbone tokens of {name!r}")
        return self._tokenizer.decode(body, skip_special_tokens=True)

    def frame_to_text(self, data: pd.DataFrame) -> list[str]:
        """Not available: backbone sub-word ids do not survive a whitespace-joined round trip."""
        raise NotImplementedError("use encode_frame() or build_inputs(); backbone tokens are not whitespace-separated")

    def save_pretrained(self, save_directory: str | os.PathLike[str], *args: Any, **kwargs: Any) -> Any:
        """Save like any fast tokenizer; ``tokenizer_class`` names the base class, which dispatches back here."""
        import json

        out = super().save_pretrained(save_directory, *args, **kwargs)
        path = os.path.join(str(save_directory), "tokenizer_config.json")
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        config["tokenizer_class"] = "CausalSequenceTokenizer"
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)
        return out


def _check_texts(name: str, values: pd.Series, allow_empty: bool = True) -> list[str]:
    """The texts as a list; missing or non-string texts (and, unless ``allow_empty``, empty or blank ones) are
    errors naming the first such row. Training texts must say something; a query may give an empty text."""
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise ValueError(
            f"text variable {name!r} has {len(missing)} missing values (NaN/None), first at row {missing[0]}; "
            "drop or impute them first"
        )
    items = values.tolist()
    for row, value in enumerate(items):
        if not isinstance(value, str):
            raise TypeError(f"text variable {name!r} must hold strings, got {type(value).__name__} at row {row}")
        if not allow_empty and not value.strip():
            raise ValueError(f"text variable {name!r} has an empty or blank text at row {row}")
    return items

