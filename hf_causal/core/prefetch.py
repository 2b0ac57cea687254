"""Training data made ahead of the step that needs it, in worker processes (docs/design.md §5.5).

Pretraining on synthetic priors spends most of a step making data on the CPU (drawing datasets, fitting the kernel
outcome model), and on a GPU machine that, not the GPU, sets the pace. :class:`Prefetcher` computes ``make(i)``
for ``i = start, start + 1, ...`` in a pool of forked worker processes, a bounded window ahead, and hands the results
out in order: the same sequence as the serial loop, so a data stream that is a function of its index stays
reproducible and resumable.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: The worker's ``make``, installed by the pool's initializer: with the fork start method it is inherited, not
#: pickled, so closures and bound methods of script-local classes work.
_MAKE: Callable[[int], Any] | None = None


def _install(make: Callable[[int], Any]) -> None:
    global _MAKE
    _MAKE = make
    try:  # one thread per worker: the workers are the parallelism, and BLAS threads would oversubscribe the cores
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    import torch

    torch.set_num_threads(1)


def _call(index: int) -> Any:
    assert _MAKE is not None, "worker started without its make function"
    return _MAKE(index)


class Prefetcher(Generic[T]):
    """``make(start)``, ``make(start + 1)``, ... in order, without end.

    Args:
        make: the item of an index; with ``workers > 0`` it runs in forked processes, so it must not touch a GPU
            and its result must be picklable.
        start: the first index.
        workers: worker processes (0: every item made in this process, when asked for).
        window: items made ahead of the one being used (default ``2 * workers``).

    Use as a context manager (or call :meth:`close`) so that the workers stop with the loop::

        with Prefetcher(lambda i: stream.batch(i, 8), start=0, workers=4) as items:
            for item in items:
                ...
    """

    def __init__(self, make: Callable[[int], T], start: int = 0, workers: int = 0, window: int | None = None) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
            raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
        if window is not None and (not isinstance(window, int) or window < 1):
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if workers and "fork" not in multiprocessing.get_all_start_methods():
            raise ValueError("data workers need the fork start method (Linux, macOS); use workers=0 here")
        self.make, self.start, self.workers = make, int(start), workers
        self.window = window or 2 * workers
        self._pool: Any = None

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        index = self.start
        if not self.workers:
            while True:
                yield self.make(index)
                index += 1
        self._pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_install,
                                                              initargs=(self.make,))
        pending: deque = deque()
        try:
            while True:
                while len(pending) < self.window:
                    pending.append(self._pool.apply_async(_call, (index + len(pending),)))
                item = pending.popleft().get()  # a worker's exception is raised here, in order
                index += 1
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers (items made ahead are dropped)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
