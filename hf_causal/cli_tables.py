"""The command line's tables: reading data (a file, a packaged benchmark, a parquet folder into memory), writing
per-row effects, and the checks of a table's columns that run before the model stack loads.

numpy and pandas only (pyarrow lazily), so that bad input fails before torch and transformers import.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .data.inputs import read_data_file

__all__ = ["check_plot_option", "read_parquet_table", "read_table", "warn_saved_index", "write_table"]


def read_table(source: str) -> tuple[pd.DataFrame, dict]:
    """Read ``source`` (csv/parquet/jsonl path or ``benchmark:NAME[:REPLICATION]``) into a DataFrame.

    Returns the frame and metadata (for benchmarks: default treatment/outcome/covariates and truth).
    """
    if source.startswith("benchmark:"):
        from .data import load_benchmark_frame

        _, name, *rest = source.split(":")
        if len(rest) > 1 or (rest and not rest[0].isdigit()):
            raise ValueError(f"{source!r}: write benchmark:NAME or benchmark:NAME:REPLICATION with a whole-number "
                             "replication, e.g. benchmark:ihdp_a:3")
        data = load_benchmark_frame(name, replication=int(rest[0]) if rest else 0)
        meta = {
            "treatment": data.treatment,
            "outcome": data.outcome,
            "covariates": list(data.covariates),
            "true_ate": data.true_ate,
            "true_att": data.true_att,
            "name": data.name,
        }
        return data.frame, meta
    frame = read_data_file(source)
    if len(frame) == 0:  # a header without rows: say so, before any column is looked for
        raise ValueError(f"{source} has no rows")
    return frame, {}


def read_parquet_table(source: Any) -> pd.DataFrame:
    """Every row of a parquet folder, glob or list of files as one DataFrame (the files must share their columns)."""
    from .data.sources import DEFAULT_CHUNK_ROWS, as_table_source

    table = as_table_source(source)
    chunks = [chunk for part in table.partitions for chunk in part.chunks(DEFAULT_CHUNK_ROWS)]
    if not chunks:
        raise ValueError(f"{table.description} has no rows")
    return pd.concat(chunks, ignore_index=True)


def warn_saved_index(columns: Sequence[Any]) -> None:
    """Warn about covariates named as pandas names a saved row index (``Unnamed: 0``, from ``to_csv`` without
    ``index=False``): a row number used as a covariate changes the estimate and is rarely meant."""
    saved = [str(c) for c in columns if str(c).startswith("Unnamed: ")]
    if saved:
        print(f"warning: {saved} look like a saved row index (pandas' to_csv) and are used as covariates; pass "
              "--covariates to leave them out", file=sys.stderr)


def check_plot_option(args: argparse.Namespace, frame: pd.DataFrame) -> None:
    """``--plot COVARIATE FILE``: per-unit effects only, a column of the data, a format matplotlib writes; checked
    before the model loads."""
    if not args.plot:
        return
    column, path = args.plot
    if column not in frame.columns:
        raise ValueError(f"--plot: {column!r} is not a column of the data; available: {list(frame.columns)[:20]}")
    if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
        raise ValueError(f"--plot: column {column!r} is not numeric (dtype {frame[column].dtype}); pick a numeric one")
    if Path(path).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--plot: unsupported figure format {Path(path).suffix!r}: use .png, .pdf or .svg")
    if not Path(path).resolve().parent.is_dir():
        raise ValueError(f"--plot: the folder of {path} does not exist")


def write_table(frame: pd.DataFrame, path: str) -> None:
    """Write ``frame`` as csv, parquet or jsonl, by the extension of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    elif suffix in (".jsonl", ".ndjson"):
        frame.to_json(path, orient="records", lines=True)
    else:
        raise ValueError(f"unsupported output format {suffix!r}: use .csv, .parquet or .jsonl")
