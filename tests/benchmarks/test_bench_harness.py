"""The treatment-effect benchmark harness: metrics, skip reporting, plug-in protocol, reports."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from harness import (  # noqa: E402
    BenchDataset,
    EffectEstimate,
    Estimator,
    EstimatorSkipped,
    FunctionEstimator,
    Suite,
    load_suite,
    register_suite,
    run_suite,
    summarize,
)
from harness.metrics import skip_reasons  # noqa: E402
from harness.peers import NaiveDifference  # noqa: E402
from harness.report import NOTES_MARKER, plot_summary, write_markdown  # noqa: E402


def _tiny(name: str, truth: float, seed: int, n: int = 80) -> BenchDataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    T = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(np.int64)
    Y = X[:, 0] + truth * T + rng.normal(scale=0.5, size=n)
    return BenchDataset("tiny", name, X, T, Y, truth, "ate")


@pytest.fixture(scope="module")
def tiny_data() -> list[BenchDataset]:
    return [_tiny("a", 1.0, 0), _tiny("b", -0.5, 1)]


def _fixed(X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
    """A cheap estimator whose answers are known in advance: 0.8 on dataset a, 0.1 on b."""
    value = 0.8 if len(Y) and Y[0] == _FIRST_Y["a"] else 0.1
    return EffectEstimate(value=value, ci_low=value - 0.3, ci_high=value + 0.3)


_FIRST_Y: dict[str, float] = {}


def test_metrics_match_hand_computation(tiny_data: list[BenchDataset]) -> None:
    _FIRST_Y["a"] = float(tiny_data[0].Y[0])
    fixed = FunctionEstimator("fixed", _fixed, has_intervals=True)
    records = run_suite([NaiveDifference(), fixed], tiny_data)
    assert [(r.dataset, r.method, r.status) for r in records] == [
        ("a", "naive", "ok"),
        ("a", "fixed", "ok"),
        ("b", "naive", "ok"),
        ("b", "fixed", "ok"),
    ]
    summary = summarize(records, reference="naive").set_index("method")

    # fixed: |0.8 - 1.0| = 0.2 and |0.1 - (-0.5)| = 0.6; intervals [0.5, 1.1] (covers 1.0), [-0.2, 0.4] (misses)
    assert summary.loc["fixed", "mae"] == pytest.approx(0.4)
    assert summary.loc["fixed", "median_ae"] == pytest.approx(0.4)
    assert summary.loc["fixed", "coverage"] == pytest.approx(0.5)
    assert summary.loc["fixed", "intervals"] == 2

    # naive, by hand: difference in means and a Welch interval
    errors, covered = [], []
    for data in tiny_data:
        y1, y0 = data.Y[data.T == 1], data.Y[data.T == 0]
        diff = y1.mean() - y0.mean()
        se = math.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
        errors.append(abs(diff - data.truth))
        covered.append(diff - 1.96 * se <= data.truth <= diff + 1.96 * se)
    assert summary.loc["naive", "mae"] == pytest.approx(np.mean(errors))
    assert summary.loc["naive", "median_ae"] == pytest.approx(np.median(errors))
    assert summary.loc["naive", "coverage"] == pytest.approx(np.mean(covered))
    assert summary.loc["naive", "time_vs_reference"] == pytest.approx(1.0)
    # the time ratio is the reference's total time over the method's, on common datasets
    naive_s = sum(r.seconds for r in records if r.method == "naive")
    fixed_s = sum(r.seconds for r in records if r.method == "fixed")
    assert summary.loc["fixed", "time_vs_reference"] == pytest.approx(naive_s / fixed_s)

    # median differs from the mean with three errors
    extra = run_suite([fixed], [_tiny("c", 5.0, 2)])
    three = summarize(records + extra).set_index("method")
    assert three.loc["fixed", "mae"] == pytest.approx((0.2 + 0.6 + 4.9) / 3)
    assert three.loc["fixed", "median_ae"] == pytest.approx(0.6)


class _NeedsMissingPackage:
    name = "needs_missing"
    requires = ("a_package_that_is_not_installed_xyz",)

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        raise AssertionError("must not be called when its package is missing")


class _Quadratic:
    name = "quadratic"
    max_n = 50

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        raise AssertionError("must not be called above max_n")


def _declines(X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> float:
    raise EstimatorSkipped("declined on purpose")


def _crashes(X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> float:
    raise RuntimeError("boom")


def test_skipped_and_failed_peers_are_reported_not_dropped(tiny_data: list[BenchDataset], tmp_path: Path) -> None:
    estimators = [
        NaiveDifference(),
        _NeedsMissingPackage(),
        _Quadratic(),
        FunctionEstimator("declines", _declines),
        FunctionEstimator("crashes", _crashes),
    ]
    records = run_suite(estimators, tiny_data)
    assert len(records) == 2 * len(estimators)
    summary = summarize(records).set_index("method")
    for name in ("needs_missing", "quadratic", "declines"):
        assert summary.loc[name, "ok"] == 0 and summary.loc[name, "skipped"] == 2
        assert np.isnan(summary.loc[name, "mae"])
    assert summary.loc["crashes", "errors"] == 2
    notes = {r.method: r.note for r in records}
    assert "not installed: a_package_that_is_not_installed_xyz" in notes["needs_missing"]
    assert "max_n = 50" in notes["quadratic"]
    assert notes["declines"] == "declined on purpose"
    assert notes["crashes"] == "RuntimeError: boom"
    reasons = skip_reasons(records)
    assert set(reasons["method"]) == {"needs_missing", "quadratic", "declines", "crashes"}
    assert reasons.set_index("method").loc["quadratic", "note"] == "N > max_n = 50"  # N folded across datasets

    path = tmp_path / "ate.md"
    write_markdown(records, path, title="t", command="pytest")
    text = path.read_text()
    assert "| tiny | needs_missing | skipped | not installed" in text
    assert "| tiny | crashes | error | RuntimeError: boom | 2 |" in text
    assert "| quadratic | 0 / 2 |" in text

    # the hand-written run notes after the marker survive a rebuild of the tables; the old tables do not
    path.write_text(text.replace("| quadratic | 0 / 2 |", "| stale row |") + "1. a run note written by hand\n")
    write_markdown(records[:2], path, title="t", command="pytest")
    rebuilt = path.read_text()
    assert "stale row" not in rebuilt and "crashes" not in rebuilt.split(NOTES_MARKER)[0]
    assert rebuilt.count(NOTES_MARKER) == 1 and rebuilt.endswith(f"{NOTES_MARKER}\n1. a run note written by hand\n")


class _ConstantPlugin:
    """A new method plugged in by duck typing: ``name`` + ``estimate``."""

    name = "plugin"

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        assert estimand == "att"
        return EffectEstimate(value=2.0)


def test_plugin_protocol_on_a_registered_suite(tmp_path: Path) -> None:
    plugin = _ConstantPlugin()
    assert isinstance(plugin, Estimator)

    def loader(n_datasets: int, quick: bool):
        for i in range(n_datasets):
            data = _tiny(f"p{i}", 1.0 + i, 10 + i)
            data.suite, data.estimand = "plugin_suite", "att"
            yield data

    register_suite(Suite("plugin_suite", "att", 3, "for the test", loader))
    assert [d.name for d in load_suite("plugin_suite", n_datasets=2)] == ["p0", "p1"]
    records = run_suite([plugin, NaiveDifference()], "plugin_suite")
    assert [r.estimand for r in records] == ["att"] * 6
    summary = summarize(records).set_index("method")
    assert summary.loc["plugin", "mae"] == pytest.approx((1.0 + 0.0 + 1.0) / 3)
    assert np.isnan(summary.loc["plugin", "coverage"]) and summary.loc["plugin", "intervals"] == 0
    assert np.isnan(summary.loc["plugin", "time_vs_reference"])  # no linear_dml in the run

    plot_summary(summarize(records), tmp_path / "ate.png")
    assert (tmp_path / "ate.png").stat().st_size > 1000
    # a deadline in the past starts no dataset
    assert run_suite([plugin], "plugin_suite", deadline=0.0) == []
    with pytest.raises(ValueError, match="unique"):
        run_suite([plugin, plugin], "plugin_suite")


class _Slow:
    name = "slow"
    timeout_s = 0.5

    def estimate(self, X: np.ndarray, T: np.ndarray, Y: np.ndarray, estimand: str) -> EffectEstimate:
        import time

        if len(Y) > 70:
            time.sleep(30)
        if estimand == "att":
            raise ValueError("no att")
        return EffectEstimate(value=float(len(Y)))


def test_time_limited_estimators_run_in_a_child(tiny_data: list[BenchDataset]) -> None:
    small = _tiny("small", 1.0, 3, n=60)
    records = run_suite([_Slow()], [tiny_data[0], small])
    assert records[0].status == "skipped" and records[0].note == "exceeded the 0.5 s time limit"
    assert records[1].status == "ok" and records[1].estimate == 60.0 and records[1].seconds < 0.5
    small.estimand = "att"
    failed = run_suite([_Slow()], [small])[0]
    assert failed.status == "error" and failed.note == "ValueError: no att"


def test_target_table_compares_with_the_best_named_peer(tiny_data: list[BenchDataset]) -> None:
    from harness.report import target_table

    truth = {float(d.Y[0]): d.truth for d in tiny_data}

    def off_by(delta: float):
        return lambda X, T, Y, estimand: truth[float(Y[0])] + delta

    estimators = [FunctionEstimator(name, off_by(delta)) for name, delta in
                  (("cina_zs", 0.1), ("ipw", -0.2), ("linear_dml", 0.05), ("naive", 0.01))]
    records = run_suite(estimators, tiny_data)
    lines = target_table(summarize(records)).splitlines()
    # naive is not a target peer: the best peer is LinearDML (MAE 0.05); CInA's 0.1 is twice that
    assert lines[2].startswith("| tiny | 0.1 | linear_dml (0.05) | 2.00 | no |")
    without_dml = [r for r in records if r.method != "linear_dml"]
    assert target_table(summarize(without_dml)).splitlines()[2].startswith("| tiny | 0.1 | ipw (0.2) | 0.50 | yes |")


def test_target_table_paired_columns_match_hand_computation(tiny_data: list[BenchDataset]) -> None:
    from harness.report import paired_difference, target_table

    truth = {float(d.Y[0]): d.truth for d in tiny_data}
    first = float(tiny_data[0].Y[0])

    def ours(X, T, Y, estimand):  # errors 0.1 (a) and 0.4 (b)
        return truth[float(Y[0])] + (0.1 if float(Y[0]) == first else -0.4)

    def peer(X, T, Y, estimand):  # errors 0.3 (a) and 0.1 (b)
        return truth[float(Y[0])] + (-0.3 if float(Y[0]) == first else 0.1)

    records = run_suite([FunctionEstimator("cina_zs", ours), FunctionEstimator("ipw", peer)], tiny_data)
    mean, se, wins, n = paired_difference(records, "tiny", "cina_zs", "ipw")
    diffs = np.array([0.1 - 0.3, 0.4 - 0.1])
    assert n == 2 and wins == 1
    assert mean == pytest.approx(diffs.mean()) and se == pytest.approx(diffs.std(ddof=1) / np.sqrt(2))
    row = target_table(summarize(records), records=records).splitlines()[2]
    assert row.startswith("| tiny | 0.25 | ipw (0.2) | 1.25 | no | +0.05 ± ")
    assert "| 1 / 2 |" in row
    # a peer that never ran on the suite is not compared
    assert paired_difference(records, "tiny", "cina_zs", "linear_dml")[3] == 0


def test_ablation_table_pools_the_ood_suites() -> None:
    """Per suite and pooled over suites: the paired Δ of a learned part against its ablation, by hand."""
    from harness.protocol import Record
    from harness.report import ablation_table, pooled_difference

    # |errors| of (variant, baseline) on three datasets per suite
    errors = {"ood_mechanism": [(0.1, 0.2), (0.2, 0.4), (0.0, 0.3)], "ood_large_n": [(0.3, 0.1), (0.2, 0.2), (0.4, 0.1)],
              "ihdp_b": [(0.5, 0.5), (0.6, 0.5), (0.5, 0.6)]}
    records = [
        Record(suite=suite, dataset=f"d{i}", method=method, estimand="ate", n=100, truth=1.0, status="ok",
               estimate=1.0 + pair[k])
        for suite, pairs in errors.items() for i, pair in enumerate(pairs)
        for k, method in enumerate(("cina_zs_pretrained", "cina_zs_kernel"))
    ]
    diffs = np.array([a - b for s in ("ood_mechanism", "ood_large_n") for a, b in errors[s]])
    mean, se, wins, n = pooled_difference(records, ("ood_mechanism", "ood_large_n"), "cina_zs_pretrained",
                                          "cina_zs_kernel")
    assert n == 6 and wins == int((diffs < 0).sum()) == 3
    assert mean == pytest.approx(diffs.mean()) and se == pytest.approx(diffs.std(ddof=1) / np.sqrt(6))
    table = ablation_table(records).splitlines()
    assert table[0].startswith("**pretrained outcome network vs kernel ridge")
    assert any(line.startswith("| ood_mechanism | −0.2 ± ") and "| 3 / 3 |" in line for line in table)
    pooled = next(line for line in table if line.startswith("| pooled: ood_mechanism, ood_large_n |"))
    assert "| 3 / 6 |" in pooled
    assert ablation_table(records[:1]) == "No ablation pair ran."


def test_target_table_pools_each_suite_against_its_own_best_peer() -> None:
    """The pooled rows: each dataset's Δ against its suite's best peer (ipw on one suite, linear_dml on the other),
    raw over the OOD suites and divided by that peer's MAE over every multi-dataset suite, by hand."""
    from harness.protocol import Record
    from harness.report import pooled_best_peer_difference, target_table

    # |errors| of (cina_zs, ipw, linear_dml) on each dataset
    errors = {"ood_mechanism": [(0.1, 0.2, 0.5), (0.25, 0.2, 0.6)], "ihdp_b": [(1.0, 3.0, 2.0), (2.0, 5.0, 1.0)]}
    records = [
        Record(suite=suite, dataset=f"d{i}", method=method, estimand="ate", n=100, truth=1.0, status="ok",
               estimate=1.0 + errs[k])
        for suite, rows in errors.items() for i, errs in enumerate(rows)
        for k, method in enumerate(("cina_zs", "ipw", "linear_dml"))
    ]
    # best peers by MAE: ood_mechanism ipw (0.2), ihdp_b linear_dml (1.5)
    ood = np.array([0.1 - 0.2, 0.25 - 0.2])
    scaled = np.concatenate([ood / 0.2, np.array([1.0 - 2.0, 2.0 - 1.0]) / 1.5])
    mean, se, wins, n = pooled_best_peer_difference(records, {"ood_mechanism": ("ipw", 0.2)}, "cina_zs")
    assert (n, wins) == (2, 1) and mean == pytest.approx(ood.mean())
    assert se == pytest.approx(ood.std(ddof=1) / np.sqrt(2))
    lines = target_table(summarize(records), records=records).splitlines()
    pooled_ood = next(line for line in lines if line.startswith("| pooled OOD suites"))
    assert "| 1 / 2 |" in pooled_ood and f"{ood.mean() / (ood.std(ddof=1) / np.sqrt(2)):+.1f} SE" in pooled_ood
    pooled_all = next(line for line in lines if line.startswith("| pooled multi-dataset suites"))
    assert "| 2 / 4 |" in pooled_all
    assert f"{scaled.mean() / (scaled.std(ddof=1) / 2):+.1f} SE" in pooled_all


def test_uniform_base_weights_ablation_uses_the_same_estimator(monkeypatch) -> None:
    """The ablation's estimate is the library's estimator on uniform base weights (the interval's balance and weights
    checks off: ``effect_from_weights`` gives the residual standard error alone)."""
    from harness.peers import UniformBaseWeights
    from support import tiny_cina_model

    from hf_causal.cina import streaming
    from hf_causal.cina.estimator import effect_from_weights, standardize_columns

    monkeypatch.setattr(streaming, "INTERVAL_BALANCE_CHECK", False)
    monkeypatch.setattr(streaming, "INTERVAL_WEIGHTS_CHECK", False)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    t = (rng.random(300) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    y = x[:, 0] + t + rng.normal(size=300)
    uniform = UniformBaseWeights(tiny_cina_model(seed=0))
    base = uniform.balancing_weights(x, t)
    assert base[t == 1].sum() == pytest.approx(1.0) and np.ptp(base[t == 0]) == 0
    est = uniform.estimate(x, t, y, estimand="ate")
    value, se, *_ = effect_from_weights(standardize_columns(x), t, y, base, "ate")
    assert est.value == pytest.approx(value) and est.std_error == pytest.approx(se)


def _with_truth(name: str, seed: int, noise: float, n: int = 300) -> BenchDataset:
    """A dataset with per-unit truth: mu0 = x0, mu1 = x0 + 1 + x1 (a heterogeneous effect)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    T = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(np.int64)
    mu0, mu1 = X[:, 0], X[:, 0] + 1.0 + X[:, 1]
    Y = np.where(T == 1, mu1, mu0) + noise * rng.normal(size=n)
    return BenchDataset("truth", name, X, T, Y, float(np.mean(mu1 - mu0)), "ate", {"mu0": mu0, "mu1": mu1})


def test_oracle_rows_get_the_truth_and_are_skipped_without_it() -> None:
    """An estimator with ``uses_truth`` is called with the dataset's meta; where a suite has no per-unit truth it is
    reported as skipped with the reason, never called."""
    seen: list[dict] = []

    class Peek:
        name = "oracle_peek"
        uses_truth = True

        def estimate(self, X, T, Y, estimand, truth=None):  # noqa: ANN001, ANN201
            seen.append(truth)
            return EffectEstimate(value=float(np.mean(truth["mu1"] - truth["mu0"])))

    with_truth, without = _with_truth("w", 0, 0.5), _tiny("no-truth", 1.0, 0)
    records = run_suite([Peek()], [with_truth, without])
    assert records[0].status == "ok" and records[0].estimate == pytest.approx(with_truth.truth)
    assert seen[0] is with_truth.meta and len(seen) == 1
    assert records[1].status == "skipped" and "no per-unit truth" in records[1].note


def test_oracle_surfaces_is_exact_without_noise_and_the_default_weights_otherwise() -> None:
    """With noiseless outcomes the augmentation's residuals vanish, so the oracle returns the true effect exactly
    (ATE and ATT, a closed form); with noise it is the default's weights applied to the outcome noise."""
    from harness.peers import OracleOutcomeSurfaces
    from support import tiny_cina_model

    model = tiny_cina_model(seed=0)
    oracle = OracleOutcomeSurfaces(model)
    exact = _with_truth("exact", 1, noise=0.0)
    tau = exact.meta["mu1"] - exact.meta["mu0"]
    assert oracle.estimate(exact.X, exact.T, exact.Y, "ate", truth=exact.meta).value == pytest.approx(tau.mean())
    assert oracle.estimate(exact.X, exact.T, exact.Y, "att", truth=exact.meta).value == pytest.approx(
        tau[exact.T == 1].mean())
    noisy = _with_truth("noisy", 2, noise=1.0)
    mu0, mu1 = noisy.meta["mu0"], noisy.meta["mu1"]
    w = model.estimate(noisy.X, noisy.T, noisy.Y, estimand="ate", outcome_model="none").weights
    t = noisy.T == 1
    expected = np.mean(mu1 - mu0) + w[t] @ (noisy.Y - mu1)[t] - w[~t] @ (noisy.Y - mu0)[~t]
    assert oracle.estimate(noisy.X, noisy.T, noisy.Y, "ate", truth=noisy.meta).value == pytest.approx(expected)
    with pytest.raises(TypeError, match="needs truth"):
        oracle.estimate(noisy.X, noisy.T, noisy.Y, "ate")


def test_oracle_rows_are_not_ranked_and_the_oracle_table_pairs_by_hand(tmp_path: Path) -> None:
    """Oracle rows never take the bold or the rank; the oracle table's paired distances are the hand-computed
    means ± SEs of |error| differences against the oracle."""
    from harness.protocol import Record
    from harness.report import oracle_table, rank_table

    errors = {  # |estimate - truth| per dataset (truth 0)
        "oracle_surfaces": [0.01, 0.02, 0.03], "cina_zs_weights": [0.10, 0.30, 0.20],
        "cina_zs_kernel": [0.05, 0.10, 0.15], "cina_zs": [0.04, 0.06, 0.11], "ipw": [0.20, 0.10, 0.30],
    }
    records = [Record(suite="ood_mechanism", dataset=f"d{i}", method=m, estimand="ate", n=100, truth=0.0,
                      status="ok", estimate=e, seconds=0.1) for m, errs in errors.items() for i, e in enumerate(errs)]
    summary = write_markdown(records, tmp_path / "r.md", title="t", command="c")
    text = (tmp_path / "r.md").read_text()
    assert "| oracle_surfaces | 3 / 3 | 0.02 |" in text and "**0.07**" in text  # cina_zs bold, not the oracle
    assert "cina_zs (0.07)" in rank_table(summary)
    table = oracle_table(summary, records)
    row = next(line for line in table.splitlines() if line.startswith("| ood_mechanism"))
    for method in ("cina_zs_weights", "cina_zs", "ipw"):
        diff = np.subtract(errors[method], errors["oracle_surfaces"])
        mean, se = diff.mean(), diff.std(ddof=1) / math.sqrt(3)
        assert f"+{mean:.3g} ± {se:.3g}" in row
    assert "ipw (0.2)" in row
    assert "## The oracle" in text and "pooled OOD suites" in table
