"""Cross-fitting folds that keep both arms in every fold (CInA's calibrated CATE, scored text columns)."""

from __future__ import annotations

import numpy as np

__all__ = ["arm_stratified_folds"]


def arm_stratified_folds(treatment: np.ndarray, folds: int = 2, seed: int = 0) -> np.ndarray:
    """``(N,)`` fold index of each unit, each arm dealt round-robin over the folds in a seeded random order (so
    every fold, and every fold's complement, holds both arms in the sample's proportions)."""
    rng = np.random.default_rng(seed)
    t = np.asarray(treatment).astype(np.int64)
    fold = np.empty(len(t), dtype=np.int64)
    for arm in (0, 1):
        idx = np.flatnonzero(t == arm)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % folds
    return fold
