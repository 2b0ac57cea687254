r"""Whether, and past which gate, the augmented ATE should take boosted trees' correction of the outcome network's
residuals (selection).

``hf_causal.cina.residual_trees`` fits shallow boosted trees per arm to the network surfaces' residuals on one
fold and predicts the other; an arm's cross-fitted correction is kept when its held-out reduction of the squared
residuals exceeds ``gate`` standard errors. For every dataset this script runs ``estimate`` (ATE) with:

* ``kernel``: the kernel model alone (the network ablation's baseline);
* ``shipped``: the network without the trees (``residual_trees=False``, the default before them);
* ``gate_0``, ``gate_2``, ``gate_3``: the trees kept past 0, 2 or 3 standard errors.

Writes ``benchmarks/results/residual_trees.md`` (or ``--output``) with the tables of
``outcome_centering_selection.py`` (each variant's mean absolute ATE error, raw and in SD(Y), and its paired
differences to ``kernel`` and ``shipped``), and how often each gate kept an arm's correction.

    python benchmarks/residual_trees_selection.py --family outcome_validation=135 outcome_validation_wide=80 \
        --seed 0 --records outputs/residual_trees/validation.jsonl
    python benchmarks/residual_trees_selection.py --seed 19 --family ood_mechanism=24 ood_dense_graph=24 \
        ood_strong_confounding=24 ood_weak_overlap=24 ood_large_n=24 --benchmark ihdp_b=6131-6330 \
        ihdp_a=4301-4500 --records outputs/residual_trees/fresh.jsonl \
        --output benchmarks/results/residual_trees_fresh.md
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.report import write_selection_report  # noqa: E402  (the harness sits beside this script)
from harness.selection import module_constant  # noqa: E402
from outcome_centering_selection import group_lines, parse_args, run_variants  # noqa: E402

GATES = (0.0, 2.0, 3.0)
VARIANTS = ("kernel", "shipped", *(f"gate_{gate:g}" for gate in GATES))


def residual_gate(gate: float) -> AbstractContextManager[None]:
    """``hf_causal.cina.residual_trees.RESIDUAL_TREES_GATE`` set to ``gate`` for the block."""
    from hf_causal.cina import residual_trees

    return module_constant(residual_trees, "RESIDUAL_TREES_GATE", gate)


def dataset_record(model: Any, x: np.ndarray, t: np.ndarray, y: np.ndarray, ate: float) -> dict[str, Any]:
    """One dataset's signed ATE error with every variant, SD(Y), and whether each gate kept a correction."""
    row: dict[str, Any] = {"n": int(len(y)), "d": int(x.shape[1]), "scale": float(np.std(y)) or 1.0}
    row["kernel"] = model.estimate(x, t, y, estimand="ate", outcome_model="kernel").value - ate
    shipped = model.estimate(x, t, y, estimand="ate", residual_trees=False)
    row["shipped"] = shipped.value - ate
    row["covered_shipped"] = bool(shipped.ci_low <= ate <= shipped.ci_high)
    for gate in GATES:
        with residual_gate(gate):
            est = model.estimate(x, t, y, estimand="ate")
        row[f"gate_{gate:g}"] = est.value - ate
        row[f"kept_gate_{gate:g}"] = "residual correction" in (est.interval or "")
        row[f"covered_gate_{gate:g}"] = bool(est.ci_low <= ate <= est.ci_high)
    return row


def kept_lines(rows: list[dict]) -> list[str]:
    """Per family: how often each gate kept a correction, and each variant's 95% coverage."""
    family = np.asarray([row["family"] for row in rows])
    lines = ["", "## Corrections kept and 95% coverage", "",
             "| family | " + " | ".join(f"kept, gate {g:g}" for g in GATES) + " | coverage, shipped | "
             + " | ".join(f"coverage, gate {g:g}" for g in GATES) + " |",
             "|---|" + "---|" * (2 * len(GATES) + 1)]
    for name in dict.fromkeys(family):
        mine = [row for row, f in zip(rows, family, strict=True) if f == name]
        kept = [np.mean([row[f"kept_gate_{g:g}"] for row in mine]) for g in GATES]
        covered = [np.mean([row[f"covered_{v}"] for row in mine]) for v in ("shipped", *(f"gate_{g:g}" for g in GATES))]
        lines.append(f"| `{name}` | " + " | ".join(f"{k:.0%}" for k in kept) + " | "
                     + " | ".join(f"{c:.0%}" for c in covered) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the records (or read them) and write the report."""
    args = parse_args(argv, description=__doc__, output=HERE / "results" / "residual_trees.md")
    rows, seconds = run_variants(args, dataset_record)
    lines = ["# Boosted trees on the outcome network's residuals in the augmented ATE (model selection)", "",
             "Absolute ATE error of the default estimator (the same CInA weights for every variant), raw (the "
             "benchmark's metric) and in units of SD(Y). Negative differences: the variant is closer. `shipped`: the "
             "network without the trees. Variants: `residual_trees_selection.py`.", *group_lines(rows, VARIANTS),
             *kept_lines(rows), ""]
    print("\n".join(lines))
    write_selection_report(args.output, lines, "benchmarks/residual_trees_selection.py", seconds, sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
