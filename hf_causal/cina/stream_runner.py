"""Running a pass over a table's chunks and merging what each chunk returns (docs/design.md §4.9).

A pass is a function ``fn(plan, chunk) -> (partial, kept)``: ``partial`` is a sum over the chunk's rows (merged
with :func:`~hf_causal.cina.accumulators.merge`), ``kept`` per-row arrays a later pass reads back (the duals),
stored per chunk in memory when the table is in memory and on disk otherwise, so memory stays bounded by the
chunk size. :func:`run_partition` runs a pass over one partition; :class:`LocalRunner` runs it over every
partition in order, in this process. ``hf_causal.cina.distributed`` runs the same function on a Dask cluster.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.sources import Partition, TableSource
from ..data.stream_checks import ChunkPlace, StreamSchema
from .accumulators import merge


@dataclass
class PartitionInfo:
    """Where a partition starts: its first chunk number and row, and the treated / control rows before it."""

    index: int
    first_chunk: int = 0
    first_row: int = 0
    treated_before: int = 0
    control_before: int = 0
    rows: int | None = None


@dataclass
class Chunk:
    """One encoded chunk as a pass sees it: ``x`` (float64), ``t`` (0/1), ``y``, where it is, and the arrays
    earlier passes kept for it (``kept``)."""

    x: np.ndarray
    t: np.ndarray
    y: np.ndarray
    place: ChunkPlace
    treated_before: int
    control_before: int
    kept: dict[str, np.ndarray] = field(default_factory=dict)
    #: the raw DataFrame, for a pass that runs before the encoding is fixed (``x``, ``t``, ``y`` are then None)
    frame: Any = None


class MemoryStore:
    """Per-chunk arrays kept in memory."""

    def __init__(self) -> None:
        self.items: list[dict[str, np.ndarray]] = []

    def put(self, k: int, arrays: dict[str, np.ndarray]) -> None:
        self.items.append(arrays)

    def get(self, k: int) -> dict[str, np.ndarray]:
        return self.items[k]


class DiskStore:
    """Per-chunk arrays in ``.npy`` files under a folder (bounded memory for tables larger than memory)."""

    def __init__(self, folder: str, prefix: str) -> None:
        self.folder, self.prefix = folder, prefix

    def _path(self, k: int, key: str) -> str:
        return os.path.join(self.folder, f"{self.prefix}-{k:07d}-{key}.npy")

    def put(self, k: int, arrays: dict[str, np.ndarray]) -> None:
        self.keys = list(arrays)
        for key, value in arrays.items():
            np.save(self._path(k, key), value)

    def get(self, k: int) -> dict[str, np.ndarray]:
        return {key: np.load(self._path(k, key)) for key in getattr(self, "keys", [])}


@dataclass
class PartitionResult:
    """What a pass over one partition returns: the merged partial, its size and arm counts, the kept arrays."""

    partial: Any
    rows: int
    chunks: int
    treated: int
    store: Any = None

    def summary(self) -> PartitionResult:
        """The same without the kept arrays (what a cluster sends back to the driver)."""
        return PartitionResult(self.partial, self.rows, self.chunks, self.treated)


def _weights_writer(sink: str, index: int) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("row", pa.int64()), ("treatment", pa.int8()), ("weight", pa.float64())])
    return pq.ParquetWriter(os.path.join(sink, f"part-{index:05d}.parquet"), schema), pa


def run_partition(
    partition: Partition,
    info: PartitionInfo,
    schema: StreamSchema | None,
    chunk_rows: int,
    fn: Callable[[Any, Chunk], tuple[Any, dict[str, np.ndarray] | None]],
    plan: Any,
    kept: Any = None,
    store: Any = None,
    sink: str | None = None,
    progress: Any = None,
    encode: bool = True,
) -> PartitionResult:
    """Run ``fn`` over the chunks of one partition and merge their partials (module docstring).

    ``kept``: the store (or a :class:`PartitionResult` holding one) of arrays an earlier pass kept for these
    chunks; ``store``: where to keep this pass's arrays; ``sink``: a folder to write this pass's ``weight`` arrays
    to, one parquet file per partition (columns ``row``, ``treatment``, ``weight``).
    """
    if isinstance(kept, PartitionResult):
        kept = kept.store
    columns = None if schema is None else schema.columns
    partial, rows, treated, k = None, 0, 0, 0
    writer = None
    try:
        for k, batch in enumerate(partition.chunks(chunk_rows, columns)):
            size = len(batch[1]) if partition.encoded else len(batch)
            place = ChunkPlace(info.first_chunk + k, info.first_row + rows, size, partition.label, rows)
            extras = kept.get(k) if kept is not None else {}
            if not encode:
                chunk = Chunk(None, None, None, place, 0, 0, extras, frame=batch)
            else:
                x, t, y = batch[:3] if partition.encoded else schema.encode(batch, place)
                if partition.encoded:
                    extras = {**batch[3], **extras}
                chunk = Chunk(x, t, y, place, info.treated_before + treated, info.control_before + rows - treated, extras)
            part, arrays = fn(plan, chunk)
            partial = merge(partial, part)
            if arrays is not None and store is not None:
                store.put(k, arrays)
            if sink is not None and arrays is not None and "weight" in arrays:
                if writer is None:
                    writer, pa = _weights_writer(sink, info.index)
                row = np.arange(place.start, place.start + size, dtype=np.int64)
                writer.write_table(pa.table({"row": row, "treatment": chunk.t.astype(np.int8), "weight": arrays["weight"]}))
            rows += size
            treated += int(chunk.t.sum()) if encode else 0
            if progress is not None:
                progress.update(1)
    finally:
        if writer is not None:
            writer.close()
    if info.rows is not None and rows != info.rows:
        raise ValueError(
            f"{partition.label or 'a partition'} has {rows:,} rows in this pass but {info.rows:,} before: "
            "the data changed while it was being read"
        )
    return PartitionResult(partial, rows, k + 1 if rows else 0, treated, store)


def set_arm_counts(infos: Sequence[PartitionInfo], results: Sequence[PartitionResult]) -> None:
    """Fill in the treated and control rows before each partition from a pass's results (ranks within an arm,
    which the seeded samples are drawn by, need them)."""
    treated = rows = 0
    for info, result in zip(infos, results):
        info.treated_before, info.control_before = treated, rows - treated
        treated, rows = treated + result.treated, rows + result.rows


class LocalRunner:
    """Runs passes partition after partition in this process (a tqdm bar per pass with ``progress``)."""

    def __init__(self, table: TableSource, schema: StreamSchema | None, chunk_rows: int, progress: bool = False) -> None:
        self.table, self.schema, self.chunk_rows, self.progress = table, schema, chunk_rows, progress
        self.infos: list[PartitionInfo] | None = None
        self.total_chunks: int | None = None
        self._folder: str | None = None

    def _store(self, name: str, index: int) -> Any:
        if self.table.in_memory:
            return MemoryStore()
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="hf-causal-passes-")
        return DiskStore(self._folder, f"{name}-{index:05d}")

    def _bar(self, name: str) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.total_chunks, desc=name, unit="chunk", leave=False)

    def run(self, name: str, fn: Callable, plan: Any, kept: Sequence[Any] | None = None, keep: bool = False,
            sink: str | None = None, encode: bool = True) -> tuple[Any, list[PartitionResult]]:
        """One pass over every partition; returns the merged partial and each partition's result."""
        bar = self._bar(name)
        results: list[PartitionResult] = []
        partial = None
        first_pass = self.infos is None
        infos = self.infos or []
        try:
            chunk, row, treated = 0, 0, 0
            for p, partition in enumerate(self.table.partitions):
                if first_pass:
                    infos.append(PartitionInfo(p, chunk, row, treated, row - treated))
                store = self._store(name, p) if keep else None
                result = run_partition(partition, infos[p], self.schema, self.chunk_rows, fn, plan,
                                       kept[p] if kept is not None else None, store, sink, bar, encode)
                results.append(result)
                partial = merge(partial, result.partial)
                chunk, row, treated = chunk + result.chunks, row + result.rows, treated + result.treated
        finally:
            if bar is not None:
                bar.close()
        if first_pass:
            for info, result in zip(infos, results):
                info.rows = result.rows
            self.infos, self.total_chunks = infos, sum(r.chunks for r in results)
        return partial, results

    def set_arm_counts(self, results: Sequence[PartitionResult]) -> None:
        """After the scan: the treated and control rows before each partition."""
        set_arm_counts(self.infos, results)

    def cleanup(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
