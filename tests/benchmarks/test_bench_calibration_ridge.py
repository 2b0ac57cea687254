"""The calibration-ridge selection script: its candidates against the public estimates, and its rule."""

from __future__ import annotations

import json

import pytest
from support import load_script

selection = load_script("benchmarks/calibration_ridge_selection.py", "calibration_ridge_selection_script")


def test_candidates_match_the_public_estimate_and_the_scale_is_restored(tmp_path, single_thread):
    """The shipped scale's column is the default estimate through the public API; scale 1 balances more tightly
    than scale 100 on every dataset; the module's scale is restored; the report names the choice."""
    from hf_causal import CInAModel
    from hf_causal.cina import calibration
    from hf_causal.data.benchmarks import load_benchmark_frame
    from hf_causal.data.families import sample_family

    records, output = tmp_path / "rows.jsonl", tmp_path / "ridge.md"
    before = calibration.CALIBRATION_RIDGE_SCALE
    assert selection.main(["--family", "ood_weak_overlap=1", "--ihdp-b", "1", "--ihdp-a", "0",
                           "--records", str(records), "--output", str(output)]) == 0
    assert calibration.CALIBRATION_RIDGE_SCALE == before
    shipped = selection.scale_name(calibration.CALIBRATION_RIDGE_SCALE)
    assert shipped in {selection.scale_name(s) for s in selection.SCALES}
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert [r["family"] for r in rows] == ["ood_weak_overlap", "ihdp_b"]
    model = CInAModel.from_pretrained("cina-zs-base")
    ds = next(iter(sample_family("ood_weak_overlap", 1, seed=1)))
    ihdp = load_benchmark_frame("ihdp_b", selection.IHDP_FIRST_SEED)
    assert rows[0]["truth"] == pytest.approx(ds.ate) and rows[1]["truth"] == pytest.approx(ihdp.true_ate)
    assert rows[0]["default"][shipped] == pytest.approx(model.estimate(ds.X, ds.T, ds.Y).value, rel=1e-9)
    for row in rows:
        for estimator in selection.ESTIMATORS:
            assert row[estimator]["x1_smd"] < row[estimator]["x100_smd"]
            assert row[estimator]["x1"] != pytest.approx(row[estimator]["x100"], rel=1e-6)
    report = output.read_text()
    assert "Chosen for the default estimator: scale" in report and "**ihdp_b**" in report


def _row(group: str, truth: float, errors: dict[str, float], smd: dict[str, float], se: float = 1.0) -> dict:
    cells = {}
    for scale in selection.SCALES:
        name = selection.scale_name(scale)
        cells.update({name: truth + errors[name], f"{name}_se": se, f"{name}_s": 0.1, f"{name}_supported": True,
                      f"{name}_smd": smd[name]})
    return {"family": group, "truth": truth, "default": cells}


def test_the_rule_takes_the_lowest_relative_error_among_balanced_covering_scales():
    names = [selection.scale_name(s) for s in selection.SCALES]  # x1 x3 x10 x30 x100
    errors = dict(zip(names, (0.5, 0.4, 0.3, 0.2, 0.1)))  # the loosest errs least...
    smd = dict(zip(names, (0.01, 0.03, 0.08, 0.15, 0.3)))  # ...but leaves the arms unbalanced from 30 on
    rows = [_row("validation", 1.0, errors, smd), _row("ihdp_b", 4.0, errors, smd)]
    assert selection.eligible_scales(rows) == [1.0, 3.0, 10.0]
    assert selection.choose_scale(rows) == 10.0
    tight_se = [_row("validation", 1.0, errors, smd, se=0.1), _row("ihdp_b", 4.0, errors, smd, se=0.1)]
    # intervals of ±0.196 cover errors of 0.1 and 0.2 only, which are unbalanced: nothing is eligible, keep 1
    assert selection.eligible_scales(tight_se) == [] and selection.choose_scale(tight_se) == 1.0
    balanced = {name: 0.0 for name in names}
    assert selection.choose_scale([_row("validation", 1.0, errors, balanced)]) == 100.0
