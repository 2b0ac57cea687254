"""The plotting module draws what it is given: the points, bars and heat maps equal the data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hf_causal.core.plotting import (  # noqa: E402
    plot_balance,
    plot_interventional_distribution,
    plot_lagged_graph,
    plot_weights,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_love_plot_shows_absolute_smds_sorted_by_the_imbalance_before():
    balance = pd.DataFrame({"smd_before": [0.1, -0.9, 0.4], "smd_after": [0.02, 0.05, -0.03]},
                           index=["a", "b", "c"])
    ax = plot_balance(balance, top=2)
    before, after = (c.get_offsets() for c in ax.collections)
    np.testing.assert_allclose(before[:, 0], [0.4, 0.9])  # the two largest, ascending
    np.testing.assert_allclose(after[:, 0], [0.03, 0.05])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "b"]
    with pytest.raises(ValueError, match="smd_after"):
        plot_balance(balance.drop(columns="smd_after"))


def test_weight_histogram_counts_every_unit_of_each_arm():
    t = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    w = np.array([0.2, 0.3, 0.5, 0.1, 0.1, 0.2, 0.3, 0.3])
    ax = plot_weights(w, t, bins=5)
    heights = [sum(p.get_height() for p in c) for c in ax.containers]
    assert heights == [3, 5]
    with pytest.raises(ValueError, match="same shape"):
        plot_weights(w, t[:-1])


def test_interventional_distributions_discrete_bars_and_continuous_densities():
    draws = {"do(A=0)": [0, 0, 1, 1, 1], "do(A=1)": [1, 1, 1, 1, 0]}
    ax = plot_interventional_distribution(draws, discrete=True, xlabel="Y")
    bars = [[p.get_height() for p in c] for c in ax.containers]
    assert bars == [pytest.approx([0.4, 0.6]), pytest.approx([0.2, 0.8])] and ax.get_xlabel() == "Y"
    rng = np.random.default_rng(0)
    ax = plot_interventional_distribution(rng.normal(size=500), discrete=False, bins=20)
    widths = np.array([p.get_width() for p in ax.patches])
    area = float(np.sum([p.get_height() for p in ax.patches] * widths))
    assert area == pytest.approx(1.0)  # a density
    with pytest.raises(ValueError, match="no samples"):
        plot_interventional_distribution({}, discrete=True)


def test_lagged_graph_marks_every_edge_and_saves(tmp_path):
    adjacency = np.zeros((3, 3, 2), dtype=bool)
    adjacency[0, 1, 0] = adjacency[2, 2, 1] = True
    fig = plot_lagged_graph([("truth", adjacency, None)], ["x", "y", "z"], path=str(tmp_path / "g.png"))
    dots = [ax.collections[0].get_offsets() for ax in fig.axes]
    assert [d.tolist() for d in dots] == [[[1.0, 0.0]], [[2.0, 2.0]]]  # (target, source) per lag
    assert (tmp_path / "g.png").stat().st_size > 0
    with pytest.raises(ValueError, match="empty"):
        plot_lagged_graph([])
