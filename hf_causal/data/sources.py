"""Tables read in chunks of rows: the sources a streamed estimate passes over (docs/design.md §4.9).

A :class:`TableSource` is an ordered list of partitions, each a run of rows that can be read again and again
in chunks of a fixed number of rows: a parquet file, a slice of a DataFrame or of a ``datasets.Dataset``, an
``IterableDataset``, or an iterator of pandas chunks (spilled to a temporary parquet file while the first pass
reads it, since an iterator can be read only once). Chunks are exactly ``chunk_rows`` rows except the last of
a partition, so a chunk's number and its rows are the same in every pass; errors name them.

numpy, pandas and (lazily) pyarrow only: the command line opens a source before it imports the model stack.
"""

from __future__ import annotations

import glob
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Rows per chunk by default: a chunk of 20 float64 covariates is 10 MB.
DEFAULT_CHUNK_ROWS = 65_536
#: Rows per partition when an in-memory table is split for a cluster.
DEFAULT_PARTITION_ROWS = 1_000_000


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet  # noqa: F401 - registers pa.parquet
    except ImportError as err:  # pragma: no cover - pyarrow ships with the data extra
        raise ImportError("reading parquet needs pyarrow: pip install 'hf-causal[data]'") from err
    return pa


def _rechunk(tables: Iterable[Any], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Arrow tables or record batches of any sizes -> pandas frames of exactly ``chunk_rows`` rows (the last
    may be shorter), so chunk boundaries do not depend on how a file's row groups happen to be laid out."""
    pa = _pyarrow()
    buffer: list[Any] = []
    held = 0
    for table in tables:
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        buffer.append(table)
        held += table.num_rows
        while held >= chunk_rows:
            whole = pa.concat_tables(buffer)
            yield whole.slice(0, chunk_rows).to_pandas()
            rest = whole.slice(chunk_rows)
            buffer, held = ([rest] if rest.num_rows else []), rest.num_rows
    if held:
        yield pa.concat_tables(buffer).to_pandas()


class Partition:
    """A run of rows read in chunks. ``rows`` is ``None`` when unknown before reading; ``in_memory`` says whether
    per-chunk results of a pass may be kept in memory (the table is there anyway) or must go to disk."""

    label = ""
    rows: int | None = None
    in_memory = False
    #: True when chunks come as already encoded ``(x, t, y)`` arrays (:class:`ArrayPartition`)
    encoded = False

    def chunks(self, chunk_rows: int, columns: Sequence[str] | None = None) -> Iterator[Any]:
        """Chunks of exactly ``chunk_rows`` rows (the last may be shorter), as pandas DataFrames."""
        raise NotImplementedError

    def head(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The first rows (at least one chunk's worth of schema): what fixes the columns and their dtypes."""
        return next(iter(self.chunks(1024, columns)))


class FramePartition(Partition):
    """Rows of a pandas DataFrame."""

    in_memory = True

    def __init__(self, frame: pd.DataFrame, label: str = "") -> None:
        self.frame, self.label, self.rows = frame, label, len(frame)

    def chunks(self, chunk_rows: int, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        frame = self.frame if columns is None else self.frame[list(columns)]
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start : start + chunk_rows]


class ArrayPartition(Partition):
    """Already encoded and validated ``(x, t, y)`` arrays (the in-memory estimate's one partition), with optional
    per-row ``extras`` (arrays computed in memory beforehand) handed to each chunk."""

    in_memory = True
    encoded = True

    def __init__(self, x: np.ndarray, t: np.ndarray, y: np.ndarray, extras: dict[str, np.ndarray] | None = None) -> None:
        self.x, self.t, self.y, self.rows = x, t, y, len(t)
        self.extras = extras or {}

    def chunks(self, chunk_rows: int, columns: Sequence[str] | None = None) -> Iterator[tuple[Any, ...]]:
        for start in range(0, self.rows, chunk_rows):
            rows = slice(start, start + chunk_rows)
            yield self.x[rows], self.t[rows], self.y[rows], {k: v[rows] for k, v in self.extras.items()}


class ParquetPartition(Partition):
    """One parquet file; its row count comes from the file's metadata without reading it."""

    def __init__(self, path: str | os.PathLike) -> None:
        pa = _pyarrow()
        self.path = str(path)
        self.label = Path(path).name
        try:
            handle = pa.parquet.ParquetFile(self.path)
            self.rows = handle.metadata.num_rows
            self.columns: list[str] = list(handle.schema_arrow.names)
        except (OSError, ValueError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"{self.path} is not a readable parquet file ({reason})") from err

    def chunks(self, chunk_rows: int, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        pa = _pyarrow()
        handle = pa.parquet.ParquetFile(self.path)
        present = set(handle.schema_arrow.names)
        # a missing column is the schema check's to report (naming the chunk), not Arrow's
        wanted = None if columns is None else [c for c in columns if c in present]
        yield from _rechunk(handle.iter_batches(batch_size=chunk_rows, columns=wanted), chunk_rows)


class DatasetPartition(Partition):
    """Rows of a ``datasets.Dataset`` (memory-mapped Arrow) or an ``IterableDataset``, read as Arrow tables."""

    def __init__(self, dataset: Any, label: str = "") -> None:
        self.dataset, self.label = dataset, label
        self.rows = len(dataset) if hasattr(dataset, "__len__") else None

    def chunks(self, chunk_rows: int, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        data = self.dataset
        if columns is not None:
            names = getattr(data, "column_names", None) or []
            keep = [c for c in columns if c in names]
            if names and len(keep) < len(names):
                data = data.select_columns(keep)
        yield from _rechunk(data.with_format("arrow").iter(batch_size=chunk_rows), chunk_rows)


class IteratorPartition(Partition):
    """Pandas chunks from an iterator, or from a callable that returns a fresh iterator on every call.

    An iterator can be read once: while the first pass reads it, each chunk is appended to a temporary parquet
    file after the pass has checked it, and later passes read that file (disk, not memory, grows with the rows).
    """

    def __init__(self, chunks: Iterator[pd.DataFrame] | Callable[[], Iterable[pd.DataFrame]], label: str = "") -> None:
        self.label = label
        self._factory = chunks if callable(chunks) and not isinstance(chunks, Iterator) else None
        self._iterator = None if self._factory else iter(chunks)
        self._spill: str | None = None
        self._spilled = False
        self._first: pd.DataFrame | None = None

    def _raw(self) -> Iterator[pd.DataFrame]:
        if self._factory is not None:
            yield from (_as_frame(c) for c in self._factory())
            return
        if self._spilled:
            yield from ParquetPartition(self._spill).chunks(DEFAULT_CHUNK_ROWS)
            return
        if self._iterator is None:
            raise ValueError(
                "the chunk iterator cannot be read again (a pass stopped half-way, or its chunks do not keep one "
                "schema); pass a fresh iterator, or a function that returns one"
            )
        pa = _pyarrow()
        source, self._iterator = self._iterator, None
        if self._first is not None:
            source = itertools.chain([self._first], source)
        handle, self._spill = tempfile.mkstemp(prefix="hf-causal-stream-", suffix=".parquet")
        os.close(handle)
        writer, intact = None, True
        try:
            for frame in source:
                frame = _as_frame(frame)
                yield frame
                if not intact:
                    continue
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pa.parquet.ParquetWriter(self._spill, table.schema)
                try:  # e.g. int32 after int64; a real change of dtype is the schema check's to report
                    writer.write_table(table.cast(writer.schema))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                    intact = False
        finally:
            if writer is not None:
                writer.close()
        self._spilled = intact

    def chunks(self, chunk_rows: int, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        buffer: list[pd.DataFrame] = []
        held = 0
        for frame in self._raw():
            buffer.append(frame if columns is None else frame[[c for c in columns if c in frame.columns]])
            held += len(frame)
            while held >= chunk_rows:
                whole = _concat(buffer)
                yield whole.iloc[:chunk_rows]
                held -= chunk_rows
                buffer = [whole.iloc[chunk_rows:]] if held else []
        if held:
            yield _concat(buffer)

    def head(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if self._factory is not None or self._spilled:
            return super().head(columns)
        if self._first is None:
            if self._iterator is None:
                raise ValueError("the chunk iterator cannot be read again; pass a fresh iterator")
            try:
                self._first = _as_frame(next(self._iterator))
            except StopIteration:
                raise ValueError("the chunk iterator is empty") from None
        return self._first

    def cleanup(self) -> None:
        """Remove the spill file."""
        if self._spill and os.path.exists(self._spill):
            os.remove(self._spill)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    # inner join: a column one frame lacks is missing from the chunk (and reported so), not filled with NaN
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, join="inner")


def _as_frame(chunk: Any) -> pd.DataFrame:
    if isinstance(chunk, pd.DataFrame):
        return chunk
    raise TypeError(f"an iterator source must yield pandas DataFrames, got {type(chunk).__name__}")


class TableSource:
    """An ordered list of :class:`Partition` s: one table, read in chunks, pass after pass."""

    def __init__(self, partitions: Sequence[Partition], description: str = "") -> None:
        if not partitions:
            raise ValueError(f"no data in {description or 'the source'}")
        self.partitions = list(partitions)
        self.description = description

    @property
    def in_memory(self) -> bool:
        return all(p.in_memory for p in self.partitions)

    @property
    def rows(self) -> int | None:
        """Total rows when every partition knows its size before it is read."""
        sizes = [p.rows for p in self.partitions]
        return None if any(s is None for s in sizes) else int(sum(sizes))

    def head(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The first rows of the first non-empty partition (fixes the schema)."""
        for partition in self.partitions:
            if partition.rows != 0:
                return partition.head(columns)
        raise ValueError(f"no rows in {self.description or 'the source'}")

    def cleanup(self) -> None:
        for partition in self.partitions:
            getattr(partition, "cleanup", lambda: None)()


def parquet_files(spec: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """The parquet files a path, a folder (every ``*.parquet`` below it, sorted), a glob or a list names."""
    if isinstance(spec, (list, tuple)):
        return [f for item in spec for f in parquet_files(item)]
    text = str(spec)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True))
        if not files:
            raise FileNotFoundError(f"no files match {text}")
        return [f for f in files if f.is_file()]
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".parquet", ".pq") and p.is_file())
        if not files:
            raise FileNotFoundError(f"no parquet files in {path}")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    if path.suffix.lower() not in (".parquet", ".pq"):
        raise ValueError(f"a streamed source reads parquet: {path} is not a .parquet file")
    return [path]


def check_same_columns(partitions: Sequence[ParquetPartition]) -> None:
    """Refuse parquet files with columns the first file lacks: the first file fixes the table's columns, so the
    extra ones would be dropped without a word, and a file of another table (per-row effects written back into the
    data folder, say) would be read as more rows. A missing column is the chunk check's to name (it may be unused).
    The columns come from each file's schema, read when its partition was opened."""
    if not partitions:
        return
    first = partitions[0]
    for partition in partitions[1:]:
        # pandas stores a non-default index as __index_level_N__: an index, not a column of the table
        extra = [c for c in partition.columns if c not in first.columns and not c.startswith("__index_level_")]
        if extra:
            raise ValueError(f"{partition.path} has columns {extra[:8]} that the first file {first.path} lacks: the "
                             "files of one table must share their columns (is another table's file among them?)")


def prepare_weights_folder(path: str | os.PathLike) -> Path:
    """Create the folder each row's weight is written to (parquet ``part-*.parquet``: ``row``, ``treatment``,
    ``weight``), refusing one that already holds weights: a second run's parts would mix with the first's."""
    folder = Path(path)
    if folder.exists() and any(folder.glob("part-*.parquet")):
        raise FileExistsError(f"{folder} already holds weights (part-*.parquet): remove them or choose another folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_weights(path: str | os.PathLike, treatment: Any, weights: Any) -> Path:
    """Write an in-memory estimate's weights in the streamed estimate's format (one part, rows numbered from 0)."""
    pa = _pyarrow()
    t = np.asarray(treatment)
    table = pa.table({"row": np.arange(len(t), dtype=np.int64), "treatment": t.astype(np.int8),
                      "weight": np.asarray(weights, dtype=np.float64)})
    out = Path(path) / "part-00000.parquet"
    pa.parquet.write_table(table, out)
    return out


def is_parquet_spec(spec: Any) -> bool:
    """Whether ``spec`` names parquet data (a .parquet path, a folder, a glob or a list of them)."""
    if isinstance(spec, (list, tuple)):
        return bool(spec) and all(is_parquet_spec(s) for s in spec)
    if not isinstance(spec, (str, os.PathLike)):
        return False
    text = str(spec)
    return Path(text).is_dir() or Path(text).suffix.lower() in (".parquet", ".pq") or any(ch in text for ch in "*?[")


def as_table_source(data: Any, partition_rows: int = DEFAULT_PARTITION_ROWS) -> TableSource:
    """Wrap ``data`` as a :class:`TableSource`.

    Accepts a parquet path, folder, glob or list of paths (one partition per file); a pandas DataFrame or a
    ``datasets.Dataset`` (partitions of at most ``partition_rows`` rows); an ``IterableDataset`` (one
    partition); an iterator of pandas DataFrames, or a callable returning one (one partition).
    """
    if isinstance(data, TableSource):
        return data
    if isinstance(data, pd.DataFrame):
        parts = [FramePartition(data.iloc[s : s + partition_rows]) for s in range(0, len(data), partition_rows)]
        return TableSource(parts, "the DataFrame")
    if is_parquet_spec(data):
        files = parquet_files(data)
        partitions = [ParquetPartition(f) for f in files]
        check_same_columns(partitions)
        return TableSource(partitions, str(data))
    kind = type(data).__name__
    if kind == "Dataset" and hasattr(data, "with_format") and hasattr(data, "select"):
        n = len(data)
        parts = [
            DatasetPartition(data.select(range(s, min(s + partition_rows, n))), f"dataset rows {s:,}+")
            for s in range(0, n, partition_rows)
        ]
        return TableSource(parts, "the dataset")
    if kind == "IterableDataset" and hasattr(data, "with_format"):
        return TableSource([DatasetPartition(data, "the iterable dataset")], "the iterable dataset")
    if isinstance(data, Iterator) or callable(data):
        return TableSource([IteratorPartition(data, "the chunk iterator")], "the chunk iterator")
    if isinstance(data, (str, os.PathLike)):
        raise ValueError(f"a streamed source reads parquet files or folders, not {data}")
    raise TypeError(
        f"cannot stream a {kind}: pass a parquet path or folder, a DataFrame, a datasets.Dataset / IterableDataset, "
        "or an iterator of pandas DataFrames"
    )
