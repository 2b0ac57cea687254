"""The cross-moment selection script: its candidates against estimates computed through the public API."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import load_script

selection = load_script("benchmarks/cross_moments_selection.py", "cross_moments_selection_script")


def test_candidates_match_the_public_estimates_and_the_counts_are_restored(tmp_path, single_thread):
    """``none`` is the default estimate, ``2 per column`` is ``estimate(cross_moments=True)`` (the shipped count),
    the smaller counts differ from it where a dataset has enough pairs, the module's count is restored afterwards,
    and the report lists every candidate and family."""
    from hf_causal import CInAModel
    from hf_causal.cina import calibration
    from hf_causal.data.families import sample_family

    records, output = tmp_path / "rows.jsonl", tmp_path / "cross.md"
    assert selection.main(["--family", "ood_strong_confounding=2", "--records", str(records),
                           "--output", str(output)]) == 0
    assert (calibration.CROSS_MOMENTS_PER_COLUMN, calibration.MAX_CROSS_MOMENTS) == (2, 200)
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    model = CInAModel.from_pretrained("cina-zs-base")
    for row, ds in zip(rows, sample_family("ood_strong_confounding", 2, seed=1), strict=True):
        assert row["truth"] == pytest.approx(ds.ate)
        assert row["default"]["none"] == pytest.approx(model.estimate(ds.X, ds.T, ds.Y).value, rel=1e-9)
        crossed = model.estimate(ds.X, ds.T, ds.Y, outcome_model="kernel", cross_moments=True).value
        assert row["kernel"]["2 per column"] == pytest.approx(crossed, rel=1e-9)
        assert row["d"] > 10 and row["kernel"]["10"] != pytest.approx(crossed, rel=1e-6)
    report = output.read_text()
    assert all(name in report for name in selection.CANDIDATES) and "ood_strong_confounding" in report
    assert np.isfinite([row["default"]["2 per column_se"] for row in rows]).all()
