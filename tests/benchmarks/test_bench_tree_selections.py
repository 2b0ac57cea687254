"""The two selection scripts of the boosted trees (benchmarks/tree_proxy_selection.py for the CATE proxy,
benchmarks/residual_trees_selection.py for the ATE's residual correction): their records are the public
estimates' errors with each gate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import load_script, run_selection_script, tiny_outcome_model, validation_draws

residual = load_script("benchmarks/residual_trees_selection.py", "residual_trees_selection_script")
proxy = load_script("benchmarks/tree_proxy_selection.py", "tree_proxy_selection_script")


def test_residual_trees_records_are_the_public_estimates_at_each_gate(tmp_path, single_thread):
    from hf_causal.cina import residual_trees

    model = tiny_outcome_model()
    rows, text = run_selection_script(residual, model, tmp_path)
    for row, (ds, x, t, y) in zip(rows, validation_draws(2), strict=True):
        assert row["kernel"] == pytest.approx(model.estimate(x, t, y, outcome_model="kernel").value - ds.ate, rel=1e-9)
        assert row["shipped"] == pytest.approx(model.estimate(x, t, y, residual_trees=False).value - ds.ate, rel=1e-9)
        assert row["gate_3"] == pytest.approx(model.estimate(x, t, y).value - ds.ate, rel=1e-9)
        # a gate kept nothing exactly when its estimate is the one without trees
        for gate in ("0", "2", "3"):
            assert row[f"kept_gate_{gate}"] == (row[f"gate_{gate}"] != row["shipped"])
    assert residual_trees.RESIDUAL_TREES_GATE == 3.0  # restored after each variant
    assert "gate_0" in text and "Corrections kept" in text


def test_tree_proxy_records_are_the_public_effects_at_each_gate(tmp_path, single_thread):
    from hf_causal.cina import tree_proxy

    model = tiny_outcome_model()
    model.save_pretrained(tmp_path / "model")
    records = tmp_path / "rows.jsonl"
    assert proxy.main(["--family", "outcome_validation=2", "--records", str(records), "--model",
                       str(tmp_path / "model"), "--output", str(tmp_path / "report.md")]) == 0
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    for row, (ds, x, t, y) in zip(rows, validation_draws(2), strict=True):
        tau = ds.mu1 - ds.mu0

        def pehe(effects, tau=tau):
            return float(np.sqrt(np.mean((effects["cate"].to_numpy() - tau) ** 2)))

        assert row["none"] == pytest.approx(pehe(model.cate(x, t, y, tree_proxy=False).effects), rel=1e-9)
        default = model.cate(x, t, y).effects
        assert row["gate_3"] == pytest.approx(pehe(default), rel=1e-9)
        assert row["tree_slope_gate_3"] == pytest.approx(default.attrs["tree_slope"])
    assert tree_proxy.TREE_PROXY_GATE == 3.0
    assert "trees kept" in (tmp_path / "report.md").read_text()
