"""discover_lagged_graph recovers known lagged graphs and rejects bad input."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from hf_causal.discovery import (
    LaggedCausalGraph,
    discover_lagged_graph,
    heterogeneous_collection,
    lagged_graph_metrics,
    nonlinear_var,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_small_nonlinear_var(seed):
    sim = nonlinear_var(n_vars=4, n_steps=3000, max_lag=2, seed=seed)
    graph = discover_lagged_graph(sim.data, max_lag=2, seed=seed)
    assert graph.scores.shape == graph.adjacency.shape == (4, 4, 2)
    m = lagged_graph_metrics(sim.adjacency, graph.adjacency, graph.scores)
    assert m["auroc"] >= 0.95, m
    assert m["f1"] >= 0.8, m
    assert graph.val_loss < 0.95  # the forecaster learned something


def test_orientation_source_target_lag():
    rng = np.random.default_rng(0)
    n = 1500
    x = np.zeros((n, 3))
    e = rng.standard_normal((n, 3))
    for t in range(n):
        x[t, 0] = e[t, 0]
        x[t, 1] = 0.9 * np.tanh(2 * x[t - 2, 0]) + 0.3 * e[t, 1] if t >= 2 else e[t, 1]
        x[t, 2] = 0.7 * x[t - 1, 2] + e[t, 2] if t >= 1 else e[t, 2]
    frame = pd.DataFrame(x, columns=["driver", "follower", "ar"])
    graph = discover_lagged_graph(frame, max_lag=3, seed=0, max_steps=300)
    assert graph.var_names == ["driver", "follower", "ar"]
    assert graph.adjacency[0, 1, 1] and graph.scores[0, 1, 1] == pytest.approx(1.0)
    assert graph.adjacency[2, 2, 0]
    assert not graph.adjacency[1, 0].any() and not graph.adjacency[0, 2].any()
    edges = graph.edges()
    assert {("driver", "follower", 2), ("ar", "ar", 1)} <= set(zip(edges.source, edges.target, edges.lag))
    assert graph.summary_adjacency().shape == (3, 3)
    top1 = graph.rethreshold("topk", k=1)
    assert top1.adjacency.reshape(-1, 3, 3).sum() == 3


def test_list_of_heterogeneous_series():
    sim = heterogeneous_collection(n_vars=4, n_steps=2400, max_lag=2, n_series=3, seed=0)
    graph = discover_lagged_graph(sim.data, max_lag=2, seed=0, max_steps=400)
    m = lagged_graph_metrics(sim.adjacency, graph.adjacency, graph.scores)
    assert m["auroc"] >= 0.9, m


def test_deterministic_given_seed():
    sim = nonlinear_var(n_vars=3, n_steps=600, max_lag=2, seed=4)
    kw = {"max_lag": 2, "max_steps": 60, "seed": 3}
    a, b = discover_lagged_graph(sim.data, **kw), discover_lagged_graph(sim.data, **kw)
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.adjacency, b.adjacency)
    c = discover_lagged_graph(sim.data, max_lag=2, max_steps=60, seed=4)
    assert not np.array_equal(a.scores, c.scores)
    assert isinstance(a, LaggedCausalGraph)


def test_progress_bar_switch(capsys):
    sim = nonlinear_var(n_vars=3, n_steps=400, max_lag=1, seed=0)
    discover_lagged_graph(sim.data, max_lag=1, max_steps=5, progress=True)
    assert "training forecaster" in capsys.readouterr().err
    discover_lagged_graph(sim.data, max_lag=1, max_steps=5, progress=False)
    assert "training forecaster" not in capsys.readouterr().err


def test_bad_input_errors():
    good = np.random.default_rng(0).standard_normal((300, 3))
    bad = good.copy()
    bad[10, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        discover_lagged_graph(bad, max_lag=2)
    with pytest.raises(ValueError, match="2-D"):
        discover_lagged_graph(good[:, 0], max_lag=2)
    with pytest.raises(ValueError, match="2-D"):
        discover_lagged_graph(good[None], max_lag=2)
    with pytest.raises(ValueError, match="max_lag"):
        discover_lagged_graph(good, max_lag=0)
    with pytest.raises(TypeError, match="max_lag"):
        discover_lagged_graph(good, max_lag=2.5)
    with pytest.raises(ValueError, match="time steps"):
        discover_lagged_graph(good[:3], max_lag=2)
    with pytest.raises(ValueError, match="too few time steps"):
        discover_lagged_graph(good[:40], max_lag=2)
    with pytest.raises(ValueError, match="variables"):
        discover_lagged_graph([good, good[:, :2]], max_lag=2)
    with pytest.raises(ValueError, match="constant"):
        discover_lagged_graph(np.c_[good, np.ones(300)], max_lag=2)
    with pytest.raises(TypeError, match="numeric"):
        discover_lagged_graph(good.astype(str), max_lag=2)
    with pytest.raises(TypeError, match="series must be"):
        discover_lagged_graph("abc", max_lag=2)
    with pytest.raises(ValueError, match="attribution"):
        discover_lagged_graph(good, max_lag=2, attribution="shap")
    with pytest.raises(ValueError, match="context_length"):
        discover_lagged_graph(good, max_lag=3, context_length=2)
    with pytest.raises(ValueError, match="top_k"):
        discover_lagged_graph(good, max_lag=2, threshold="topk")
    with pytest.raises(ValueError, match=r"variable names must be unique .* \['a'\]"):
        discover_lagged_graph(good, max_lag=2, var_names=["a", "a", "b"])
    with pytest.raises(ValueError, match=r"variable names must be unique"):
        discover_lagged_graph(pd.DataFrame(good, columns=["a", "a", "b"]), max_lag=2)
    stamped = pd.DataFrame(good, columns=["a", "b", "c"]).assign(t=pd.date_range("2020", periods=300, freq="h"))
    with pytest.raises(TypeError, match=r"non-numeric columns \['t'\] .* a time column belongs in the index"):
        discover_lagged_graph(stamped, max_lag=2)
    with pytest.raises(TypeError, match="numeric"):
        discover_lagged_graph(good * (1 + 1j), max_lag=2)
    named = pd.DataFrame(good, columns=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"constant variables \(columns \['d'\]\)"):
        discover_lagged_graph(named.assign(d=1.0), max_lag=2)
    with pytest.raises(ValueError, match=r"NaN or infinite values \(columns \['b'\]\)"):
        discover_lagged_graph(named.assign(b=bad[:, 1]), max_lag=2)
    for option in ("batch_size", "n_attribution_windows"):
        with pytest.raises(ValueError, match=f"{option} must be an int >= 1, got 0"):
            discover_lagged_graph(good, max_lag=2, **{option: 0})


def test_standardisation_is_the_same_at_any_scale_float64_holds():
    from hf_causal.discovery.training import prepare_series

    series = np.random.default_rng(1).standard_normal((200, 3)) + [0.0, 5.0, -2.0]
    reference = prepare_series(series, 2).arrays[0]
    for scale in (1e160, 1e-300):  # squares overflow at the one, look constant in absolute terms at the other
        np.testing.assert_allclose(prepare_series(series * scale, 2).arrays[0], reference, atol=1e-5)


def test_package_root_export_and_plot(tmp_path):
    import hf_causal
    from hf_causal.core.plotting import plot_lagged_graph

    assert hf_causal.discover_lagged_graph is discover_lagged_graph
    sim = nonlinear_var(n_vars=3, n_steps=300, max_lag=2, seed=0)
    path = tmp_path / "graph.png"
    fig = plot_lagged_graph([("truth", sim.adjacency, None)], path=str(path))
    assert path.stat().st_size > 1000 and len(fig.axes) == 2
    graph = discover_lagged_graph(sim.data, max_lag=2, max_steps=20, n_attribution_windows=50)
    fig = graph.plot(path=str(tmp_path / "found.png"), truth=sim.adjacency)
    assert len(fig.axes) == 4 and (tmp_path / "found.png").stat().st_size > 1000  # recovered and truth, 2 lags
    with pytest.raises(ValueError, match=r"truth must have the graph's shape .* = \(3, 3, 2\), got \(2, 2, 2\)"):
        graph.plot(truth=np.zeros((2, 2, 2)))
    missing = tmp_path / "no_such_folder" / "g.png"
    with pytest.raises(ValueError, match=re.escape(f"the folder '{tmp_path / 'no_such_folder'}' does not exist")):
        graph.plot(path=str(missing))
    with pytest.raises(ValueError, match="k must be a positive integer, got 2.5"):
        graph.rethreshold("topk", k=2.5)


def test_options_are_checked_before_training():
    good = np.random.default_rng(0).standard_normal((300, 3))
    for k in (2.5, 0, True):
        with pytest.raises(ValueError, match=f"top_k must be a positive integer, got {k!r}"):
            discover_lagged_graph(good, max_lag=2, threshold="topk", top_k=k)
    for rate in (float("nan"), float("inf"), 0.0, -1.0):
        with pytest.raises(ValueError, match=f"learning_rate must be a finite positive number, got {rate!r}"):
            discover_lagged_graph(good, max_lag=2, learning_rate=rate)
    with pytest.raises(TypeError, match="learning_rate must be a finite positive number, got '0.1'"):
        discover_lagged_graph(good, max_lag=2, learning_rate="0.1")
    with pytest.raises(TypeError, match="seed must be a non-negative integer, got 'a'"):
        discover_lagged_graph(good, max_lag=2, seed="a")
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        discover_lagged_graph(good, max_lag=2, seed=-1)


def test_a_diverged_training_is_reported_as_such():
    good = np.random.default_rng(0).standard_normal((300, 3))
    with pytest.raises(ValueError, match=r"training the forecaster diverged \(non-finite .* learning_rate=1e\+06\); "
                                         "try a smaller learning_rate"):
        discover_lagged_graph(good, max_lag=2, learning_rate=1e6, max_steps=20, n_attribution_windows=50, cpu=True)


def test_variation_lost_against_the_level_is_not_called_constant():
    """At 1e15 float64 resolves steps of 0.125: a unit-scale signal keeps a handful of distinct values, which
    standardising would blow up into a series of rounding steps."""
    from hf_causal.discovery.training import prepare_series

    frame = pd.DataFrame(np.random.default_rng(0).standard_normal((300, 3)), columns=["a", "b", "c"])
    assert all(2 < (frame + 1e15)[c].nunique() < 50 for c in frame)  # not constant
    with pytest.raises(ValueError, match=r"variation is too small relative to their level to compute with in "
                                         r"float64 \(columns \['a', 'b', 'c'\]: e.g. a spread of .* around 1e\+15\); "
                                         "subtract a baseline"):
        prepare_series(frame + 1e15, 2)
    with pytest.raises(ValueError, match=r"constant variables \(columns \['d'\]\)"):
        prepare_series(frame.assign(d=1e15), 2)
