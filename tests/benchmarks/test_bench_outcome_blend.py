"""The outcome-blend selection script: its candidates' errors against estimates computed through the public API."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import load_script

blend = load_script("benchmarks/outcome_blend_validation.py", "outcome_blend_validation_script")


def test_candidate_errors_match_the_public_estimates(tmp_path, single_thread):
    """The script recomputes each candidate's ATE from one set of weights; its ``kernel`` and ``share_0.75`` rows
    must be the errors of ``estimate(outcome_model="kernel")`` and of ``estimate(outcome_model="pretrained")`` (whose
    share is 0.75) on the same datasets, and its report must list every candidate."""
    from hf_causal import CInAModel
    from hf_causal.data.families import sample_family

    records, output = tmp_path / "rows.jsonl", tmp_path / "blend.md"
    assert blend.main(["--datasets", "2", "--records", str(records), "--output", str(output)]) == 0
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    model = CInAModel.from_pretrained("cina-zs-base")
    for row, ds in zip(rows, sample_family("outcome_validation", 2, seed=0), strict=True):
        x, t, y = np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float)
        scale = float(np.std(y))
        kernel = model.estimate(x, t, y, estimand="ate", outcome_model="kernel").value
        network = model.estimate(x, t, y, estimand="ate", outcome_model="pretrained").value
        assert row["kernel"] == pytest.approx(abs(kernel - ds.ate) / scale, rel=1e-7)
        assert row["share_0.75"] == pytest.approx(abs(network - ds.ate) / scale, rel=1e-7)
        assert 0.0 <= row["stacked_share"] <= 1.0
    report = output.read_text()
    for name in ("kernel", "share_0.25", "share_0.5", "share_0.75", "share_1", "stacked", "precision"):
        assert f"| {name} |" in report
