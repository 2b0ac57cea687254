"""Time-lagged causal discovery from a transformer forecaster's attributions, a wing of hf-causal.

Implements the idea of Wang, Wang & Huang (arXiv 2601.05647): train a causal-masked transformer to
forecast a multivariate time series, then aggregate attributions of its forecasts with respect to
lagged inputs into a ``[source, target, lag]`` score tensor and threshold it.

>>> from hf_causal.discovery import discover_lagged_graph, nonlinear_var
>>> sim = nonlinear_var(n_vars=4, n_steps=3000, max_lag=2, seed=0)
>>> graph = discover_lagged_graph(sim.data, max_lag=2)      # doctest: +SKIP
>>> graph.adjacency.shape                                   # doctest: +SKIP
(4, 4, 2)
"""

from ..hub.registry import register_model
from .api import LaggedCausalGraph, discover_lagged_graph
from .attribution import ATTRIBUTION_METHODS, lagged_attributions
from .configuration_forecaster import ForecasterConfig
from .generators import (
    GENERATORS,
    SimulatedSeries,
    heterogeneous_collection,
    linear_var,
    long_lag_var,
    nonlinear_var,
    regime_switching_var,
)
from .metrics import auroc, lagged_graph_metrics
from .modeling_forecaster import CausalForecasterModel, ForecasterOutput
from .thresholding import THRESHOLD_RULES, otsu_threshold, threshold_scores

register_model(ForecasterConfig, CausalForecasterModel)

__all__ = [
    "ATTRIBUTION_METHODS",
    "GENERATORS",
    "THRESHOLD_RULES",
    "CausalForecasterModel",
    "ForecasterConfig",
    "ForecasterOutput",
    "LaggedCausalGraph",
    "SimulatedSeries",
    "auroc",
    "discover_lagged_graph",
    "heterogeneous_collection",
    "lagged_attributions",
    "lagged_graph_metrics",
    "linear_var",
    "long_lag_var",
    "nonlinear_var",
    "otsu_threshold",
    "regime_switching_var",
    "threshold_scores",
]
