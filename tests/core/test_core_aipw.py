"""Plug-in and AIPW ATT from nuisance predictions, against a simulation whose ATT is known."""

from __future__ import annotations

import numpy as np
import pytest

from hf_causal.core.aipw import att_estimates


def test_att_estimates_with_true_nuisances():
    rng = np.random.default_rng(0)
    c = rng.random(20000) < 0.5
    g = np.where(c, 0.7, 0.2)
    t = (rng.random(20000) < g).astype(int)
    y = 2.0 * t + 4.0 * c + rng.normal(size=20000)
    est = att_estimates(t, y, g, 4.0 * c, 4.0 * c + 2.0)
    assert est["plugin"].value == pytest.approx(2.0)
    assert est["aipw"].value == pytest.approx(2.0, abs=0.05)
    # AIPW corrects a wrong outcome model when the propensity is right
    assert att_estimates(t, y, g, np.zeros(20000), np.zeros(20000))["aipw"].value == pytest.approx(2.0, abs=0.1)
    assert {e.estimand for e in est.values()} == {"att"} and est["aipw"].n == 20000
    named = att_estimates(t, y, g, 4.0 * c, 4.0 * c + 2.0, n_folds=2, method="engine")
    assert named["aipw"].method == "engine-aipw (2-fold cross-fitted)" and named["plugin"].method.startswith("engine-plugin")


def test_bad_nuisances_are_rejected():
    t, y = np.array([0, 1, 0, 1]), np.ones(4)
    with pytest.raises(ValueError, match="one length"):
        att_estimates(t, y, np.full(3, 0.5), np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="both treated and control"):
        att_estimates(np.ones(4), y, np.full(4, 0.5), np.zeros(4), np.zeros(4))
