"""The scale benchmark's memory probe measures a block's own RSS increase, not the lifetime high-water mark."""

from pathlib import Path

import numpy as np
import pytest
from scale_peers import CurrentRSSPeak  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")


def test_probe_sees_an_allocation_below_the_earlier_high_water_mark():
    big = np.ones(400 * 2**20 // 8)  # 400 MiB high-water mark first (ru_maxrss would hide what follows)
    del big
    with CurrentRSSPeak() as probe:
        block = np.ones(150 * 2**20 // 8)  # 150 MiB, touched
        block[::512] = 2.0
        del block
    assert 120 < probe.increase_mb < 220
