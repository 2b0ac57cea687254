"""CInA: Causal Inference with Attention (Zhang et al., arXiv 2310.00809), a wing of hf-causal.

``CInAModel.from_pretrained("cina-zs-base").estimate(X, T, Y, estimand="ate")`` gives a zero-shot
estimate; ``method="cina"`` runs the per-dataset optimisation (Algorithm 1) instead. The mathematics:
docs/design.md §2-§5.

Modules: ``configuration_cina`` / ``modeling_cina`` (the model; shipped as Hub remote code with ``attention``
and ``balancing``), ``per_dataset`` (Algorithm 1), ``svm`` (the exact reference solver), ``calibration`` and
``outcome`` (the estimator's parts), ``estimator`` (``estimate_effect``), ``inputs`` (user data), ``collate``
(padding datasets into batches), ``text_finetune`` (LoRA-tuning a text encoder through CInA's loss).
"""

from ..hub.registry import register_model
from .configuration_cina import CInAConfig
from .estimator import OverlapWarning
from .modeling_cina import CInAModel, CInAOutput
from .per_dataset import PerDatasetFit, fit_per_dataset
from .svm import svm_dual_coefficients, svm_dual_weights

register_model(CInAConfig, CInAModel)

__all__ = [
    "CInAConfig",
    "CInAModel",
    "CInAOutput",
    "OverlapWarning",
    "PerDatasetFit",
    "fit_per_dataset",
    "svm_dual_coefficients",
    "svm_dual_weights",
]
