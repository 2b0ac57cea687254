"""The scale benchmark: its memory probe measures a block's own RSS increase, not the lifetime high-water mark, and
repeated fresh-process runs are reported as the median run with their range."""

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


def test_repeated_runs_report_the_median_run_and_the_range() -> None:
    from scale_peers import _time_cell, combine_runs

    runs = [{"status": "ok", "seconds": s, "peak_over_base_mb": m} for s, m in ((1.0, 10), (0.4, 30), (0.6, 20))]
    median = combine_runs(runs)
    assert median["seconds"] == 0.6 and median["peak_over_base_mb"] == 20  # the middle run, whole
    assert median["seconds_all"] == [1.0, 0.4, 0.6]
    assert _time_cell(median) == "0.6 (0.4–1, 3 runs)"
    assert combine_runs(runs[:2])["seconds"] == 0.4  # an even count takes the lower middle
    assert _time_cell(combine_runs(runs[:1])) == "1"
    timed_out = {"status": "timed out (> 5 s)", "seconds": 5.0}
    assert combine_runs([runs[0], timed_out]) is timed_out  # one failure decides
    with pytest.raises(ValueError, match="at least one"):
        combine_runs([])
