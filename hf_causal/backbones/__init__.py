"""Pretrained backbones shared by the wings: offline model aliases and the text encoder (docs/design.md §9).

* :mod:`hf_causal.backbones.offline` -- ``resolve_backbone``: short aliases (``"minilm"``, ``"smollm2"``) for
  backbones shipped inside PyPI packages, so nothing is downloaded at run time.
* :mod:`hf_causal.backbones.text_encoder` -- ``TextEncoder`` (any BERT-style ``AutoModel``, optional LoRA) and
  ``embed_text_columns``, which turn text columns into covariates.

Needs the ``text`` extra (``pip install 'hf-causal[text]'``) for the offline MiniLM backbone; any ``AutoModel``
encoder (Hub id or local folder) works otherwise.
"""

from .offline import BACKBONE_ALIASES, minilm_path, resolve_backbone, smollm2_path
from .text_encoder import TextEncoder, embed_text_columns, validate_texts

__all__ = [
    "BACKBONE_ALIASES",
    "TextEncoder",
    "embed_text_columns",
    "minilm_path",
    "resolve_backbone",
    "smollm2_path",
    "validate_texts",
]
