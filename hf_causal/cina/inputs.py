"""Validation and encoding of user data (numpy, pandas or torch) for effect estimation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

MIN_UNITS_PER_ARM = 5
MAX_CATEGORY_LEVELS = 100


def _to_numpy(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # torch tensor, without importing torch
        values = values.detach().cpu().numpy()
    if isinstance(values, (pd.Series, pd.DataFrame)):
        values = values.to_numpy()
    try:
        return np.asarray(values)
    except Exception as err:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} could not be converted to an array: {err}") from err


def _as_vector(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def encode_covariates(covariates: Any) -> tuple[np.ndarray, list[str]]:
    """Turn covariates into a float64 ``(N, d)`` matrix and column names.

    pandas: numeric and boolean columns are kept; ``category``/``object``/string columns are one-hot
    encoded (``col=level``); anything else (dates, mixed objects) raises ``TypeError`` naming the column.
    numpy/torch: must be numeric, 1-D (one covariate) or 2-D.

    Raises:
        ValueError: NaN/inf values (naming the columns), empty input.
        TypeError: columns that cannot be encoded.
    """
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame()
    if isinstance(covariates, pd.DataFrame):
        frame = covariates
        if frame.shape[1] == 0:
            raise ValueError("no covariates given")
        parts: list[pd.DataFrame] = []
        for col in frame.columns:
            series = frame[col]
            if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
                parts.append(series.astype("float64").to_frame(str(col)))
            elif isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
                if series.isna().any():
                    raise ValueError(f"covariate column {col!r} has missing values")
                levels = series.astype(str)
                if levels.nunique() > MAX_CATEGORY_LEVELS:
                    raise TypeError(
                        f"covariate column {col!r} is non-numeric with {levels.nunique()} distinct values; "
                        f"encode it yourself (one-hot is capped at {MAX_CATEGORY_LEVELS} levels)"
                    )
                dummies = pd.get_dummies(levels, prefix=str(col), prefix_sep="=", dtype="float64")
                parts.append(dummies)
            else:
                raise TypeError(f"covariate column {col!r} has dtype {series.dtype}, which cannot be encoded")
        encoded = pd.concat(parts, axis=1)
        values = encoded.to_numpy(dtype=np.float64)
        names = [str(c) for c in encoded.columns]
    else:
        arr = _to_numpy(covariates, "covariates")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"covariates must be numeric, got dtype {arr.dtype}; pass a DataFrame to one-hot encode")
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"covariates must be 2-D (units, features), got shape {arr.shape}")
        values = arr.astype(np.float64)
        names = [f"x{i}" for i in range(values.shape[1])]
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"covariates are empty (shape {values.shape})")
    bad = ~np.isfinite(values).all(axis=0)
    if bad.any():
        cols = [names[i] for i in np.flatnonzero(bad)][:5]
        raise ValueError(f"covariates contain NaN or infinite values in columns {cols}")
    return values, names


def validate_treatment(treatment: Any, n: int) -> np.ndarray:
    """Return treatment as an int64 0/1 vector of length ``n`` or raise a ``ValueError`` saying why."""
    arr = _as_vector(_to_numpy(treatment, "treatment"), "treatment")
    if arr.shape[0] != n:
        raise ValueError(f"treatment has {arr.shape[0]} entries but covariates have {n} rows")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iuf":
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError("treatment contains NaN or infinite values")
        levels = np.unique(arr)
        if not set(levels.tolist()) <= {0, 1}:
            raise ValueError(
                f"treatment must be binary 0/1, got values {levels[:6].tolist()}{'...' if len(levels) > 6 else ''}"
            )
        arr = arr.astype(np.int64)
    else:
        raise ValueError(f"treatment must be binary 0/1 or boolean, got dtype {arr.dtype}")
    n1 = int(arr.sum())
    n0 = n - n1
    if n1 == 0 or n0 == 0:
        raise ValueError(f"treatment has a single arm ({n1} treated, {n0} controls): no effect can be estimated")
    if min(n1, n0) < MIN_UNITS_PER_ARM:
        raise ValueError(
            f"too few units per arm ({n1} treated, {n0} controls); at least {MIN_UNITS_PER_ARM} of each are needed"
        )
    return arr


def validate_outcome(outcome: Any, n: int) -> np.ndarray:
    """Return a finite float64 outcome vector of length ``n`` or raise."""
    arr = _as_vector(_to_numpy(outcome, "outcome"), "outcome")
    if arr.shape[0] != n:
        raise ValueError(f"outcome has {arr.shape[0]} entries but covariates have {n} rows")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"outcome must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("outcome contains NaN or infinite values")
    return arr


def split_frame(
    frame: pd.DataFrame, treatment: str, outcome: str, covariates: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Pick treatment, outcome and covariate columns (default: every other column) out of a DataFrame."""
    missing = [c for c in [treatment, outcome, *(covariates or [])] if c not in frame.columns]
    if missing:
        raise ValueError(f"columns not found in the data: {missing}; available: {list(frame.columns)[:20]}")
    if covariates is None:
        covariates = [c for c in frame.columns if c not in (treatment, outcome)]
    if not covariates:
        raise ValueError("no covariate columns left after removing treatment and outcome")
    return frame[list(covariates)], frame[treatment], frame[outcome]
