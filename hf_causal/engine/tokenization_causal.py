"""``CausalSequenceTokenizer``: rows of a table become token sequences along a causal order.

A row ``{Z: 2, A: 1, Y: 0.37}`` of a graph with order ``Z, A, Y`` becomes::

    <bos> <start_Z> <Z=2> <start_A> <A=1> <start_Y> <Y:bin41>

Every variable owns one ``<start_VAR>`` special token and a contiguous block of value tokens
(see :mod:`hf_causal.engine.codecs`), so constrained decoding is a slice of the vocabulary.
The backend is a ``tokenizers`` ``WordLevel`` model over whitespace-separated token strings; the
vocabulary and the codecs are rebuilt from ``causal_spec`` (stored in ``tokenizer_config.json``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast

from .codecs import (
    CategoricalCodec,
    DigitCodec,
    QuantileCodec,
    SequenceCodec,
    ValueCodec,
    _is_nan,
    _scalar,
    check_bins,
)
from .graph import CausalGraph

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
IGNORE_INDEX = -100
#: Row layouts: ``"marked"`` puts ``<start_VAR>`` before every value, ``"compact"`` none (one-token variables only).
LAYOUTS = ("marked", "compact")


def _sorted_unique(values: Sequence[Any]) -> list[Any]:
    uniq = list(dict.fromkeys(_scalar(v) for v in values))
    try:
        return sorted(uniq)
    except TypeError:  # mixed types: keep first-appearance order
        return uniq


def _check_no_missing(name: str, values: pd.Series) -> None:
    if values.isna().any():
        raise ValueError(f"variable {name!r} has missing values (NaN/None); drop or impute them first")


def _check_float64_scale(name: str, vtype: str, arr: np.ndarray) -> None:
    """Refuse values whose variance overflows float64: the bins' means, the effects (differences of such values)
    and their intervals would come out inf or NaN, with no word of why."""
    with np.errstate(over="ignore", invalid="ignore"):
        variance = arr.var()
    if not np.isfinite(variance):
        row = int(np.abs(arr).argmax())
        raise ValueError(f"{vtype} variable {name!r}: values up to {np.abs(arr).max():.3g} (row {row}) are too large "
                         "to compute with in float64 (their variance overflows); rescale it")


def fit_codec(name: str, vtype: str, values: pd.Series, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> ValueCodec:
    """Choose and fit the codec of one variable from its observed values."""
    opts = {**defaults, **options}
    if vtype in ("binary", "categorical"):
        _check_no_missing(name, values)
        levels = list(opts["levels"]) if "levels" in opts else _sorted_unique(values.tolist())
        if vtype == "binary" and len(levels) > 2:
            raise ValueError(f"binary variable {name!r} has {len(levels)} distinct values: {levels[:5]}")
        if vtype == "binary" and len(levels) < 2:
            raise ValueError(f"binary variable {name!r} takes the single value {levels[0]!r} in the data: nothing "
                             "could be learned of the other; declare both levels in its spec if that is intended")
        return CategoricalCodec(levels, name=name)
    if vtype in ("continuous", "integer"):
        if (not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
                or pd.api.types.is_complex_dtype(values)):
            raise TypeError(f"{vtype} variable {name!r} must hold numbers, got dtype {values.dtype}")
        _check_no_missing(name, values)
        arr = values.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"variable {name!r} has infinite values")
        _check_float64_scale(name, vtype, arr)
        integer = vtype == "integer"
        if integer:
            if not np.all(arr == np.round(arr)):
                raise ValueError(f"integer variable {name!r} has non-integer values")
            uniq = np.unique(arr)
            if len(uniq) <= int(opts["max_levels"]):
                return CategoricalCodec([int(v) for v in uniq], name=name)
        if opts["continuous_codec"] == "digits":
            return DigitCodec.fit(arr, int(opts["n_digits"]), integer=integer, name=name)
        if opts["continuous_codec"] != "quantile":
            raise ValueError(f"continuous_codec must be 'quantile' or 'digits', got {opts['continuous_codec']!r}")
        return QuantileCodec.fit(arr, check_bins(opts["n_bins"], name), integer=integer, name=name)
    if vtype in ("sequence", "text"):
        text = vtype == "text"
        items: list[Any] = []
        longest = 0
        probe = SequenceCodec([], max_length=10**9, text=text, name=name)
        for row, value in enumerate(values.tolist()):
            if text and (value is None or _is_nan(value)):
                raise ValueError(f"text variable {name!r} has a missing value (NaN/None) at row {row}")
            try:
                seq = probe.as_list(value)
            except TypeError as err:  # say which row
                raise TypeError(f"{err} (row {row})") from err
            if text and not seq:  # a query may give an empty text; a training text must say something
                raise ValueError(f"text variable {name!r} has an empty or blank text at row {row}")
            if any(v is None or _is_nan(v) for v in seq):
                raise ValueError(f"sequence variable {name!r} has missing elements")
            items.extend(seq)
            longest = max(longest, len(seq))
        elements = list(opts["elements"]) if "elements" in opts else _sorted_unique(items)
        return SequenceCodec(elements, int(opts.get("max_length", longest)), text=text, name=name)
    raise ValueError(f"variable {name!r}: unsupported type {vtype!r}")


class CausalSequenceTokenizer(PreTrainedTokenizerFast):
    """Tokenizer of rows along the topological order of a :class:`~hf_causal.engine.graph.CausalGraph`.

    Build one from data with :meth:`from_data`; reload with ``from_pretrained``/``AutoTokenizer``.

    Args:
        causal_spec: ``{"graph": CausalGraph.to_dict(), "codecs": {name: codec.to_dict()}}``.
    """

    vocab_files_names: dict[str, str] = {}
    model_input_names = ["input_ids", "attention_mask"]
    #: rows without ``<start_VAR>`` tokens (set from ``causal_spec["layout"]``; subclasses keep the marked layout)
    compact = False
    #: The ``causal_spec`` entry that marks a spec as this subclass's (``None`` for the base class).
    spec_key: str | None = None
    #: Subclasses by their ``spec_key``, filled as they are defined (see ``__new__``).
    _by_spec_key: dict[str, type[CausalSequenceTokenizer]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.spec_key:
            CausalSequenceTokenizer._by_spec_key[cls.spec_key] = cls

    def __new__(cls, causal_spec: dict[str, Any] | None = None, **kwargs: Any) -> CausalSequenceTokenizer:
        # A spec with a subclass's key (e.g. "backbone": a tokenizer over a pretrained backbone's vocabulary) builds
        # that subclass, so CausalSequenceTokenizer.from_pretrained and AutoTokenizer load either kind. Subclasses
        # announce themselves when defined, so this module never imports them.
        if cls is CausalSequenceTokenizer and isinstance(causal_spec, Mapping):
            for key, subclass in cls._by_spec_key.items():
                if causal_spec.get(key):
                    cls = subclass
        return super().__new__(cls)

    @classmethod
    def convert_to_native_format(cls, trust_remote_code: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Pass ``tokenizer_file`` through untouched: the word-level backend is rebuilt from ``causal_spec``, and
        the backbone-vocabulary subclass reads its backend from ``tokenizer.json`` (transformers would otherwise
        hand a custom ``__init__`` only the bare vocabulary)."""
        return dict(kwargs)

    def __init__(self, causal_spec: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if causal_spec is None:
            raise ValueError("CausalSequenceTokenizer needs a causal_spec; build one with from_data(df, graph)")
        unknown = [k for k in causal_spec if k not in ("graph", "codecs", "layout") and causal_spec[k]]
        if unknown and type(self) is CausalSequenceTokenizer:
            raise ValueError(
                f"this tokenizer's causal_spec has {unknown} entries, which need a subclass of "
                "CausalSequenceTokenizer that is not loaded (import hf_causal.engine)"
            )
        for key in ("tokenizer_object", "tokenizer_file", "vocab", "merges", "post_processor",
                    "tokenizer_padding", "tokenizer_truncation", "_json_truncation", "_json_padding"):
            kwargs.pop(key, None)
        self.graph = CausalGraph.from_dict(causal_spec["graph"])
        self.order: list[str] = list(self.graph.topological_order)
        self.codecs: dict[str, ValueCodec] = {
            n: ValueCodec.from_dict(causal_spec["codecs"][n]) for n in self.order
        }
        layout = causal_spec.get("layout") or "marked"
        if layout not in LAYOUTS:
            raise ValueError(f"causal_spec layout must be one of {LAYOUTS}, got {layout!r}")
        self.compact = layout == "compact"
        if self.compact and not all(c.single_token for c in self.codecs.values()):
            raise ValueError("the compact layout needs every variable to take one token (no sequences, text, digits)")
        vocab = [PAD, BOS, EOS, UNK] + [f"<start_{n}>" for n in self.order]
        self.start_ids: dict[str, int] = {n: 4 + i for i, n in enumerate(self.order)}
        self.offsets: dict[str, int] = {}
        for n in self.order:
            self.offsets[n] = len(vocab)
            for suffix in self.codecs[n].token_names():
                vocab.append(f"<end_{n}>" if suffix == "<end>" else f"<{n}={suffix}>")
        if len(set(vocab)) != len(vocab):
            raise ValueError("token strings collide; rename variables or levels")
        backend = Tokenizer(WordLevel({t: i for i, t in enumerate(vocab)}, unk_token=UNK))
        backend.pre_tokenizer = WhitespaceSplit()
        kwargs.setdefault("extra_special_tokens", [f"<start_{n}>" for n in self.order])
        for key, token in (("bos_token", BOS), ("eos_token", EOS), ("pad_token", PAD), ("unk_token", UNK)):
            kwargs[key] = token
        super().__init__(tokenizer_object=backend, causal_spec=causal_spec, **kwargs)
        self._vocab_list = vocab
        self._token_owner = np.full(len(vocab), -1, dtype=np.int64)  # variable index of each value token
        for i, n in enumerate(self.order):
            self._token_owner[self.offsets[n]: self.offsets[n] + self.codecs[n].size] = i

    # ---------------------------------------------------------------------------------- building
    @classmethod
    def from_data(
        cls,
        data: pd.DataFrame,
        graph: CausalGraph,
        *,
        n_bins: int = 64,
        continuous_codec: str = "quantile",
        n_digits: int = 3,
        max_levels: int = 64,
        layout: str = "marked",
        **kwargs: Any,
    ) -> CausalSequenceTokenizer:
        """Fit the value codecs of every variable of ``graph`` on ``data``.

        Args:
            data: one column per graph variable (extra columns are ignored).
            graph: the causal graph.
            n_bins: quantile bins per continuous variable, at least 2 (per-variable ``n_bins`` option wins).
            continuous_codec: ``"quantile"`` (one token, default) or ``"digits"`` (``n_digits`` tokens).
            n_digits: digits per value with the digit codec.
            max_levels: integer variables with at most this many distinct values are categorical.
            layout: ``"marked"`` (a ``<start_VAR>`` before every value), ``"compact"`` (none: every variable must
                take one token, and a row costs half the tokens; docs/design.md §6.1) or ``"auto"`` (compact when
                every fitted codec takes one token).
        """
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        if not isinstance(graph, CausalGraph):
            raise TypeError(f"graph must be a CausalGraph, got {type(graph).__name__}")
        missing = [n for n in graph.variables if n not in data.columns]
        if missing:
            raise ValueError(f"data lacks the graph variables {missing}")
        repeated = [n for n in graph.variables if int((data.columns == n).sum()) > 1]
        if repeated:
            raise ValueError(f"data has more than one column named {repeated}: rename them so each is unique")
        if len(data) == 0:
            raise ValueError("data is empty")
        defaults = {"n_bins": n_bins, "continuous_codec": continuous_codec, "n_digits": n_digits,
                    "max_levels": max_levels}
        fitted = {n: fit_codec(n, v.type, data[n], v.options, defaults) for n, v in graph.variables.items()}
        if layout == "auto":
            layout = "compact" if all(c.single_token for c in fitted.values()) else "marked"
        codecs = {n: c.to_dict() for n, c in fitted.items()}
        return cls(causal_spec={"graph": graph.to_dict(), "codecs": codecs, "layout": layout}, **kwargs)

    # ------------------------------------------------------------------------------------ access
    def lead_ids(self, name: str) -> list[int]:
        """The structure tokens before ``name``'s value: its ``<start_VAR>``, or none in the compact layout (every
        variable one token, so a position names its variable; docs/design.md §6.1)."""
        return [] if self.compact else [self.start_ids[name]]

    def value_ids(self, name: str) -> range:
        """Global ids of the value tokens of ``name``."""
        return range(self.offsets[name], self.offsets[name] + self.codecs[name].size)

    def allowed_ids(self, name: str, position: int) -> np.ndarray:
        """Global ids valid at ``position`` within the value of ``name`` (constrained decoding)."""
        return self.offsets[name] + np.flatnonzero(self.codecs[name].allowed(position))

    def is_value_token(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which ids are value tokens (the only ones the loss is computed on)."""
        return self._token_owner[np.asarray(ids)] >= 0

    def loss_groups(self) -> np.ndarray:
        """``(vocab,)`` group of each id for the constrained training loss: the index (in the topological
        order) of the variable whose value token it is, -1 for structure tokens."""
        return self._token_owner.copy()

    def end_token_id(self, name: str) -> int | None:
        """Global id of the end token of a variable-length variable (``None`` for fixed-length ones)."""
        codec = self.codecs[name]
        return self.offsets[name] + codec.end if codec.variable_length else None

    def element_token_id(self, name: str, element: Any) -> int:
        """Global id of one element of a sequence variable (partial interventions fix single elements)."""
        inner = getattr(self.codecs[name], "inner", None)  # a sequence's element codec
        if inner is None:
            raise ValueError(f"variable {name!r} has no element tokens")
        return self.offsets[name] + inner.encode(element)[0]

    def new_token_ids(self) -> list[int]:
        """Ids whose embeddings a pretrained backbone does not know (here: all of them, the vocabulary is new)."""
        return list(range(len(self)))

    def max_sequence_length(self) -> int:
        """Longest token sequence of a row (``<bos>`` included)."""
        return 1 + sum(len(self.lead_ids(n)) + self.codecs[n].length() for n in self.order)

    # ------------------------------------------------------------------------------- value codec
    def encode_value(self, name: str, value: Any) -> list[int]:
        """Global ids of one variable's value (without its start token)."""
        if name not in self.codecs:
            raise ValueError(f"unknown variable {name!r}; known: {self.order}")
        return [self.offsets[name] + i for i in self.codecs[name].encode(value)]

    def decode_value(self, name: str, ids: Sequence[int], rng: np.random.Generator | None = None) -> Any:
        """Inverse of :meth:`encode_value` (``rng`` dequantises continuous values)."""
        codec = self.codecs[name]
        local = [int(i) - self.offsets[name] for i in ids]
        size = codec.size  # once per value: for sequence codecs it rebuilds the token names
        if any(i < 0 or i >= size for i in local):
            raise ValueError(f"ids {list(ids)} are not value tokens of {name!r}")
        return codec.decode(local, rng)

    def encode_column(self, name: str, values: Sequence[Any]) -> list[list[int]]:
        """Global ids of each value in a column (vectorised for single-token codecs)."""
        local = self.codecs[name].encode_many(values)
        if local is not None:
            return [[self.offsets[name] + int(b)] for b in local]
        return [self.encode_value(name, v) for v in values]

    def encode_row_ids(self, row: Mapping[str, Any]) -> list[int]:
        """Token ids of one row (a mapping with every graph variable)."""
        ids = [self.bos_token_id]
        for n in self.order:
            if n not in row:
                raise ValueError(f"row lacks variable {n!r}")
            ids.extend(self.lead_ids(n))
            ids.extend(self.encode_value(n, row[n]))
        return ids

    def encode_frame(self, data: pd.DataFrame) -> list[list[int]]:
        """Token ids of every row of ``data``."""
        missing = [n for n in self.order if n not in data.columns]
        if missing:
            raise ValueError(f"data lacks the graph variables {missing}")
        columns = [self.encode_column(n, data[n].tolist()) for n in self.order]
        rows = []
        for r in range(len(data)):
            ids = [self.bos_token_id]
            for n, col in zip(self.order, columns):
                ids.extend(self.lead_ids(n))
                ids.extend(col[r])
            rows.append(ids)
        return rows

    def frame_to_text(self, data: pd.DataFrame) -> list[str]:
        """Whitespace-joined token strings of every row (``tokenizer(texts)`` gives the same ids)."""
        return [" ".join(self._vocab_list[i] for i in ids) for ids in self.encode_frame(data)]

    def decode_ids(self, ids: Sequence[int], rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Parse one row's ids back into ``{variable: value}`` (variables absent from ``ids`` are omitted)."""
        out: dict[str, Any] = {}
        if self.compact:  # one value token per variable: each token's owner names it
            for tok in map(int, ids):
                if tok in (self.bos_token_id, self.pad_token_id, self.eos_token_id):
                    continue
                owner = int(self._token_owner[tok]) if 0 <= tok < len(self._token_owner) else -1
                if owner < 0:
                    raise ValueError(f"token {tok} is no value token")
                out[self.order[owner]] = self.decode_value(self.order[owner], [tok], rng)
            return out
        current: str | None = None
        buffer: list[int] = []
        start_to_name = {i: n for n, i in self.start_ids.items()}
        for tok in [*map(int, ids), -1]:
            if tok in start_to_name or tok == -1:
                if current is not None:
                    out[current] = self.decode_value(current, buffer, rng)
                current, buffer = start_to_name.get(tok), []
            elif tok in (self.bos_token_id, self.pad_token_id, self.eos_token_id):
                continue
            elif current is None:
                raise ValueError(f"value token {tok} before any <start_VAR> token")
            else:
                buffer.append(tok)
        return out

    def build_inputs(self, data: pd.DataFrame) -> dict[str, Any]:
        """Padded ``input_ids``/``attention_mask``/``labels`` tensors (labels only on value tokens)."""
        import torch

        if all(self.codecs[n].single_token for n in self.order):
            missing = [n for n in self.order if n not in data.columns]
            if missing:
                raise ValueError(f"data lacks the graph variables {missing}")
            columns = [np.full((len(data), 1), self.bos_token_id, dtype=np.int64)]
            for n in self.order:  # one token per value: the table is a matrix, built column by column
                columns += [np.full((len(data), 1), lead, dtype=np.int64) for lead in self.lead_ids(n)]
                columns.append(np.asarray(self.encode_column(n, data[n].tolist()), dtype=np.int64).reshape(-1, 1))
            ids = np.concatenate(columns, axis=1)
            mask = np.ones_like(ids)
        else:
            rows = self.encode_frame(data)
            width = max(len(r) for r in rows)
            ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for i, r in enumerate(rows):
                ids[i, : len(r)] = r
                mask[i, : len(r)] = 1
        labels = np.where(self.is_value_token(ids) & (mask == 1), ids, IGNORE_INDEX)
        return {
            "input_ids": torch.from_numpy(ids),
            "attention_mask": torch.from_numpy(mask),
            "labels": torch.from_numpy(labels),
        }

