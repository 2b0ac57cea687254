"""User data for effect estimation: reading tables, validating and encoding covariates, treatment and outcome.

numpy and pandas only (torch tensors are accepted without importing torch), so that the command line can read
and check its input before it loads the model stack. Every problem is a ``ValueError`` or ``TypeError`` whose
one-line message names the file, column or values at fault:

* :func:`read_data_file` -- a csv / parquet / jsonl file (duplicate column names and unreadable files refused);
* :func:`split_frame`, :func:`encode_covariates`, :func:`validate_treatment`, :func:`validate_outcome`;
* :func:`check_arms_overlap` -- a covariate whose values in the two arms do not overlap determines the treatment,
  so no effect is identified without extrapolation (docs/design.md §4.7).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MIN_UNITS_PER_ARM = 5
MAX_CATEGORY_LEVELS = 100
#: A covariate whose standard deviation is below this is treated as constant by the standardisation downstream
#: (in float64 and in the network's float32); a warning says so when it is not exactly constant.
TINY_SD = 1e-12


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
        _check_unique_columns(frame.columns, "covariates")
        parts: list[pd.DataFrame] = []
        for col in frame.columns:
            series = frame[col]
            if pd.api.types.is_complex_dtype(series):  # float64 would silently drop the imaginary part
                raise TypeError(f"covariate column {col!r} is complex (dtype {series.dtype}); pass its real and "
                                "imaginary parts as two columns")
            if _is_number_column(series):
                parts.append(series.astype("float64").to_frame(str(col)))
            elif isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
                if series.isna().any():
                    raise ValueError(f"covariate column {col!r} has missing values")
                levels = series.astype(str)
                if levels.nunique() > MAX_CATEGORY_LEVELS:
                    raise TypeError(
                        f"covariate column {col!r} is non-numeric with {levels.nunique()} distinct values; "
                        f"encode it yourself (one-hot is capped at {MAX_CATEGORY_LEVELS} levels), or, if it is free "
                        "text, score it for an average effect (estimate's text_features='scores', or --text-columns "
                        "on the command line; per-unit effects do not read texts)"
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
        first = _first(~np.isfinite(values).all(axis=1))
        raise ValueError(f"covariates contain NaN or infinite values in columns {cols} (first at row {first})")
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        sd = values.std(axis=0)
    overflowing = ~np.isfinite(sd)
    if overflowing.any():
        cols = [names[i] for i in np.flatnonzero(overflowing)][:5]
        raise ValueError(f"covariate columns {cols} have values too large to standardise in float64 "
                         "(their variance overflows); rescale them")
    faint = (sd > 0) & (sd < TINY_SD)
    if faint.any():
        cols = [names[i] for i in np.flatnonzero(faint)][:5]
        warnings.warn(f"covariate columns {cols} vary by less than {TINY_SD:g} (SD {sd[faint].min():.2g}) and are "
                      "treated as constant; rescale them if that variation is real", UserWarning, stacklevel=3)
    return values, names


def encode_new_rows(new: Any, context: Any, names: Sequence[str]) -> np.ndarray:
    """Encode the rows to predict for (``X_new``) exactly as ``context`` was encoded into the columns ``names``.

    A DataFrame beside a DataFrame context must have the context's columns (in any order) and gets the context's
    one-hot levels, so a few rows need not show every level; a level the context lacks is an error naming it (no
    context unit has it, so there is nothing to predict from). A Series is one row, indexed by column. Anything
    else is read by position and must have the encoded width (a 1-D array of that length is one row), which an
    array cannot have beside a context whose categorical columns were one-hot encoded. Every error names X_new.
    """
    try:
        if isinstance(new, pd.Series) and isinstance(context, pd.DataFrame):
            new = pd.DataFrame([new.to_dict()])
        if isinstance(new, pd.DataFrame) and isinstance(context, pd.DataFrame):
            missing = [str(c) for c in context.columns if c not in new.columns]
            extra = [str(c) for c in new.columns if c not in context.columns]
            if missing or extra:
                parts = ([f"missing {missing[:8]}"] if missing else []) + ([f"not in the context {extra[:8]}"]
                                                                           if extra else [])
                raise ValueError(f"its columns must be the context's: {'; '.join(parts)}")
            new = new[list(context.columns)]
            encode_covariates(new)  # its own checks (missing values, dtypes), named as X_new's below
            numeric = [str(c) for c in context.columns if _is_number_column(context[c]) != _is_number_column(new[c])]
            if numeric:  # e.g. numbers read as strings: one-hot beside the context's numbers, or the reverse
                c = numeric[0]
                raise ValueError(f"column {c!r} has dtype {new[c].dtype} where the context's has {context[c].dtype}: "
                                 "convert it to the context's type")
            both, both_names = encode_covariates(pd.concat([context, new], ignore_index=True))
            if both_names != list(names):
                unseen = [c for c in both_names if c not in names]
                raise ValueError(f"it has category levels that no context row has: {unseen[:8]}")
            return both[len(context):]
        if isinstance(context, pd.DataFrame) and list(names) != [str(c) for c in context.columns]:
            raise ValueError(f"an array is read by position, but the context's categorical columns were one-hot "
                             f"encoded (into {list(names)[:8]}): pass X_new as a DataFrame with the context's columns")
        if not isinstance(new, (pd.DataFrame, pd.Series)):
            arr = _to_numpy(new, "X_new")
            if arr.ndim == 1 and len(names) > 1:
                if arr.shape[0] != len(names):
                    raise ValueError(f"a 1-D array is one row and needs {len(names)} values, got {arr.shape[0]}")
                new = arr[None, :]
        x_new, _ = encode_covariates(new)
        if x_new.shape[1] != len(names):
            raise ValueError(f"it has {x_new.shape[1]} columns, the context {len(names)} ({list(names)[:8]})")
        return x_new
    except (ValueError, TypeError) as err:
        message = str(err).replace("covariates ", "its values ", 1) if str(err).startswith("covariates ") else str(err)
        raise type(err)(f"X_new: {message}") from err


def _is_number_column(series: pd.Series) -> bool:
    """Whether :func:`encode_covariates` keeps the column as numbers (numeric or boolean) rather than one-hot."""
    return bool(pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series))


def _one_per_row(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D array; a single value is an error that says what was probably meant."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.api.extensions.ExtensionDtype) \
            and values.isna().any():
        # a nullable column's missing value would otherwise surface as an object array with no row named
        raise ValueError(f"{name} is missing (NA) at row {_first(values.isna().to_numpy())}")
    arr = _to_numpy(values, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} is the single value {arr.item()!r}: pass one value per row, or, with a DataFrame, "
                         "its column name as a string")
    return _as_vector(arr, name)


def validate_treatment(treatment: Any, n: int) -> np.ndarray:
    """Return treatment as an int64 0/1 vector of length ``n`` or raise a ``ValueError`` saying why."""
    arr = _one_per_row(treatment, "treatment")
    if arr.shape[0] != n:
        raise ValueError(f"treatment has {arr.shape[0]} entries but covariates have {n} rows")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iuf":
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"treatment contains NaN or infinite values (first at row {_first(~np.isfinite(arr))})")
        levels = np.unique(arr)
        if not set(levels.tolist()) <= {0, 1}:
            raise ValueError(
                f"treatment must be binary 0/1, got values {levels[:6].tolist()}{'...' if len(levels) > 6 else ''} "
                f"(first other than 0/1 at row {_first((arr != 0) & (arr != 1))})"
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
    arr = _one_per_row(outcome, "outcome")
    if arr.shape[0] != n:
        raise ValueError(f"outcome has {arr.shape[0]} entries but covariates have {n} rows")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"outcome must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"outcome contains NaN or infinite values (first at row {_first(~np.isfinite(arr))})")
    problem = outcome_scale_problem(arr)
    if problem:
        raise ValueError(problem)
    if np.ptp(arr) == 0:
        # every estimate would be exactly 0 with a zero-width interval: certainty the data cannot give (an outcome
        # with no events, say, says nothing of how treatment would change its rate)
        raise ValueError(f"outcome is constant (every row is {arr[0]:g}): there is no variation for an effect to "
                         "be estimated from")
    return arr


def outcome_scale_problem(values: np.ndarray, row: Callable[[int], str] = lambda i: f"row {i}") -> str:
    """Why finite float64 outcome ``values`` are out of float64's working range, or ``""``: a variance that
    overflows (values too large) or underflows (values too close together). ``row`` names a position (a streamed
    chunk names its rows in the table)."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        variance = values.var()
    if not np.isfinite(variance):
        i = int(np.abs(values).argmax())
        return (f"outcome values up to {abs(values[i]):.3g} ({row(i)}) are too large to compute with in float64 "
                "(their variance overflows); rescale the outcome")
    if np.ptp(values) > 0 and variance < np.finfo(np.float64).tiny:
        return (f"outcome values vary by at most {np.ptp(values):.3g}: too little to compute with in float64 "
                "(their variance underflows); rescale the outcome")
    return ""


def _first(bad: np.ndarray) -> int:
    """Position of the first ``True`` (the row an error names)."""
    return int(np.flatnonzero(bad)[0])


def split_frame(
    frame: pd.DataFrame, treatment: str, outcome: str, covariates: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Pick treatment, outcome and covariate columns (default: every other column) out of a DataFrame."""
    _check_unique_columns(frame.columns, "the data")
    check_column_roles(treatment, outcome, covariates)
    missing = [c for c in [treatment, outcome, *(covariates or [])] if c not in frame.columns]
    if missing:
        raise ValueError(f"columns not found in the data: {missing}; available: {list(frame.columns)[:20]}")
    if covariates is None:
        covariates = [c for c in frame.columns if c not in (treatment, outcome)]
    if not covariates:
        raise ValueError("no covariate columns left after removing treatment and outcome")
    return frame[list(covariates)], frame[treatment], frame[outcome]


def check_column_roles(treatment: str, outcome: str, covariates: Sequence[str] | None = None) -> None:
    """Refuse a column in two roles: the treatment as the outcome, or either of them among the covariates (the
    estimate would condition on the outcome itself and be meaningless, with no error of its own)."""
    if treatment == outcome:
        raise ValueError(f"the treatment and the outcome are the same column {treatment!r}")
    clash = [c for c in (treatment, outcome) if covariates is not None and c in covariates]
    if clash:
        roles = " and ".join(("treatment" if c == treatment else "outcome") + f" column {c!r}" for c in clash)
        raise ValueError(f"the {roles} cannot also be a covariate; drop it from the covariates")


def check_aligned(covariates: Any, treatment: Any, outcome: Any) -> None:
    """Refuse pandas inputs whose index labels disagree: the values are paired by position, so a treatment or
    outcome Series in another row order than the covariates would pair each unit with another's values and give a
    wrong number without any error."""
    indexed = [(name, value.index) for name, value in (("covariates", covariates), ("treatment", treatment),
                                                        ("outcome", outcome))
               if isinstance(value, (pd.Series, pd.DataFrame))]
    for (first, first_index), (other, index) in zip(indexed, indexed[1:], strict=False):
        if len(index) == len(first_index) and not index.equals(first_index):
            at = next((i for i, (a, b) in enumerate(zip(index, first_index, strict=True)) if not a == b), 0)
            labels = [label.item() if isinstance(label, np.generic) else label for label in (index[at], first_index[at])]
            raise ValueError(
                f"{other} and {first} have different index labels (at position {at}: {labels[0]!r} and "
                f"{labels[1]!r}); values are paired by position, so align them first (e.g. "
                f"{other}.loc[{first}.index]) or pass arrays (.to_numpy())"
            )


def validate_inputs(covariates: Any, treatment: Any, outcome: Any) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Encode and check one dataset: ``(x, names, t, y)`` as :func:`encode_covariates`, :func:`validate_treatment`
    and :func:`validate_outcome` return them, after :func:`check_aligned` and :func:`check_arms_overlap`."""
    check_aligned(covariates, treatment, outcome)
    x, names = encode_covariates(covariates)
    t = validate_treatment(treatment, x.shape[0])
    y = validate_outcome(outcome, x.shape[0])
    check_roles_apart(x, names, y)
    check_arms_overlap(x, t, names, covariate_sources(covariates, names))
    return x, names, t, y


def check_roles_apart(x: np.ndarray, names: Sequence[str], y: np.ndarray) -> None:
    """Refuse a covariate column equal to the outcome row for row: ``X = df.drop(columns=[T])`` keeps the outcome
    among the covariates, and balancing on it gives a wrong number without any error. (A copy of the treatment is
    refused by :func:`check_arms_overlap`, which names it as determining the treatment; with column names the roles
    are checked by name, :func:`check_column_roles`.)"""
    same = np.flatnonzero((x == np.asarray(y, dtype=np.float64)[:, None]).all(axis=0))
    if len(same):
        raise ValueError(f"covariate column {names[same[0]]!r} equals the outcome on every row: the outcome cannot "
                         "also be a covariate; drop it from the covariates")


def _check_unique_columns(columns: pd.Index, where: str) -> None:
    """Duplicate names make a column ambiguous (pandas returns both, or renames one ``x.1`` when reading a csv)."""
    duplicated = pd.Index(columns)[pd.Index(columns).duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"{where} has duplicate column names {duplicated[:5]}: rename them so each column is unique")


DATA_FORMATS = {".csv": "CSV", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_data_file(path: str | os.PathLike) -> pd.DataFrame:
    """Read a csv, parquet or jsonl file (by suffix) into a DataFrame.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unsupported suffix; a file its reader cannot parse (not text, not parquet, malformed
            lines), naming the file; duplicate column names (pandas would silently rename a repeated csv header
            ``x`` to ``x.1`` and use both as covariates).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    kind = DATA_FORMATS.get(suffix)
    if kind is None:
        raise ValueError(f"unsupported data format {suffix!r} of {path}: use .csv, .parquet or .jsonl")
    try:
        if kind == "CSV":
            frame = pd.read_csv(path)
            # the header as written: read_csv has already renamed repeated names
            columns = pd.Index(pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0])
        elif kind == "parquet":
            frame = pd.read_parquet(path)
            columns = frame.columns
        else:
            frame = pd.read_json(path, lines=True)
            columns = frame.columns
    except (ValueError, OSError) as err:  # decoding, parser, Arrow and JSON errors all derive from these
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is not a readable {kind} file ({reason})") from err
    _check_unique_columns(columns, str(path))
    return frame


def covariate_sources(covariates: Any, names: Sequence[str]) -> list[str]:
    """The input column each encoded covariate comes from (``"col=level"`` -> ``"col"``; arrays: the name itself)."""
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame()
    if not isinstance(covariates, pd.DataFrame):
        return list(names)
    columns = [str(c) for c in covariates.columns]
    known = set(columns)
    sources = []
    for name in names:
        if name in known:
            sources.append(name)
        else:  # a one-hot column: the longest input column it is prefixed by
            sources.append(max((c for c in columns if name.startswith(f"{c}=")), key=len, default=name))
    return sources


def _describe_range(low: float, high: float) -> str:
    low, high = float(low), float(high)
    return f"all {low:.4g}" if low == high else f"in [{low:.4g}, {high:.4g}]"


def check_arms_overlap(x: np.ndarray, treatment: np.ndarray, names: Sequence[str], sources: Sequence[str] | None = None) -> None:
    """Raise ``ValueError`` when one covariate separates the arms: its treated values and its control values
    do not overlap (``max`` of one arm below ``min`` of the other), so the covariate determines the treatment.

    Then every unit lacks a counterpart in the other arm, no weighting can balance that covariate (its SMD
    stays infinite for a 0/1 column, large otherwise) and any effect estimate is pure extrapolation
    (docs/design.md §4.7). The message names the input column (for a one-hot group, the column and its
    encoded levels) and each arm's values.

    Args:
        x: ``(N, d)`` encoded covariates (:func:`encode_covariates`).
        treatment: ``(N,)`` 0/1 treatment with both arms present (:func:`validate_treatment`).
        names: the encoded column names.
        sources: the input column of each encoded column (:func:`covariate_sources`); default ``names``.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(treatment).astype(bool)
    x1, x0 = x[t], x[~t]
    check_arm_ranges(x1.min(0), x1.max(0), x0.min(0), x0.max(0), names, sources)


def check_arm_ranges(
    low1: np.ndarray, high1: np.ndarray, low0: np.ndarray, high0: np.ndarray,
    names: Sequence[str], sources: Sequence[str] | None = None,
) -> None:
    """:func:`check_arms_overlap` from each arm's per-column minimum and maximum (what a streamed pass keeps)."""
    separated = np.flatnonzero((high1 < low0) | (high0 < low1))
    if separated.size == 0:
        return
    sources = list(names) if sources is None else list(sources)
    column = sources[separated[0]]
    encoded = [names[j] for j in separated if sources[j] == column]
    j = separated[0]
    detail = f"treated {_describe_range(low1[j], high1[j])}, controls {_describe_range(low0[j], high0[j])}"
    where = f"covariate {column!r}" if encoded == [column] else f"covariate {column!r} (one-hot {encoded[:4]})"
    others = sorted({sources[k] for k in separated} - {column})
    also = f"; also {others[:5]}" if others else ""
    raise ValueError(
        f"{where} determines the treatment: its values in the two arms do not overlap ({names[j]}: {detail}), so "
        f"no effect can be estimated from these data without extrapolation; drop it if it labels the treatment{also}"
    )
