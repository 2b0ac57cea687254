"""The row-limit selection script: its per-dataset records against the public estimator with the limit set in the
config, and its count of withheld rows."""

from __future__ import annotations

import numpy as np
import pytest
from support import load_script, run_selection_script, tiny_outcome_model

row_limit = load_script("benchmarks/outcome_row_limit_selection.py", "outcome_row_limit_selection_script")


def test_records_match_the_public_estimates_with_each_limit(tmp_path, single_thread):
    from hf_causal.data.families import sample_family

    model = tiny_outcome_model()
    rows, text = run_selection_script(row_limit, model, tmp_path)
    for row, ds in zip(rows, sample_family("outcome_validation", 2, seed=0), strict=True):
        x, t, y = np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float)
        model.config.outcome_row_limit = None
        assert row["kernel"] == pytest.approx(model.estimate(x, t, y, estimand="ate", outcome_model="kernel").value
                                              - ds.ate, rel=1e-7)
        assert row["shipped"] == pytest.approx(model.estimate(x, t, y, estimand="ate").value - ds.ate, rel=1e-7)
        for limit in row_limit.LIMITS:
            model.config.outcome_row_limit = limit
            name = f"limit_{limit:g}"
            assert row[name] == pytest.approx(model.estimate(x, t, y, estimand="ate").value - ds.ate, rel=1e-7)
            assert row[f"rows_{name}"] == int((np.abs(y - y.mean()) / np.std(y) > limit).sum())
    assert "## Rows withheld from the network" in text
