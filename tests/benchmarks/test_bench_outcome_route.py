"""The routing-threshold selection script: its per-dataset records against the public estimator, and its rules'
lookups against records whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import load_script, tiny_outcome_model

route = load_script("benchmarks/outcome_route_selection.py", "outcome_route_selection_script")


def two_network_model(threshold: float):
    """A tiny checkpoint whose two outcome networks differ (each head perturbed with its own seed)."""
    return tiny_outcome_model(head_seeds=(1, 2), outcome_wide_network=True, outcome_wide_effect_threshold=threshold)


def test_records_match_the_public_estimates_of_each_network(tmp_path, single_thread, monkeypatch):
    """``kernel`` is the error of ``estimate(outcome_model="kernel")``; the column of the network the model's rule
    picks for the dataset (``first`` or ``wide``) is the error of the default estimate, and ``first`` is the
    default's error with the wide network detached; the plug-in effect is the kernel model's, in SDs of Y. The
    threshold (0.75) splits the three draws, so both paths are checked. The routing prices the network's surfaces
    as they are: the residual trees (which came later) are kept out of both sides."""
    from harness.peers import first_outcome_network_only

    from hf_causal.cina import residual_trees
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes
    from hf_causal.data.families import sample_family

    monkeypatch.setattr(residual_trees, "RESIDUAL_TREES_GATE", np.inf)

    model = two_network_model(threshold=0.75)
    model.save_pretrained(tmp_path / "model")
    records = tmp_path / "rows.jsonl"
    assert route.main(["--family", "outcome_validation_wide=3", "--records", str(records), "--model",
                       str(tmp_path / "model"), "--output", str(tmp_path / "route.md")]) == 0
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    routed = set()
    for row, ds in zip(rows, sample_family("outcome_validation_wide", 3, seed=0), strict=True):
        x, t, y = np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float)
        scale = float(np.std(y))
        kernel = model.estimate(x, t, y, estimand="ate", outcome_model="kernel").value
        default = model.estimate(x, t, y, estimand="ate", outcome_model="pretrained")
        with first_outcome_network_only(model):
            first = model.estimate(x, t, y, estimand="ate", outcome_model="pretrained").value
        assert row["kernel"] == pytest.approx(abs(kernel - ds.ate) / scale, rel=1e-7)
        assert row["first"] == pytest.approx(abs(first - ds.ate) / scale, rel=1e-7)
        column = "wide" if default.outcome_network == "outcome_network_wide" else "first"
        assert row[column] == pytest.approx(abs(default.value - ds.ate) / scale, rel=1e-7)
        assert (abs(row["effect_in_sd"]) > 0.75) == (column == "wide")
        kernel_po = predict_potential_outcomes(model, x, t, y, use_network=False)
        assert row["effect_in_sd"] == pytest.approx(np.mean(kernel_po.mu1 - kernel_po.mu0) / scale, rel=1e-7)
        assert all(np.isfinite(row[k]) and row[k] > 0 for k in ("mse_kernel", "mse_first", "mse_wide"))
        routed.add(column)
    assert routed == {"first", "wide"}


def test_each_rule_reads_the_column_it_names(tmp_path):
    """Records with known errors: ``threshold_T`` takes ``wide`` exactly where |effect| > T, ``heldout`` the network
    with the lower held-out error (the shipped rule where that is missing), and the report's paired differences are
    those of the columns."""
    rows = []
    for i, effect in enumerate((-2.0, -0.6, 0.1, 0.3, 0.9, 1.3, 1.6, 3.0)):
        mse = (0.5, 0.4) if i % 2 else (0.4, 0.5)  # wide better on odd rows
        if i == 7:
            mse = (float("nan"), float("nan"))
        rows.append({"family": "outcome_validation", "dataset": i, "seed": 0, "effect_in_sd": effect,
                     "kernel": 0.10, "first": 0.05 + 0.001 * i, "wide": 0.02, "mse_kernel": 0.6,
                     "mse_first": mse[0], "mse_wide": mse[1]})
    errors = route.rule_errors(rows)
    first = np.array([row["first"] for row in rows])
    effect = np.abs([row["effect_in_sd"] for row in rows])
    for threshold in route.THRESHOLDS:
        expected = np.where(effect > threshold, 0.02, first)
        np.testing.assert_allclose(errors[f"threshold_{threshold:g}"], expected)
    expected = [0.05, 0.02, 0.052, 0.02, 0.054, 0.02, 0.056, 0.02]  # the last row: no held-out errors, shipped rule
    np.testing.assert_allclose(errors["heldout"], expected)
    records, output = tmp_path / "rows.jsonl", tmp_path / "route.md"
    records.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert route.main(["--from-records", str(records), "--output", str(output)]) == 0
    line = next(row for row in output.read_text().splitlines() if row.startswith("| threshold_0 |"))
    mean = float(np.mean(np.full(8, 0.02) - errors["threshold_1.25"]))
    assert float(line.split(" | ")[2].split(" ± ")[0]) == pytest.approx(mean, abs=1e-4)


def test_the_selection_score_averages_groups_with_the_ood_families_as_one():
    """Two OOD families form one group, a validation family another, IHDP-B none: the score of a rule is the mean of
    the two groups' mean errors, computed here by hand."""
    rows = []
    for family, first, count in (("ood_mechanism", 0.10, 2), ("ood_large_n", 0.40, 6), ("outcome_validation", 0.2, 4),
                                 ("ihdp_b", 9.0, 3)):
        for i in range(count):
            rows.append({"family": family, "dataset": i, "seed": 0, "effect_in_sd": 0.1, "kernel": 1.0,
                         "first": first, "wide": 0.0, "mse_kernel": 1.0, "mse_first": 1.0, "mse_wide": 1.0})
    names, scores = route.selection_scores(rows)
    assert names == ["OOD families", "outcome_validation"]
    ood = (2 * 0.10 + 6 * 0.40) / 8  # pooled by dataset within the group
    assert scores["first"] == pytest.approx((ood + 0.2) / 2)
    assert scores["threshold_0"] == pytest.approx(0.0) and scores["kernel"] == pytest.approx(1.0)
    assert scores["threshold_0.25"] == pytest.approx(scores["first"])  # |effect| 0.1 is under 0.25
    lines = route.score_lines(rows)
    assert lines[lines.index("| rule | score |") + 2].startswith("| threshold_0 |")  # lowest first
    assert route.score_lines([row for row in rows if row["family"] != "outcome_validation"]) == []  # one group
