"""``BenchmarkData`` (a benchmark as a DataFrame with roles, truth and provenance) and where its files come from.

The files ship inside PyPI packages; :func:`package_dir` and :func:`data_file` find them with
:func:`importlib.util.find_spec` and never import the (heavy) packages themselves. A missing package raises
:class:`ModuleNotFoundError` naming the ``pip install`` command. The loaders are in
:mod:`hf_causal.data.benchmarks`.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class BenchmarkData:
    """A benchmark as a DataFrame plus its roles, truth and provenance.

    Attributes:
        frame: one row per unit; contains the treatment, outcome and covariate columns (and maybe ``mu0``,
            ``mu1`` and a ``sample`` column naming the source sample).
        treatment: name of the binary (0/1) treatment column.
        outcome: name of the outcome column.
        covariates: names of the numeric covariate columns to adjust for.
        true_ate / true_att: sample estimands when known (``None`` otherwise).
        mu0 / mu1: per-unit true conditional means of the potential outcomes when known.
        name, description, citation, license: documentation for cards.
        source: provenance (``package → file``).
        truth_method: how the truth was computed.
        replication: the replication / instance that was loaded.
    """

    frame: pd.DataFrame
    treatment: str
    outcome: str
    covariates: list[str]
    true_ate: float | None
    true_att: float | None
    mu0: np.ndarray | None
    mu1: np.ndarray | None
    name: str
    description: str
    citation: str
    license: str
    source: str = ""
    truth_method: str = ""
    replication: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def X(self) -> np.ndarray:
        """Covariates as a float64 array ``(N, d)``."""
        return self.frame[self.covariates].to_numpy(dtype=np.float64)

    @property
    def T(self) -> np.ndarray:
        """Treatment as an int64 array ``(N,)``."""
        return self.frame[self.treatment].to_numpy(dtype=np.int64)

    @property
    def Y(self) -> np.ndarray:
        """Outcome as a float64 array ``(N,)``."""
        return self.frame[self.outcome].to_numpy(dtype=np.float64)

    @property
    def true_atc(self) -> float | None:
        """Sample average effect on the controls, when ``mu0``/``mu1`` are known."""
        if self.mu0 is None or self.mu1 is None:
            return None
        return float(np.mean((self.mu1 - self.mu0)[self.T == 0]))

    def truth(self) -> dict[str, Any]:
        """JSON-serialisable summary of the roles and the truth (used in cards and dataset info)."""
        return {
            "name": self.name,
            "replication": self.replication,
            "treatment": self.treatment,
            "outcome": self.outcome,
            "covariates": list(self.covariates),
            "n_units": len(self.frame),
            "n_treated": int(self.T.sum()),
            "true_ate": self.true_ate,
            "true_att": self.true_att,
            "true_atc": self.true_atc,
            "truth_method": self.truth_method,
            **self.extra,
        }

    def features(self) -> Any:
        """Explicit :class:`datasets.Features` of :attr:`frame` (treatment as ``ClassLabel``)."""
        datasets = require_datasets()
        feats = {}
        for col in self.frame.columns:
            dtype = self.frame[col].dtype
            if col == self.treatment:
                feats[col] = datasets.ClassLabel(names=["control", "treated"])
            elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
                feats[col] = datasets.Value("int64")
            elif pd.api.types.is_float_dtype(dtype):
                feats[col] = datasets.Value("float64")
            else:
                feats[col] = datasets.Value("string")
        return datasets.Features(feats)

    def to_dataset(self) -> Any:
        """This benchmark as a :class:`datasets.Dataset` with explicit features and the truth in ``info``."""
        datasets = require_datasets()
        features = self.features()
        info = datasets.DatasetInfo(
            description=self.description + "\n\nTruth: " + json.dumps(self.truth()),
            citation=self.citation,
            license=self.license,
            features=features,
        )
        frame = self.frame.reset_index(drop=True)
        return datasets.Dataset.from_pandas(frame, features=features, info=info, preserve_index=False)


def require_datasets() -> Any:
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "this needs the Hugging Face `datasets` package: pip install datasets (or hf-causal[data])"
        ) from err
    return datasets


def package_dir(module: str, benchmark: str, pip_name: str | None = None) -> Path:
    """Directory of an installed package, without importing it; a clear error when it is missing."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        pip_name = pip_name or module
        raise ModuleNotFoundError(
            f"benchmark {benchmark!r} reads its data from the `{pip_name}` package, which is not installed: "
            f"pip install {pip_name}",
            name=module,
        )
    return Path(next(iter(spec.submodule_search_locations)))


def data_file(module: str, benchmark: str, *parts: str) -> Path:
    path = package_dir(module, benchmark).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"benchmark {benchmark!r}: {path} is missing from the installed `{module}` package; "
            f"reinstall it (pip install --force-reinstall {module})"
        )
    return path
