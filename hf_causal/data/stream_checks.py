"""Checking and encoding the chunks of a streamed table against one schema (docs/design.md §4.9).

The first chunk fixes the columns and their dtypes; a pass over the categorical covariates fixes their levels.
Every chunk is then checked and encoded exactly as :func:`hf_causal.data.inputs.encode_covariates`,
:func:`~hf_causal.data.inputs.validate_treatment` and :func:`~hf_causal.data.inputs.validate_outcome` encode
an in-memory table (the same float64 values, the same one-hot columns in the same order), and anything wrong
stops the estimate with a ``ValueError`` / ``TypeError`` that names the chunk, its rows and the first bad row:
a missing column, a changed dtype, NaN or infinite values, a missing or non-0/1 treatment, a new category, outcomes
out of float64's working range. What only the whole table shows (a covariate's or the outcome's variance overflowing,
a constant outcome) is checked after the first pass (:func:`hf_causal.cina.streaming.check_table_scales`).

numpy and pandas only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .inputs import MAX_CATEGORY_LEVELS, check_column_roles, outcome_scale_problem


@dataclass(frozen=True)
class ChunkPlace:
    """Where a chunk sits in the stream: its number, its first row in the table, its size, its file (or other
    partition) and its first row there (``-1``: the same as in the table, a table of one partition)."""

    chunk: int
    start: int
    rows: int
    label: str = ""
    start_in_label: int = -1

    @property
    def _in_part(self) -> bool:
        return self.label != "" and self.start_in_label not in (-1, self.start)

    def __str__(self) -> str:
        span = f"{self.start:,}-{self.start + self.rows - 1:,}"
        if self._in_part:  # say both, so that a row number is found in the file as well as in the table
            local = f"{self.start_in_label:,}-{self.start_in_label + self.rows - 1:,}"
            return f"chunk {self.chunk} (rows {span} of the table: rows {local} of {self.label})"
        where = f" of {self.label}" if self.label else ""
        return f"chunk {self.chunk} (rows {span}{where})"

    def row(self, i: int) -> str:
        """``"chunk 3 (rows ...), row 200,017"``: the table-wide number of the chunk's ``i``-th row (and, in a table
        of several files, its number in its file)."""
        local = f" (row {self.start_in_label + int(i):,} of {self.label})" if self._in_part else ""
        return f"{self}, row {self.start + int(i):,}{local}"


def dtype_family(dtype: object) -> str:
    """``bool``, ``integer``, ``float``, ``categorical`` (category, object, string) or ``other``."""
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "other"


class StreamSchema:
    """Columns, dtypes and categorical levels of a streamed table, fixed from its first chunk.

    Args:
        head: the first rows of the table.
        treatment, outcome: column names.
        covariates: covariate columns (default: every other column of ``head``).
    """

    def __init__(self, head: pd.DataFrame, treatment: str, outcome: str, covariates: Sequence[str] | None = None) -> None:
        columns = [str(c) for c in head.columns]
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        if duplicated:
            raise ValueError(f"the data has duplicate column names {duplicated[:5]}: rename them so each column is unique")
        check_column_roles(str(treatment), str(outcome), None if covariates is None else [str(c) for c in covariates])
        if covariates is None:
            covariates = [c for c in columns if c not in (treatment, outcome)]
        self.covariates = [str(c) for c in covariates]
        repeated = sorted({c for c in self.covariates if self.covariates.count(c) > 1})
        if repeated:
            raise ValueError(f"covariates name the columns {repeated[:5]} more than once: name each column once")
        self.treatment, self.outcome = str(treatment), str(outcome)
        if not self.covariates:
            raise ValueError("no covariate columns left after removing treatment and outcome")
        self.columns = [*self.covariates, self.treatment, self.outcome]
        missing = [c for c in self.columns if c not in columns]
        if missing:
            raise ValueError(f"columns not found in the data: {missing}; available: {columns[:20]}")
        self.dtypes = {c: head[c].dtype for c in self.columns}
        self.families = {c: dtype_family(self.dtypes[c]) for c in self.columns}
        for col in self.covariates:
            if self.families[col] == "other":
                raise TypeError(f"covariate column {col!r} has dtype {self.dtypes[col]}, which cannot be encoded")
        for col, role in ((self.treatment, "treatment"), (self.outcome, "outcome")):
            if self.families[col] not in ("bool", "integer", "float"):
                raise ValueError(f"{role} column {col!r} must be numeric or boolean, got dtype {self.dtypes[col]}")
        self.categorical = [c for c in self.covariates if self.families[c] == "categorical"]
        self.levels: dict[str, list[str]] = {}
        self.names: list[str] = [] if self.categorical else list(self.covariates)
        #: the input column of each encoded column
        self.sources: list[str] = list(self.names)

    # -- structure ---------------------------------------------------------------------------------------

    def check_structure(self, frame: pd.DataFrame, place: ChunkPlace) -> None:
        """Every column present, with the dtype family of the first chunk."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{place}: column{'s' if len(missing) > 1 else ''} {missing} missing")
        for col in self.columns:
            family = dtype_family(frame[col].dtype)
            if family != self.families[col]:
                raise ValueError(
                    f"{place}: column {col!r} changed dtype from {self.dtypes[col]} (first chunk) to {frame[col].dtype}"
                )

    def chunk_levels(self, frame: pd.DataFrame, place: ChunkPlace) -> dict[str, set[str]]:
        """The levels of the categorical covariates in one chunk (after the structure check)."""
        self.check_structure(frame, place)
        out = {}
        for col in self.categorical:
            series = frame[col]
            bad = series.isna().to_numpy()
            if bad.any():
                raise ValueError(f"{place.row(np.flatnonzero(bad)[0])}: covariate {col!r} is missing")
            out[col] = set(series.astype(str).unique().tolist())
        return out

    def set_levels(self, levels: dict[str, set[str]]) -> None:
        """Fix the one-hot levels (sorted, as ``pd.get_dummies`` orders them) and the encoded column names."""
        names, sources = [], []
        for col in self.covariates:
            if col in self.categorical:
                found = sorted(levels.get(col, set()))
                if len(found) > MAX_CATEGORY_LEVELS:
                    raise TypeError(
                        f"covariate column {col!r} is non-numeric with {len(found)} distinct values; "
                        f"encode it yourself (one-hot is capped at {MAX_CATEGORY_LEVELS} levels)"
                    )
                self.levels[col] = found
                names += [f"{col}={level}" for level in found]
                sources += [col] * len(found)
            else:
                names.append(col)
                sources.append(col)
        self.names, self.sources = names, sources

    # -- values ------------------------------------------------------------------------------------------

    def encode(self, frame: pd.DataFrame, place: ChunkPlace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, t, y)``: float64 covariates (one-hot as in-memory), int64 0/1 treatment, float64 outcome."""
        self.check_structure(frame, place)
        n = len(frame)
        x = np.empty((n, len(self.names)), dtype=np.float64)
        j = 0
        for col in self.covariates:
            series = frame[col]
            if col in self.levels:
                values = series.astype(str).to_numpy()
                if series.isna().any():
                    raise ValueError(f"{place.row(np.flatnonzero(series.isna().to_numpy())[0])}: covariate {col!r} is missing")
                levels = self.levels[col]
                known = np.isin(values, levels)
                if not known.all():
                    i = np.flatnonzero(~known)[0]
                    raise ValueError(f"{place.row(i)}: covariate {col!r} has the level {values[i]!r}, not seen in the levels pass")
                for level in levels:
                    x[:, j] = values == level
                    j += 1
            else:
                x[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
                bad = ~np.isfinite(x[:, j])
                if bad.any():
                    i = np.flatnonzero(bad)[0]
                    raise ValueError(f"{place.row(i)}: covariate {col!r} is {x[i, j]} (NaN or infinite)")
                j += 1
        return x, self._treatment(frame[self.treatment], place), self._outcome(frame[self.outcome], place)

    def _treatment(self, series: pd.Series, place: ChunkPlace) -> np.ndarray:
        missing = series.isna().to_numpy()
        if missing.any():  # a nullable boolean or integer column: its NA has no 0/1 to convert to
            raise ValueError(f"{place.row(np.flatnonzero(missing)[0])}: treatment {self.treatment!r} is missing")
        if self.families[self.treatment] == "bool":
            return series.to_numpy(dtype=np.int64)
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~((values == 0) | (values == 1))
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise ValueError(f"{place.row(i)}: treatment {self.treatment!r} is {values[i]:g}, not 0 or 1")
        return values.astype(np.int64)

    def _outcome(self, series: pd.Series, place: ChunkPlace) -> np.ndarray:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise ValueError(f"{place.row(i)}: outcome {self.outcome!r} is {values[i]} (NaN or infinite)")
        problem = outcome_scale_problem(values, lambda i: f"row {place.start + i:,}")
        if problem:
            raise ValueError(f"{place}: {problem}")
        return values
