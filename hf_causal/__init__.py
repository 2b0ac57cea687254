"""hf-causal: causal foundation models on the Hugging Face stack.

Three wings, one sub-package each, on a shared floor (docs/design.md §1):

* :mod:`hf_causal.cina` -- CInA, attention whose last layer solves optimal covariate balancing
  (``CInAModel.from_pretrained("cina-zs-base").estimate(X, T, Y)``).
* :mod:`hf_causal.engine` -- the sequencified autoregressive causal engine (``CausalGraph``,
  ``CausalEngine``) answering ``do()`` queries by Monte-Carlo sampling.
* :mod:`hf_causal.discovery` -- lagged causal graphs from gradient attributions of a forecaster.
* the floor: :mod:`hf_causal.data` (datasets), :mod:`hf_causal.backbones` (pretrained backbones),
  :mod:`hf_causal.hub` (remote code, cards, push/pull, the model registry) and :mod:`hf_causal.core`
  (``EffectEstimate``, the training loop, plotting, estimator options).

Public names are imported lazily so that ``import hf_causal`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "CInAConfig": "hf_causal.cina.configuration_cina",
    "CInAModel": "hf_causal.cina.modeling_cina",
    "CInAOutput": "hf_causal.cina.modeling_cina",
    "EffectEstimate": "hf_causal.core.results",
    "EngineTrainingArguments": "hf_causal.engine.training_args",
    "CausalGraph": "hf_causal.engine.graph",
    "CausalEngine": "hf_causal.engine.engine",
    "EngineEnsemble": "hf_causal.engine.ensemble",
    "CausalSequenceTokenizer": "hf_causal.engine.tokenization_causal",
    "discover_lagged_graph": "hf_causal.discovery",
    "load_benchmark": "hf_causal.data",
    "pipeline": "hf_causal.pipelines",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hf_causal' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
