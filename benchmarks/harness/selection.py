"""The dataset loops of the model-selection scripts (the calibration ones, ``cross_moments_selection.py`` and
``calibration_ridge_selection.py``; the outcome-network ones, ``outcome_route_selection.py`` and its kin): every
draw through the candidates, one record per dataset; and the
``NAME=SIZE`` family lists those scripts and ``outcome_blend_validation.py`` take."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

#: ``(group, X, T, Y, true ATE)``: one selection dataset
Draw = tuple[str, np.ndarray, np.ndarray, np.ndarray, float]


@contextmanager
def module_constant(module: Any, name: str, value: Any) -> Iterator[None]:
    """``module.name`` set to ``value`` for the block, restored after it (a selection script's variant of a
    constant the library reads at call time, e.g. a gate)."""
    shipped = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, shipped)


def family_plan(specs: Iterable[str], default_size: int) -> list[tuple[str, int]]:
    """``["validation=6", "ood_mechanism"]`` -> ``[("validation", 6), ("ood_mechanism", default_size)]``."""
    return [(spec.split("=")[0], int(spec.split("=")[1]) if "=" in spec else default_size) for spec in specs]


def run_selection(draws: Iterable[Draw], total: int, candidates: Callable[[np.ndarray, np.ndarray, np.ndarray], dict],
                  records: Path | None = None) -> list[dict]:
    """``{"family", "n", "d", "truth", **candidates(X, T, Y)}`` for every draw, with a progress bar; each row is also
    appended to ``records`` (JSON lines) as soon as it exists, so a stopped run keeps what it measured."""
    from tqdm import tqdm

    if records:
        records.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for family, x, t, y, truth in tqdm(draws, total=total, desc="datasets"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overlap warnings on weak-overlap draws are expected
            row = {"family": family, "n": int(len(y)), "d": int(x.shape[1]), "truth": float(truth),
                   **candidates(x, t, y)}
        rows.append(row)
        if records:
            with records.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    return rows


def run_model_records(model: Any, draws: Iterable[tuple[str, int, np.ndarray, np.ndarray, np.ndarray, float]],
                      total: int, seed: int, record: Callable[..., dict], records: Path | None = None) -> list[dict]:
    """``{"family", "dataset", "seed", **record(model, X, T, Y, ate)}`` for every ``(family, index, X, T, Y, ate)``
    draw of the outcome-network selection scripts, with a progress bar; each row is also appended to ``records``
    as soon as it exists."""
    from tqdm import tqdm

    if records:
        records.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for family, index, x, t, y, ate in tqdm(draws, total=total, desc="datasets"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overlap warnings on weak-overlap draws are expected
            row = {"family": family, "dataset": index, "seed": seed, **record(model, x, t, y, ate)}
        rows.append(row)
        if records:
            with records.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    return rows
