"""The engine benchmark's SCMs, their closed-form truths, its oracle row and its report."""

import argparse

import numpy as np
import pytest
from engine_report import write_report
from engine_scms import MEDIATOR_QUERY, SCMS, WIDE, simulate_wide, wide_truth


def _do_simulation_mean(scm, a, n=400_000):
    """E[Y | do(A=a)] by simulating with A's mechanism replaced: rows re-drawn with A forced (mixed SCM only)."""
    rng = np.random.default_rng(1)
    z = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    return float((1 + 2 * a + 1.5 * z + 0.5 * a * z + rng.normal(size=n)).mean())


def test_closed_form_truths_match_simulation():
    for a in (0, 1):
        assert SCMS["mixed"].mean_do(a) == pytest.approx(_do_simulation_mean(SCMS["mixed"], a), abs=0.01)
    for do in ({"A": 0}, {"A": 1}, MEDIATOR_QUERY.treated, MEDIATOR_QUERY.control):
        y = simulate_wide(400_000, 3, do)["Y"]
        assert abs(wide_truth(do) - y.mean()) < 4 * y.std() / np.sqrt(len(y)), do
    # the direct effect with the mediator held fixed is smaller than the total effect by 0.8 * E[M] shift (0.8)
    cde = wide_truth(MEDIATOR_QUERY.treated) - wide_truth(MEDIATOR_QUERY.control)
    assert WIDE.ate - cde == pytest.approx(0.8, abs=1e-12)


def test_wide_scm_is_confounded_and_has_twenty_variables_of_every_type():
    df = WIDE.simulate(20_000, 0)
    assert len(WIDE.graph) == 20 and list(df.columns) == WIDE.graph.topological_order
    assert {WIDE.graph[v].type for v in WIDE.graph.topological_order} == {"binary", "categorical", "continuous"}
    naive = df.Y[df.A == 1].mean() - df.Y[df.A == 0].mean()
    assert naive - WIDE.ate > 0.5  # the naive contrast is far off
    assert set(WIDE.graph.parents("M")) == {"A", "U3"} and "M" in WIDE.graph.parents("Y")


def test_oracle_row_is_the_cell_mean_g_formula():
    from engine_benchmark import oracle_ate

    scm = SCMS["mixed"]
    df = scm.simulate(20_000, 0)
    oracle = oracle_ate(scm, df)
    by_hand = sum(
        (df.Z == z).mean() * (df.Y[(df.Z == z) & (df.A == 1)].mean() - df.Y[(df.Z == z) & (df.A == 0)].mean())
        for z in range(3)
    )
    assert oracle == pytest.approx(by_hand, rel=1e-12)
    assert abs(oracle - scm.ate) < 0.08 < abs(df.Y[df.A == 1].mean() - df.Y[df.A == 0].mean() - scm.ate)
    assert oracle_ate(SCMS["nonlinear"], SCMS["nonlinear"].simulate(500, 0)) is None  # continuous confounders


def _row(scm, seed, engine_error, dowhy_error, train_s):
    truth = SCMS[scm].ate
    return {
        "scm": scm, "seed": seed, "n_train": 10_000, "truth": truth, "truth0": 0.0, "truth1": truth,
        "naive": truth + 1.0, "oracle": None, "engine_ate": truth + engine_error, "engine_ate_se": 0.0,
        "engine_exact": True, "engine_mean0": 0.0, "engine_mean1": truth, "engine_t_train": train_s,
        "engine_steps": 500, "engine_params": 1000, "engine_t_query": 0.1, "engine_mc_ate": truth,
        "engine_t_mc_ate": 0.5, "dowhy_ate": truth + dowhy_error, "dowhy_mean0": 0.0, "dowhy_mean1": truth,
        "dowhy_t_fit": 2.0,
    }


def test_report_states_paired_differences_and_which_targets_are_missed(tmp_path):
    rows = [_row("mixed", s, e, d, t) for s, e, d, t in ((0, 0.01, 0.03, 20.0), (1, 0.03, 0.01, 40.0), (2, 0.02, 0.05, 30.0))]
    speed = [{"scm": "mixed", "engine_obs": 1e6, "engine_do": 2e6, "network_obs": 1e4, "network_do": 2e4,
              "dowhy_obs": 5e4, "dowhy_do": 6e4}]
    out = tmp_path / "engine.md"
    args = argparse.Namespace(out=str(out), threads=1, device=None, seeds=[0, 1, 2], mc=1000, max_steps=None)
    write_report(args, rows, speed, SCMS)
    text = out.read_text()
    diffs = np.array([0.01 - 0.03, 0.03 - 0.01, 0.02 - 0.05])
    assert f"{diffs.mean():+.3f} ± {diffs.std(ddof=1) / np.sqrt(3):.3f}" in text
    assert "training 30 s vs ≤ 30 s: met" in text  # the mean of 20, 40, 30
    assert "mean ATE error 0.020 vs DoWhy 0.030: met" in text
    assert "do() rows/s 2,000,000 vs DoWhy 60,000: met" in text and "|33.33|0.33|" in text
