"""The one-dataset ablation bootstrap: resamples keep each arm's size, the report's differences by hand."""

from __future__ import annotations

import numpy as np
from support import load_script

boot = load_script("benchmarks/ablation_bootstrap.py", "ablation_bootstrap_script")


def test_resample_draws_each_arm_from_itself_and_keeps_its_size():
    treated = np.array([True] * 7 + [False] * 30)
    rows = boot.resample(treated, np.random.default_rng(0))
    assert len(rows) == 37
    assert treated[rows[:7]].all() and not treated[rows[7:]].any()
    assert len(np.unique(rows[7:])) < 30  # with replacement: 30 draws from 30 repeat some (almost surely)


def test_report_pairs_each_resample_against_the_same_truth():
    # entry 0: full data; then three resamples. Truth 10.
    res = {"truth": np.array([10.0]),
           "cina_zs_pretrained": np.array([11.0, 12.0, 9.0, 10.5]),   # |err| 1, 2, 1, 0.5
           "cina_zs_kernel": np.array([13.0, 10.0, 14.0, 12.0]),      # |err| 3, 0, 4, 2
           "cina_zs_uniform": np.array([13.0, 10.0, 14.0, 12.0])}
    text = boot.report({"lalonde_nsw_psid": res}, "toy", 3, 1.0)
    diffs = np.array([2 - 0, 1 - 4, 0.5 - 2])  # the resamples' paired differences
    se = diffs.std(ddof=1)
    row = next(line for line in text.splitlines() if line.startswith("| outcome network"))
    assert f"| -2.0 | {se:,.1f} | {-2.0 / se:+.1f} | 2 / 3 |" in row
    balancing = next(line for line in text.splitlines() if line.startswith("| balancing network"))
    assert "| +0.0 | 0.0 | – | 0 / 3 |" in balancing
