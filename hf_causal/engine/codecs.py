"""Value codecs: how one variable's value becomes a short run of tokens and back.

Every codec owns a contiguous block of *local* token indices ``0 .. size-1``; the tokenizer maps
the block into the global vocabulary. A codec also states its grammar (which local tokens are
valid at each position, and when the value is complete) so that sampling can be constrained.

Continuous values have two codecs, compared in ``benchmarks/results/engine_quick.md``:

* :class:`QuantileCodec` (default, ``continuous_codec="quantile"``): one token per value, the index of
  one of ``n_bins`` empirical-quantile bins; decoding draws uniformly inside the bin, so a decoded
  value always lies in the original value's bin (resolution = bin width, finest where data are dense).
* :class:`DigitCodec` (``continuous_codec="digits"``): ``n_digits`` tokens naming one of ``10**n_digits``
  equal cells of the min-max range, most significant digit first.

Digits were the more accurate of the two on confounded synthetic SCMs with continuous confounders, at a
higher sampling cost (several tokens per value instead of one); the measurements are in
``benchmarks/results/engine_quick.md``. Quantile bins stay the default for speed and for the exact within-bin
guarantee; pass ``continuous_codec="digits"`` when continuous confounders drive the effect. See
docs/design.md §6.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def _scalar(value: Any) -> Any:
    """A JSON-friendly Python scalar (numpy scalars unwrapped)."""
    return value.item() if isinstance(value, np.generic) else value


#: Fewest quantile bins of a continuous variable: one bin holds every value, so the model could only ever answer
#: its mean, and every effect on it would be exactly 0.
MIN_BINS = 2


def check_bins(n_bins: Any, name: str | None = None) -> int:
    """``n_bins`` as an int of at least :data:`MIN_BINS`, or an error naming the variable (when ``name`` is given)."""
    owner = "n_bins" if name is None else f"variable {name!r}: n_bins"
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral):
        raise TypeError(f"{owner} must be an integer >= {MIN_BINS}, got {n_bins!r}")
    if n_bins < MIN_BINS:
        raise ValueError(f"{owner} must be >= {MIN_BINS}, got {n_bins}: a continuous variable in one bin takes a "
                         "single value in the model, so every effect on it would be 0")
    return int(n_bins)


def _is_nan(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _check_finite_number(name: str, value: Any) -> None:
    """Refuse NaN and infinite numbers: a bin or a digit cell cannot hold them (an infinite value would be clamped
    to the edge and, under ``do()``, reported back verbatim as inf)."""
    if _is_nan(value):
        raise ValueError(f"variable {name!r}: NaN values are not supported")
    if isinstance(value, (float, np.floating)) and math.isinf(value):
        raise ValueError(f"variable {name!r}: infinite values are not supported, got {value!r}")


def _range_note(values: Sequence[Any], low: float, high: float) -> str | None:
    """Why some numeric ``values`` lie outside ``[low, high]``, the range seen in training; ``None`` if none do."""
    arr = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    outside = np.isfinite(arr) & ((arr < low) | (arr > high))  # NaN, inf and non-numbers: encode() refuses those
    if not outside.any():
        return None
    worst = arr[outside][np.argmax(np.abs(arr[outside] - 0.5 * (low + high)))]
    count = f"{int(outside.sum())} of {arr.size} values lie" if arr.size > 1 else "the value lies"
    return (
        f"{count} outside the range seen in training [{low:.6g}, {high:.6g}] (e.g. {worst:.6g}): the model has "
        "no data there and encodes such a value as the nearest edge, so the answer is that of the edge"
    )


def _token_text(value: Any) -> str:
    text = "".join("_" if ch.isspace() else ch for ch in str(value))
    return text or "_"


class ValueCodec:
    """Base class. Subclasses define ``size``, ``token_names`` and the encode/decode pair, and say what queries
    may do with their values (the class attributes and methods below), so callers never switch on the class."""

    kind: str = ""
    #: ``True`` when the value takes a variable number of tokens closed by an end token.
    variable_length: bool = False
    #: ``True`` when a value is one token, so exact probabilities over the values are one softmax.
    single_token: bool = False
    #: ``True`` when the values are finitely many levels (probabilities of each value are meaningful).
    discrete: bool = False
    #: ``True`` when one value is itself a list (a sequence), so a list in ``given=`` is not one value per row.
    list_is_one_value: bool = False
    #: ``True`` when decoding returns the encoded value itself; ``False`` for binned numbers, which decode to a
    #: draw inside the bin (a clamped ``do()`` value is then reported as given, not decoded).
    decodes_exactly: bool = True

    @property
    def size(self) -> int:
        """Number of value tokens this codec adds to the vocabulary."""
        return len(self.token_names())

    def token_names(self) -> list[str]:
        """Suffixes of this codec's token strings, one per local index."""
        raise NotImplementedError

    def length(self) -> int:
        """Number of tokens of a fixed-length value (the maximum for variable-length ones)."""
        return 1

    def encode(self, value: Any) -> list[int]:
        """Local token indices of ``value``; raises ``ValueError`` on values the codec cannot represent."""
        raise NotImplementedError

    def decode(self, local: Sequence[int], rng: np.random.Generator | None = None) -> Any:
        """Value of local token indices (``rng`` draws the within-bin position; ``None`` gives bin centres)."""
        raise NotImplementedError

    def allowed(self, position: int) -> np.ndarray:
        """Boolean mask over local indices valid at ``position`` within the value."""
        return np.ones(self.size, dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (with ``kind``), saved in the tokenizer's files."""
        raise NotImplementedError

    def binary_levels(self) -> tuple[Any, Any] | None:
        """``(control, treated)`` default arms of a two-level variable (smaller level first), else ``None``."""
        return None

    def non_numeric_reason(self) -> str | None:
        """Why an effect on this variable cannot be a number (to finish ``"outcome 'Y' ..."``), or ``None``."""
        return None

    def partial_positions(self, value: Any) -> bool:
        """Whether ``value`` is a partial intervention ``{position: element}`` on this variable."""
        return False

    def out_of_range(self, values: Sequence[Any]) -> str | None:
        """Why some of ``values`` lie outside what training saw, which the codec would silently clamp (numeric
        codecs: their edges), or ``None``. Values the codec cannot encode at all are :meth:`encode`'s to refuse."""
        return None

    def score_columns(self) -> list[Any]:
        """The value each local token stands for in exact probabilities (``single_token`` codecs only)."""
        raise ValueError(f"variable {self.name!r}: exact probabilities need a one-token value")

    def encode_many(self, values: Sequence[Any]) -> np.ndarray | None:
        """Local indices of many single-token values at once, or ``None`` when only :meth:`encode` applies."""
        return None

    def decode_many(self, local: np.ndarray, rng: np.random.Generator | None = None) -> Any:
        """Values of many single-token values at once, or ``None`` when only :meth:`decode` applies."""
        return None

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ValueCodec:
        """Rebuild the codec of the ``kind`` named in ``data`` (the inverse of ``to_dict``)."""
        kinds = {c.kind: c for c in (CategoricalCodec, QuantileCodec, DigitCodec, SequenceCodec, BackboneTextCodec)}
        data = dict(data)
        kind = data.pop("kind")
        if kind not in kinds:
            raise ValueError(f"unknown codec kind {kind!r}")
        return kinds[kind](**data)


class CategoricalCodec(ValueCodec):
    """One token per level (binary, categorical and small-range integer variables)."""

    kind = "categorical"
    single_token = True
    discrete = True

    def __init__(self, levels: Sequence[Any], name: str = "") -> None:
        self.levels = [_scalar(v) for v in levels]
        if not self.levels:
            raise ValueError(f"variable {name!r}: no levels")
        self.name = name
        self._index: dict[Any, int] = {}
        for i, level in enumerate(self.levels):
            if level in self._index:
                raise ValueError(f"variable {name!r}: duplicate level {level!r}")
            self._index[level] = i

    def token_names(self) -> list[str]:
        names = [_token_text(v) for v in self.levels]
        if len(set(names)) != len(names):  # distinct levels that print alike
            names = [f"#{i}" for i in range(len(names))]
        return names

    def encode(self, value: Any) -> list[int]:
        value = _scalar(value)
        try:
            return [self._index[value]]
        except (KeyError, TypeError):
            pass
        if isinstance(value, str):  # "1" for an integer level, as from a CLI or a JSON file
            for level, i in self._index.items():
                if str(level) == value:
                    return [i]
        raise ValueError(f"variable {self.name!r}: unknown value {value!r}; levels are {self.levels}")

    def decode(self, local: Sequence[int], rng: np.random.Generator | None = None) -> Any:
        return self.levels[int(local[0])]

    def decode_many(self, local: np.ndarray, rng: np.random.Generator | None = None) -> pd.Series:
        levels = np.empty(len(self.levels), dtype=object)
        levels[:] = self.levels
        return pd.Series(levels[np.asarray(local, dtype=np.int64)]).infer_objects()

    def binary_levels(self) -> tuple[Any, Any] | None:
        return (self.levels[0], self.levels[1]) if len(self.levels) == 2 else None

    def non_numeric_reason(self) -> str | None:
        if all(isinstance(v, (int, float, bool)) for v in self.levels):
            return None
        return "has non-numeric levels; use interventional_distribution()"

    def score_columns(self) -> list[Any]:
        return list(self.levels)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "levels": list(self.levels), "name": self.name}


class QuantileCodec(ValueCodec):
    """Quantile bins: a value becomes the index of its bin; decoding draws uniformly inside the bin.

    Args:
        edges: increasing bin edges (``len(edges) - 1`` bins); values outside are clipped.
        integer: round decoded values (integer variables with many distinct values).
        means: the training values' mean within each bin: what a bin stands for in exact expectations
            (:meth:`score_columns`). A bin's midpoint is a poor stand-in for the wide tail bins of skewed data;
            codecs saved without means use the midpoints.
    """

    kind = "quantile"
    single_token = True
    decodes_exactly = False

    def __init__(
        self, edges: Sequence[float], integer: bool = False, name: str = "", means: Sequence[float] | None = None
    ) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        if self.edges.ndim != 1 or len(self.edges) < 2 or np.any(np.diff(self.edges) < 0):
            raise ValueError(f"variable {name!r}: edges must be an increasing list of >= 2 numbers")
        self.integer = bool(integer)
        self.name = name
        self.means = None if means is None else np.asarray(means, dtype=np.float64)
        if self.means is not None and self.means.shape != (len(self.edges) - 1,):
            raise ValueError(f"variable {name!r}: means must hold one number per bin")

    @classmethod
    def fit(cls, values: np.ndarray, n_bins: int, integer: bool = False, name: str = "") -> QuantileCodec:
        """Edges at the empirical quantiles of ``values`` (ties merged), and each bin's mean value."""
        values = np.asarray(values, dtype=np.float64)
        edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))
        if len(edges) == 1:
            edges = np.array([edges[0], edges[0]])
        codec = cls(edges, integer=integer, name=name)
        bins = codec.bin_of(values)
        counts = np.bincount(bins, minlength=len(edges) - 1)
        sums = np.bincount(bins, weights=values, minlength=len(edges) - 1)
        midpoints = 0.5 * (edges[:-1] + edges[1:])
        codec.means = np.where(counts > 0, sums / np.maximum(counts, 1), midpoints)
        return codec

    def token_names(self) -> list[str]:
        return [f"bin{i}" for i in range(len(self.edges) - 1)]

    def bin_of(self, values: np.ndarray) -> np.ndarray:
        """Vectorised bin index of ``values``."""
        idx = np.searchsorted(self.edges, np.asarray(values, dtype=np.float64), side="right") - 1
        return np.clip(idx, 0, len(self.edges) - 2)

    def encode(self, value: Any) -> list[int]:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"variable {self.name!r}: expected a number, got {value!r}")
        _check_finite_number(self.name, value)
        return [int(self.bin_of(np.array([value]))[0])]

    def decode_bins(self, bins: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Vectorised decoding of bin indices."""
        bins = np.asarray(bins, dtype=np.int64)
        lo, hi = self.edges[bins], self.edges[bins + 1]
        u = rng.random(len(bins)) if rng is not None else np.full(len(bins), 0.5)
        out = lo + u * (hi - lo)
        return np.rint(out) if self.integer else out

    def decode(self, local: Sequence[int], rng: np.random.Generator | None = None) -> Any:
        value = float(self.decode_bins(np.array([int(local[0])]), rng)[0])
        return int(value) if self.integer else value

    def encode_many(self, values: Sequence[Any]) -> np.ndarray:
        arr = pd.Series(values)
        if not pd.api.types.is_numeric_dtype(arr) or pd.api.types.is_bool_dtype(arr):
            raise TypeError(f"variable {self.name!r} must hold numbers")
        arr = arr.to_numpy(dtype=np.float64)
        if np.isnan(arr).any():
            raise ValueError(f"variable {self.name!r} has NaN values")
        if np.isinf(arr).any():
            raise ValueError(f"variable {self.name!r} has infinite values")
        return self.bin_of(arr)

    def decode_many(self, local: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        values = self.decode_bins(local, rng)
        return values.astype(np.int64) if self.integer else values

    def out_of_range(self, values: Sequence[Any]) -> str | None:
        return _range_note(values, float(self.edges[0]), float(self.edges[-1]))

    def score_columns(self) -> list[Any]:
        """Each bin's mean training value (its midpoint for codecs saved without means)."""
        if self.means is not None:
            return list(self.means)
        return list(0.5 * (self.edges[:-1] + self.edges[1:]))

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "edges": self.edges.tolist(), "integer": self.integer, "name": self.name}
        if self.means is not None:
            out["means"] = self.means.tolist()
        return out


class DigitCodec(ValueCodec):
    """Fixed-point digits of the min-max scaled value: ``n_digits`` tokens from ``0..9``.

    The value range ``[low, high]`` is cut into ``10**n_digits`` equal cells; the digits name the
    cell (most significant first) and decoding draws uniformly inside it.
    """

    kind = "digits"
    decodes_exactly = False

    def __init__(self, low: float, high: float, n_digits: int = 3, integer: bool = False, name: str = "") -> None:
        if not high >= low:
            raise ValueError(f"variable {name!r}: need high >= low")
        self.low, self.high, self.n_digits = float(low), float(high), int(n_digits)
        self.integer = bool(integer)
        self.name = name

    @classmethod
    def fit(cls, values: np.ndarray, n_digits: int = 3, integer: bool = False, name: str = "") -> DigitCodec:
        values = np.asarray(values, dtype=np.float64)
        return cls(float(values.min()), float(values.max()), n_digits, integer=integer, name=name)

    def token_names(self) -> list[str]:
        return [str(d) for d in range(10)]

    def length(self) -> int:
        return self.n_digits

    def _cells(self) -> int:
        return 10**self.n_digits

    def encode(self, value: Any) -> list[int]:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"variable {self.name!r}: expected a number, got {value!r}")
        _check_finite_number(self.name, value)
        span = self.high - self.low
        u = 0.0 if span == 0 else (float(value) - self.low) / span
        cell = int(min(max(math.floor(u * self._cells()), 0), self._cells() - 1))
        return [int(d) for d in str(cell).zfill(self.n_digits)]

    def out_of_range(self, values: Sequence[Any]) -> str | None:
        return _range_note(values, self.low, self.high)

    def decode(self, local: Sequence[int], rng: np.random.Generator | None = None) -> Any:
        cell = int("".join(str(int(d)) for d in local))
        u = rng.random() if rng is not None else 0.5
        value = self.low + (cell + u) / self._cells() * (self.high - self.low)
        return int(round(value)) if self.integer else value

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "low": self.low, "high": self.high, "n_digits": self.n_digits,
            "integer": self.integer, "name": self.name,
        }


class SequenceCodec(ValueCodec):
    """A variable-length sequence of elements closed by an end token (the last local index).

    Args:
        elements: the element vocabulary.
        max_length: longest sequence; sampling forces the end token there.
        text: values are strings split on whitespace (decoded by joining with a space).
    """

    kind = "sequence"
    variable_length = True
    list_is_one_value = True

    def __init__(self, elements: Sequence[Any], max_length: int, text: bool = False, name: str = "") -> None:
        self.inner = CategoricalCodec(elements, name=name) if len(elements) else None
        self.elements = [_scalar(e) for e in elements]
        self.max_length = int(max_length)
        self.text = bool(text)
        self.name = name

    @property
    def end(self) -> int:
        """Local index of the end token."""
        return len(self.elements)

    def token_names(self) -> list[str]:
        names = self.inner.token_names() if self.inner is not None else []
        return [*names, "<end>"]

    def length(self) -> int:
        return self.max_length + 1

    def as_list(self, value: Any) -> list[Any]:
        """Normalise a value (list, tuple, array or, for text, a string) into a list of elements."""
        if self.text:
            if not isinstance(value, str):
                raise TypeError(f"variable {self.name!r}: expected a string, got {type(value).__name__}")
            return value.split()
        if isinstance(value, str):
            raise TypeError(
                f"variable {self.name!r}: a sequence value must be a list/tuple of elements, got a string"
            )
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"variable {self.name!r}: expected a list/tuple, got {type(value).__name__}")
        return list(value)

    def encode(self, value: Any) -> list[int]:
        items = self.as_list(value)
        if len(items) > self.max_length:
            raise ValueError(f"variable {self.name!r}: length {len(items)} exceeds max_length {self.max_length}")
        if items and self.inner is None:
            raise ValueError(f"variable {self.name!r}: no known elements")
        return [*(self.inner.encode(e)[0] for e in items), self.end]

    def decode(self, local: Sequence[int], rng: np.random.Generator | None = None) -> Any:
        items = [self.elements[int(i)] for i in local if int(i) != self.end]
        return " ".join(str(i) for i in items) if self.text else items

    def non_numeric_reason(self) -> str | None:
        return "is a sequence; effects need a numeric outcome"

    def partial_positions(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def allowed(self, position: int) -> np.ndarray:
        mask = np.ones(self.size, dtype=bool)
        if position >= self.max_length:
            mask[:] = False
            mask[self.end] = True
        return mask

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "elements": list(self.elements), "max_length": self.max_length,
            "text": self.text, "name": self.name,
        }


class BackboneTextCodec(SequenceCodec):
    """Text as token ids of a pretrained backbone's tokenizer, closed by the variable's own end token.

    Used by :class:`~hf_causal.engine.tokenization_causal_backbone.BackboneCausalTokenizer`. Local indices
    ``0 .. vocab_size-1`` *are* the backbone's ids (so the pretrained embeddings apply); local ``vocab_size``
    is the end token, which the tokenizer places after the backbone vocabulary. The codec works on ids: the
    tokenizer turns strings into ids and back.

    Args:
        vocab_size: size of the backbone vocabulary (largest id + 1).
        max_length: most backbone tokens per value; sampling forces the end token there.
        blocked: backbone ids never valid inside a value (its special tokens: ``<|endoftext|>``, ``[CLS]``...).
    """

    kind = "backbone_text"

    def __init__(self, vocab_size: int, max_length: int, blocked: Sequence[int] = (), name: str = "") -> None:
        if int(vocab_size) <= 0 or int(max_length) <= 0:
            raise ValueError(f"variable {name!r}: vocab_size and max_length must be positive")
        self.vocab_size = int(vocab_size)
        self.max_length = int(max_length)
        self.blocked = sorted({int(i) for i in blocked})
        self.name = name
        self.text = True
        self.inner = None  # elements are backbone ids, not a categorical block
        self.elements: list[Any] = []
        mask = np.ones(self.vocab_size + 1, dtype=bool)
        mask[self.blocked] = False
        self._inside = mask  # valid before max_length: unblocked backbone ids and the end token
        self._at_end = np.zeros(self.vocab_size + 1, dtype=bool)
        self._at_end[self.vocab_size] = True

    @property
    def size(self) -> int:
        return self.vocab_size + 1

    @property
    def end(self) -> int:
        return self.vocab_size

    def token_names(self) -> list[str]:
        raise NotImplementedError("backbone text tokens are the backbone's own; only the end token is new")

    def encode(self, value: Any) -> list[int]:
        """Local indices of a list of backbone ids (the tokenizer tokenises strings first)."""
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
            raise TypeError(f"variable {self.name!r}: expected a list of backbone token ids, got {type(value).__name__}")
        ids = [int(i) for i in value]
        if len(ids) > self.max_length:
            raise ValueError(f"variable {self.name!r}: {len(ids)} tokens exceed max_length {self.max_length}")
        bad = [i for i in ids if not 0 <= i < self.vocab_size or not self._inside[i]]
        if bad:
            raise ValueError(f"variable {self.name!r}: ids {bad[:5]} are special or outside the backbone vocabulary")
        return [*ids, self.end]

    def decode(self, local: Sequence[int], rng: np.random.Generator | None = None) -> list[int]:
        """Backbone ids of a value (end token dropped); the tokenizer decodes them to a string."""
        return [int(i) for i in local if int(i) != self.end]

    def allowed(self, position: int) -> np.ndarray:
        return self._at_end if position >= self.max_length else self._inside

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "vocab_size": self.vocab_size, "max_length": self.max_length,
            "blocked": list(self.blocked), "name": self.name,
        }
