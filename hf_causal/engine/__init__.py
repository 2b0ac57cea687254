"""The sequencified autoregressive causal engine (Im, Zhang, Verma, Cho; arXiv 2409.18581), a wing of hf-causal.

Rows are tokenised along a causal DAG (``<start_VAR>`` tokens, one per variable, in topological
order), a decoder LM learns the factorised joint, and ``do()`` queries are answered by batched,
KV-cached, constrained ancestral sampling.

>>> from hf_causal import CausalGraph, CausalEngine                     # doctest: +SKIP
>>> engine = CausalEngine.train(df, CausalGraph(...), seed=0)            # doctest: +SKIP
>>> engine.ate(treatment="A", outcome="Y")                               # doctest: +SKIP

A pretrained decoder keeps its own vocabulary for text variables (new special tokens are appended) and can
be tuned with LoRA (PEFT); the adapter saves and loads on its own and merges into the backbone:

>>> engine = CausalEngine.train(df, graph, backbone="smollm2", lora=True)  # doctest: +SKIP
>>> engine.save_pretrained("out"); engine.merge_adapter()                # doctest: +SKIP

Modules: ``graph`` (the DAG), ``codecs`` and ``tokenization_causal*`` (rows as tokens, docs/design.md §6),
``configuration_causal_ar`` / ``modeling_causal_ar`` (the decoder; shipped as Hub remote code), ``adapters``
(LoRA), ``training_args`` / ``training`` (fitting), ``serialization`` (folders), ``planning`` and ``sampling``
(queries, docs/design.md §7), ``interventional`` (distributions), ``engine`` (``CausalEngine``), ``ensemble``
(``EngineEnsemble``: bootstrap intervals that include the model's estimation error, §7.8).
"""

from ..hub.registry import register_model
from .configuration_causal_ar import CausalARConfig
from .engine import CausalEngine
from .ensemble import EngineEnsemble
from .graph import VARIABLE_TYPES, CausalGraph, Variable
from .interventional import InterventionalDistribution
from .modeling_causal_ar import CausalARModel
from .planning import OutOfRangeWarning, Query, QueryPlanner, VariablePlan
from .tokenization_causal import CausalSequenceTokenizer
from .tokenization_causal_backbone import BackboneCausalTokenizer
from .training_args import EngineTrainingArguments

register_model(
    CausalARConfig,
    CausalARModel,
    auto_classes=("AutoModel", "AutoModelForCausalLM"),
    tokenizer_class=CausalSequenceTokenizer,
)

__all__ = [
    "VARIABLE_TYPES",
    "BackboneCausalTokenizer",
    "CausalARConfig",
    "CausalARModel",
    "CausalEngine",
    "CausalGraph",
    "CausalSequenceTokenizer",
    "EngineEnsemble",
    "EngineTrainingArguments",
    "InterventionalDistribution",
    "OutOfRangeWarning",
    "Query",
    "QueryPlanner",
    "Variable",
    "VariablePlan",
]
