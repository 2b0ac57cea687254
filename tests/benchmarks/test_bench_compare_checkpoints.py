"""benchmarks/compare_checkpoints.py: two checkpoints' benchmark rows paired by (suite, dataset)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import load_script

compare = load_script("benchmarks/compare_checkpoints.py", "compare_checkpoints_script")


def write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_ate_rows_are_paired_per_suite_and_pooled_over_the_ood_suites(tmp_path):
    """New errors = old errors + a known shift per suite (±0.002 around it): the table's means are the shifts,
    the pooled line covers the OOD suites only, and a row only one side has is left out and counted."""
    rng = np.random.default_rng(0)
    old, new = [], []
    for suite, shift in (("ood_mechanism", -0.01), ("ood_weak_overlap", 0.03), ("ihdp_b", 0.05)):
        for i in range(20):
            truth, error = 1.0, float(rng.uniform(0.1, 0.3))
            step = shift + (0.002 if i % 2 else -0.002)
            base = {"suite": suite, "dataset": f"{suite}-{i}", "method": "cina_zs", "truth": truth, "status": "ok"}
            old.append({**base, "estimate": truth + error})
            new.append({**base, "estimate": truth + error + step})
    new.append({**new[0], "dataset": "ood_mechanism-99"})
    old.append({**old[0], "dataset": "ood_mechanism-98", "status": "error", "estimate": None})  # not ok: ignored
    out = tmp_path / "table.md"
    assert compare.main(["--new", str(write(tmp_path / "n.jsonl", new)), "--old", str(write(tmp_path / "o.jsonl", old)),
                         "--methods", "cina_zs", "--output", str(out)]) == 0
    rows = {line.split(" | ")[1]: line.split(" | ") for line in out.read_text().splitlines()[2:]}
    assert float(rows["ihdp_b"][3].split(" ± ")[0]) == pytest.approx(0.05, abs=1e-9)
    assert float(rows["ood_mechanism"][3].split(" ± ")[0]) == pytest.approx(-0.01, abs=1e-9)
    assert rows["ood_mechanism"][4] == "20 / 20"
    assert rows["pooled OOD"][2] == "40" and float(rows["pooled OOD"][3].split(" ± ")[0]) == pytest.approx(0.01)
    assert "(1 rows on one side only, left out)" in out.read_text()
    # the same records gzip-compressed (as kept in benchmarks/results/records/) give the same table
    import gzip

    packed = tmp_path / "o.jsonl.gz"
    packed.write_bytes(gzip.compress((tmp_path / "o.jsonl").read_bytes()))
    again = tmp_path / "again.md"
    assert compare.main(["--new", str(tmp_path / "n.jsonl"), "--old", str(packed), "--methods", "cina_zs",
                         "--output", str(again)]) == 0
    assert again.read_text().splitlines()[:8] == out.read_text().splitlines()[:8]


def test_cate_rows_use_pehe_and_the_wrong_metric_is_named(tmp_path):
    old = [{"suite": "acic2016", "dataset": f"a-{i}", "method": "cina_zs", "status": "ok", "pehe": 0.5 + i / 10}
           for i in range(4)]
    new = [{**row, "pehe": row["pehe"] - 0.1} for row in old]
    paths = write(tmp_path / "n.jsonl", new), write(tmp_path / "o.jsonl", old)
    out = tmp_path / "t.md"
    assert compare.main(["--metric", "pehe", "--new", str(paths[0]), "--old", str(paths[1]), "--methods", "cina_zs",
                         "--output", str(out)]) == 0
    assert "| `cina_zs` | acic2016 | 4 | -0.1 ± 0 | 4 / 4 | – |" in out.read_text()
    with pytest.raises(ValueError, match="use --metric pehe"):
        compare.main(["--new", str(paths[0]), "--old", str(paths[1]), "--methods", "cina_zs"])
    with pytest.raises(ValueError, match="no dataset has a 'forest' row"):
        compare.main(["--metric", "pehe", "--new", str(paths[0]), "--old", str(paths[1]), "--methods", "forest"])
