"""Hub helpers: checkpoints that carry their code, model cards with eval results, push and pull, the registry.

* :mod:`hf_causal.hub.remote_code` -- :func:`enable_remote_code`, :func:`remote_code_files`: checkpoints that load
  with ``trust_remote_code=True`` where hf-causal is not installed.
* :mod:`hf_causal.hub.cards` -- :func:`build_model_card`, :func:`eval_results_from_dict`,
  :func:`results_from_benchmark_records`, :func:`write_model_card`.
* :mod:`hf_causal.hub.transfer` -- :func:`save_for_hub`, :func:`push_to_hub`, :func:`push_folder`,
  :func:`push_dataset_folder` (the one way datasets are pushed), :func:`pull`, :func:`load_checkpoint`.
* :mod:`hf_causal.hub.registry` -- :func:`register_model`, filled by each wing when imported.
* :mod:`hf_causal.hub.checkpoints` -- bundled checkpoint names (``"cina-zs-base"``), folders and Hub ids resolved
  and checked in one place, before anything loads.

Nothing here needs network access except ``push_*``, ``pull`` and the existence check of a Hub id in
:func:`resolve_checkpoint` (one request, skipped when ``HF_HUB_OFFLINE`` is set).
"""

from .cards import (
    build_model_card,
    eval_results_from_dict,
    read_json_file,
    results_from_benchmark_records,
    write_model_card,
)
from .checkpoints import bundled_checkpoints, resolve_checkpoint
from .registry import ModelEntry, model_entry, register_model, registered_models
from .remote_code import RemoteCodeError, enable_remote_code, remote_code_files, remote_code_requirements
from .transfer import load_checkpoint, pull, push_dataset_folder, push_folder, push_to_hub, save_for_hub

__all__ = [
    "ModelEntry",
    "RemoteCodeError",
    "build_model_card",
    "bundled_checkpoints",
    "enable_remote_code",
    "eval_results_from_dict",
    "load_checkpoint",
    "model_entry",
    "pull",
    "push_dataset_folder",
    "push_folder",
    "push_to_hub",
    "read_json_file",
    "register_model",
    "registered_models",
    "remote_code_files",
    "remote_code_requirements",
    "resolve_checkpoint",
    "results_from_benchmark_records",
    "save_for_hub",
    "write_model_card",
]
