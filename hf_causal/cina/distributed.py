"""The chunked estimate on a Dask cluster: one task per partition and pass, the driver merges (docs/design.md §4.9).

``estimate_stream(model, "s3-or-shared/folder/", "t", "y", client=Client(...))`` runs every pass of
:mod:`hf_causal.cina.stream_passes` as ``client.map`` over the table's partitions (a parquet file each, or
slices of a DataFrame or a ``datasets.Dataset``). A task reads its partition chunk by chunk and returns one
partial sum; the driver merges them in partition order, fixes what the pass fixes, and sends the next plan.
The duals a forward task computes stay on its worker (a future) and the later passes run there, so only sums
of a few kilobytes and the plan cross the network.

Dask rather than Ray: it installs as pure Python (``pip install hf-causal[dask]``), a local cluster starts in
seconds on a small machine, it reads parquet partition by partition as this estimate does, and the same code
runs on the deployments people already have (Kubernetes, YARN, HPC job queues, hosted clusters). The
computation is a map and a reduce of small numpy arrays, which needs nothing Ray adds (actors, a GPU scheduler).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from ..data.sources import TableSource
from ..data.stream_checks import StreamSchema
from .accumulators import merge
from .stream_runner import MemoryStore, PartitionInfo, PartitionResult, run_partition, set_arm_counts


def _summary(result: PartitionResult) -> PartitionResult:
    return result.summary()


class DaskRunner:
    """Runs each pass as one Dask task per partition on ``client``'s workers (the :class:`LocalRunner` interface).

    Every partition's size must be known before reading (parquet metadata, a DataFrame, a ``Dataset``), so each
    task knows the number of its first chunk and row; one-shot iterators cannot be distributed.
    """

    def __init__(self, client: Any, table: TableSource, schema: StreamSchema, chunk_rows: int, progress: bool = False) -> None:
        unknown = [p.label for p in table.partitions if p.rows is None]
        if unknown:
            raise ValueError(
                f"a cluster needs partitions of known size (parquet files, a DataFrame, a datasets.Dataset); "
                f"{unknown[0] or 'an iterator'} has none"
            )
        self.client, self.table, self.schema, self.chunk_rows, self.progress = client, table, schema, chunk_rows, progress
        self.infos: list[PartitionInfo] = []
        chunk = row = 0
        for p, partition in enumerate(table.partitions):
            self.infos.append(PartitionInfo(p, chunk, row, rows=partition.rows))
            chunk += math.ceil(partition.rows / chunk_rows)
            row += partition.rows
        # partitions (an in-memory DataFrame's slices, too) go to the workers once, not with every pass
        self.partitions = client.scatter(table.partitions, hash=False)
        self._held: list[Any] = []

    def run(self, name: str, fn: Any, plan: Any, kept: Sequence[Any] | None = None, keep: bool = False,
            sink: str | None = None, encode: bool = True) -> tuple[Any, list[Any]]:
        """One pass: a task per partition; returns the merged partial and the tasks' futures (``keep``) or their
        summaries."""
        count = len(self.partitions)
        token = uuid.uuid4().hex[:8]
        plan_future = self.client.scatter(plan, broadcast=True, hash=False)
        futures = self.client.map(
            run_partition, self.partitions, self.infos, [self.schema] * count, [self.chunk_rows] * count,
            [fn] * count, [plan_future] * count, list(kept) if kept is not None else [None] * count,
            [MemoryStore() if keep else None for _ in range(count)], [sink] * count, [None] * count,
            [encode] * count, pure=False, key=[f"hf-causal-{name.replace(' ', '-')}-{token}-{p}" for p in range(count)],
        )
        if self.progress:
            from dask.distributed import as_completed
            from tqdm.auto import tqdm

            for _ in tqdm(as_completed(futures), total=count, desc=name, unit="partition", leave=False):
                pass
        summaries = self.client.gather(self.client.map(_summary, futures, pure=False))
        partial = None
        for summary in summaries:
            partial = merge(partial, summary.partial)
        if keep:
            self._held.extend(futures)
            return partial, futures
        return partial, summaries

    def set_arm_counts(self, results: Sequence[PartitionResult]) -> None:
        """After the scan: the treated and control rows before each partition."""
        set_arm_counts(self.infos, results)

    def cleanup(self) -> None:
        """Release the kept results (the duals held on the workers) and the scattered partitions."""
        self.client.cancel(self._held + list(self.partitions))
        self._held = []
