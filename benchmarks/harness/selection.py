"""The dataset loop of the calibration model-selection scripts (``cross_moments_selection.py``,
``calibration_ridge_selection.py``): every draw through the candidates, one record per dataset; and the
``NAME=SIZE`` family lists those scripts and ``outcome_blend_validation.py`` take."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

#: ``(group, X, T, Y, true ATE)``: one selection dataset
Draw = tuple[str, np.ndarray, np.ndarray, np.ndarray, float]


def family_plan(specs: Iterable[str], default_size: int) -> list[tuple[str, int]]:
    """``["validation=6", "ood_mechanism"]`` -> ``[("validation", 6), ("ood_mechanism", default_size)]``."""
    return [(spec.split("=")[0], int(spec.split("=")[1]) if "=" in spec else default_size) for spec in specs]


def run_selection(draws: Iterable[Draw], total: int, candidates: Callable[[np.ndarray, np.ndarray, np.ndarray], dict],
                  records: Path | None = None) -> list[dict]:
    """``{"family", "n", "d", "truth", **candidates(X, T, Y)}`` for every draw, with a progress bar; each row is also
    appended to ``records`` (JSON lines) as soon as it exists, so a stopped run keeps what it measured."""
    from tqdm import tqdm

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
