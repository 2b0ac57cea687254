"""The centering selection script: its per-dataset records against the public estimator and against the centered
predictions computed by hand, and its report."""

from __future__ import annotations

import numpy as np
import pytest
from support import load_script, run_selection_script, tiny_outcome_model

centering = load_script("benchmarks/outcome_centering_selection.py", "outcome_centering_selection_script")


def test_records_match_the_public_estimates(tmp_path, single_thread):
    """``kernel`` and ``shipped`` are the signed errors of ``estimate`` with the kernel model and with the network;
    ``centered_first`` is the augmented estimate on the centered predictions, which differ from the plain ones."""
    from hf_causal.cina.estimator import augmentation_surfaces
    from hf_causal.cina.outcome import augmented_effect
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes
    from hf_causal.data.families import sample_family

    model = tiny_outcome_model()
    rows, text = run_selection_script(centering, model, tmp_path)
    assert len(rows) == 2
    for row, ds in zip(rows, sample_family("outcome_validation", 2, seed=0), strict=True):
        x, t, y = np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float)
        kernel = model.estimate(x, t, y, estimand="ate", outcome_model="kernel")
        default = model.estimate(x, t, y, estimand="ate", outcome_model="pretrained").value
        assert row["kernel"] == pytest.approx(kernel.value - ds.ate, rel=1e-7)
        assert row["shipped"] == pytest.approx(default - ds.ate, rel=1e-7)
        assert row["first"] == row["shipped"]  # one network: nothing to route
        po = predict_potential_outcomes(model, x, t, y, center_effect=True)
        m1, m0 = augmentation_surfaces(po)
        assert row["centered_first"] == pytest.approx(augmented_effect(kernel.weights, t, y, m1, m0, "ate") - ds.ate,
                                                      rel=1e-7)
        assert abs(row["centered_first"] - row["shipped"]) > 1e-6
        assert row["scale"] == pytest.approx(float(np.std(y)))
    mean_kernel = np.mean([abs(r["kernel"]) for r in rows])
    assert f"| kernel | {mean_kernel:.4f} |" in text
