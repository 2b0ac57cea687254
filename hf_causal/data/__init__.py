"""Datasets for hf-causal: synthetic SCM corpora and real / semi-synthetic benchmarks.

* :mod:`hf_causal.data.scm` -- random structural causal models (numpy only);
  :mod:`hf_causal.data.families` -- the named families of them (train, validation, test, ood_*).
* :mod:`hf_causal.data.benchmarks` -- LaLonde, Jobs, ACIC 2016, IHDP, NHEFS loaders (pandas), returning
  :class:`~hf_causal.data.benchmark_data.BenchmarkData`.
* :mod:`hf_causal.data.corpus` -- CInA pretraining corpora as Hugging Face datasets (one row per dataset).
* :mod:`hf_causal.data.publish` -- shared helpers of the ``dataset_scripts/`` builders (parquet + card).
* :mod:`hf_causal.data.chess_endgame` -- KQK chess endgames with move-sequence treatments and exact
  truths (the engine's chess experiment; needs ``pip install chess``).
* :mod:`hf_causal.data.text_benchmark` -- the semi-synthetic text-confounding benchmark on real review text;
  :mod:`hf_causal.data.text_confounders` -- its confounders that are a documented function of the text
  (docs/design.md §9.8).

Names are imported lazily so that importing this package does not import ``datasets`` or pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SCMConfig": "hf_causal.data.scm",
    "SyntheticDataset": "hf_causal.data.scm",
    "FamilySpec": "hf_causal.data.families",
    "FAMILIES": "hf_causal.data.families",
    "generate_dataset": "hf_causal.data.scm",
    "random_config": "hf_causal.data.families",
    "dataset_seed": "hf_causal.data.families",
    "sample_family": "hf_causal.data.families",
    "BenchmarkData": "hf_causal.data.benchmark_data",
    "list_benchmarks": "hf_causal.data.benchmarks",
    "load_benchmark_frame": "hf_causal.data.benchmarks",
    "load_benchmark": "hf_causal.data.benchmarks",
    "load_corpus": "hf_causal.data.corpus",
    "corpus_features": "hf_causal.data.corpus",
    "dataset_to_row": "hf_causal.data.corpus",
    "row_to_dataset": "hf_causal.data.corpus",
    "iter_synthetic_datasets": "hf_causal.data.corpus",
    "write_corpus": "hf_causal.data.corpus",
    "KQKEndgame": "hf_causal.data.chess_endgame",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hf_causal.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
