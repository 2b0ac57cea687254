"""CInA: Causal Inference with Attention (Zhang et al., arXiv 2310.00809).

``CInAModel.from_pretrained("cina-zs-base").estimate(X, T, Y, estimand="ate")`` gives a zero-shot
estimate; ``method="cina"`` runs the per-dataset optimisation (Algorithm 1) instead.
"""

from .balancing import svm_dual_coefficients, svm_dual_weights
from .configuration_cina import CInAConfig
from .estimate import EffectEstimate, OverlapWarning
from .modeling_cina import CInAModel, CInAOutput
from .per_dataset import PerDatasetFit, fit_per_dataset

__all__ = [
    "CInAConfig",
    "CInAModel",
    "CInAOutput",
    "EffectEstimate",
    "OverlapWarning",
    "PerDatasetFit",
    "fit_per_dataset",
    "svm_dual_coefficients",
    "svm_dual_weights",
]
