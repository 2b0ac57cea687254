"""The simulators produce the graphs they claim."""

from __future__ import annotations

import numpy as np
import pytest

from hf_causal.discovery import (
    GENERATORS,
    heterogeneous_collection,
    linear_var,
    long_lag_var,
    nonlinear_var,
    regime_switching_var,
)


def _ols_lagged(data: np.ndarray, max_lag: int) -> np.ndarray:
    """OLS VAR coefficients in the [source, target, lag - 1] layout."""
    n, d = data.shape
    design = np.hstack([data[max_lag - lag : n - lag] for lag in range(1, max_lag + 1)])
    design = np.hstack([design, np.ones((n - max_lag, 1))])
    beta, *_ = np.linalg.lstsq(design, data[max_lag:], rcond=None)  # (d * max_lag + 1, d)
    return beta[:-1].reshape(max_lag, d, d).transpose(1, 2, 0)


def test_linear_var_coefficients_are_recovered_by_ols():
    sim = linear_var(n_vars=4, n_steps=20000, max_lag=2, seed=3)
    est = _ols_lagged(sim.data, 2)
    assert np.max(np.abs(est - sim.coefficients)) < 0.05
    assert np.array_equal(sim.adjacency, sim.coefficients != 0)


def test_layout_self_lags_and_shapes():
    for name, gen in GENERATORS.items():
        sim = gen(n_vars=4, n_steps=600, seed=1)
        assert sim.adjacency.shape == (4, 4, sim.max_lag), name
        assert sim.adjacency.dtype == bool
        assert np.all(sim.adjacency[np.arange(4), np.arange(4), 0]), name  # self-lag 1
        arrays = sim.data if isinstance(sim.data, list) else [sim.data]
        for arr in arrays:
            assert arr.shape[1] == 4 and np.all(np.isfinite(arr)), name
        assert sum(a.shape[0] for a in arrays) == pytest.approx(600, abs=20), name


def test_seed_determinism_and_difference():
    a, b, c = (nonlinear_var(n_steps=500, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.data, b.data) and np.array_equal(a.adjacency, b.adjacency)
    assert not np.array_equal(a.data, c.data)


def test_long_lags_only_far_cross_edges():
    sim = long_lag_var(n_vars=5, n_steps=2000, max_lag=10, seed=0)
    src, tgt, lag = np.nonzero(sim.adjacency)
    cross = src != tgt
    assert cross.sum() == 5
    assert np.all(lag[cross] + 1 >= 5)


def test_regime_switching_changes_levels():
    sim = regime_switching_var(n_vars=3, n_steps=4000, n_regimes=4, seed=2)
    bounds = sim.info["regime_bounds"]
    means = np.array([sim.data[bounds[r] : bounds[r + 1]].mean(0) for r in range(4)])
    assert np.ptp(means, axis=0).max() > 0.5


def test_heterogeneous_collection_is_a_list_of_domains():
    sim = heterogeneous_collection(n_vars=3, n_steps=3000, n_series=5, seed=0)
    assert isinstance(sim.data, list) and len(sim.data) == 5
    assert len({a.shape[0] for a in sim.data}) > 1
    assert np.ptp([a.std(0).mean() for a in sim.data]) > 0.1


@pytest.mark.parametrize(
    "kwargs",
    [{"n_vars": 1}, {"max_lag": 0}, {"n_steps": 5}],
)
def test_generator_argument_errors(kwargs):
    with pytest.raises(ValueError):
        linear_var(**kwargs)
    with pytest.raises(ValueError, match="unknown"):
        nonlinear_var(functions=("cube",))
