"""hf-causal: causal foundation models on the Hugging Face stack.

Three methods, one sub-package each:

* :mod:`hf_causal.cina` -- CInA, attention whose last layer solves optimal covariate balancing
  (``CInAModel.from_pretrained("cina-zs-base").estimate(X, T, Y)``).
* :mod:`hf_causal.engine` -- the sequencified autoregressive causal engine (``CausalGraph``,
  ``CausalEngine``) answering ``do()`` queries by Monte-Carlo sampling.
* :mod:`hf_causal.discovery` -- lagged causal graphs from gradient attributions of a forecaster.

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
    "EffectEstimate": "hf_causal.cina.estimate",
    "CausalGraph": "hf_causal.engine.graph",
    "CausalEngine": "hf_causal.engine.engine",
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
