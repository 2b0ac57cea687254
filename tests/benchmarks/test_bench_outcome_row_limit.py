"""The row-limit selection script: its per-dataset records against the public estimator with the limit set in the
config, and its count of withheld rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import load_script, tiny_cina_model

row_limit = load_script("benchmarks/outcome_row_limit_selection.py", "outcome_row_limit_selection_script")


def test_records_match_the_public_estimates_with_each_limit(tmp_path, single_thread):
    from hf_causal.data.families import sample_family

    model = tiny_cina_model(seed=0, outcome_hidden_size=16, outcome_num_layers=1, outcome_intermediate_size=32,
                            outcome_kernel_temperatures=[1.0, 4.0])
    with torch.no_grad():
        torch.manual_seed(1)
        model.outcome_network.head.weight[:2] += torch.randn_like(model.outcome_network.head.weight[:2])
    model.save_pretrained(tmp_path / "model")
    records, report = tmp_path / "rows.jsonl", tmp_path / "row_limit.md"
    assert row_limit.main(["--family", "outcome_validation=2", "--seed", "0", "--records", str(records),
                           "--model", str(tmp_path / "model"), "--output", str(report)]) == 0
    rows = [json.loads(line) for line in records.read_text().splitlines()]
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
    assert "## Rows withheld from the network" in report.read_text()
