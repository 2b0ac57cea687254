"""Prefetcher: the serial sequence, made in worker processes; errors surface in order; workers stop with the loop."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from hf_causal.core.prefetch import Prefetcher


def item(index: int) -> tuple[int, np.ndarray, int]:
    """A deterministic function of the index, plus the process that made it."""
    return index, np.random.default_rng(index).normal(size=3), os.getpid()


@pytest.mark.parametrize("workers", [0, 3])
def test_items_are_the_serial_sequence_in_order(workers):
    with Prefetcher(item, start=5, workers=workers, window=4) as items:
        got = list(itertools.islice(items, 12))
    assert [g[0] for g in got] == list(range(5, 17))
    for index, values, _ in got:
        np.testing.assert_array_equal(values, item(index)[1])
    made_here = {pid for *_, pid in got} == {os.getpid()}
    assert made_here == (workers == 0)  # with workers, none is made in this process


def test_a_closure_runs_in_the_workers_without_pickling():
    offset = 100
    with Prefetcher(lambda i: i + offset, workers=2) as items:
        assert list(itertools.islice(items, 5)) == [100, 101, 102, 103, 104]


def failing(index: int) -> int:
    if index == 3:
        raise ValueError(f"bad item {index}")
    return index


def test_a_worker_error_is_raised_at_its_item_and_the_pool_stops():
    prefetcher = Prefetcher(failing, workers=2)
    items = iter(prefetcher)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad item 3"):
        next(items)
    assert prefetcher._pool is None  # closed on the way out


@pytest.mark.parametrize(("kwargs", "message"), [({"workers": -1}, "workers"), ({"workers": 1.5}, "workers"),
                                                 ({"window": 0}, "window")])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Prefetcher(item, **kwargs)
