r"""Whether the outcome network's correction should be withheld from units far out in the outcome's tail (selection).

On IHDP-B the network carries a control unit's extreme outcome over to its treated surface: for a control unit
whose outcome lies 4–10 SDs above the mean it predicts a treated outcome about one SD above the kernel model's,
because under its prior the two arms' surfaces share their shape; IHDP-B's treated surface is linear and its
control surface exponential. On the replications where the network loses most, the 14–19 units beyond 3 SDs carry
nearly all of its effect on the estimate.
With ``row_limit`` (``predict_potential_outcomes``; ``CInAConfig.outcome_row_limit``) a context row whose outcome
is more than ``L`` outcome SDs from the mean keeps the kernel model's predictions (docs/design.md §4.8).

For every dataset this script computes the zero-shot CInA weights once and the default ATE (kernel model plus 0.75
of the network's correction, today's routing) with:

* ``kernel``: the kernel model alone (the ablation's baseline);
* ``shipped``: today's default, no limit;
* ``limit_L`` for ``L`` in :data:`LIMITS`: rows beyond ``L`` SDs keep the kernel model's predictions.

Writes ``benchmarks/results/outcome_row_limit.md`` (or ``--output``) with the tables of
``outcome_centering_selection.py`` (each variant's mean absolute ATE error, raw and in SD(Y), and its paired
differences to the kernel model and to the shipped default), and how many rows each limit withholds.

    python benchmarks/outcome_row_limit_selection.py --seed 14 --family ood_mechanism=48 ood_dense_graph=48 \
        ood_strong_confounding=48 ood_weak_overlap=48 ood_large_n=48 \
        --benchmark ihdp_b=3131-3630 ihdp_a=2201-2700 --records row_limit.jsonl
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.report import write_selection_report  # noqa: E402  (the harness sits beside this script)
from outcome_centering_selection import group_lines, parse_args, run_variants  # noqa: E402

#: The limits priced, in outcome SDs (the rule judges one of them; the others show the trend).
LIMITS = (4.0, 5.0, 6.0, 8.0)
VARIANTS = ("kernel", "shipped", *(f"limit_{limit:g}" for limit in LIMITS))


def dataset_record(model: Any, x: np.ndarray, t: np.ndarray, y: np.ndarray, ate: float) -> dict[str, float]:
    """One dataset's signed ATE error with every variant, SD(Y), and the rows beyond each limit."""
    from hf_causal.cina.estimator import augmentation_surfaces
    from hf_causal.cina.outcome import augmented_effect
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    base = model.estimate(x, t, y, estimand="ate", outcome_model="kernel")
    scale = float(np.std(y)) or 1.0
    row: dict[str, float] = {"n": int(len(y)), "d": int(x.shape[1]), "scale": scale, "kernel": base.value - ate}
    z = np.abs(y - y.mean()) / scale
    for name, limit in (("shipped", None), *((f"limit_{limit:g}", limit) for limit in LIMITS)):
        po = predict_potential_outcomes(model, x, t, y, row_limit=limit)
        m1, m0 = augmentation_surfaces(po)
        row[name] = augmented_effect(base.weights, t, y, m1, m0, "ate") - ate
        if limit is not None:
            row[f"rows_{name}"] = int((z > limit).sum())
    return row


def withheld_lines(rows: list[dict]) -> list[str]:
    """Per family: the mean number of rows each limit withholds from the network."""
    family = np.asarray([row["family"] for row in rows])
    lines = ["", "## Rows withheld from the network (mean per dataset)", "",
             "| family | " + " | ".join(f"limit {limit:g}" for limit in LIMITS) + " |",
             "|---|" + "---|" * len(LIMITS)]
    for name in dict.fromkeys(family):
        mask = family == name
        counts = [np.mean([row[f"rows_limit_{limit:g}"] for row, m in zip(rows, mask, strict=True) if m])
                  for limit in LIMITS]
        lines.append(f"| `{name}` | " + " | ".join(f"{c:.2f}" for c in counts) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the records (or read them) and write the report."""
    args = parse_args(argv, description=__doc__, output=HERE / "results" / "outcome_row_limit.md")
    rows, seconds = run_variants(args, dataset_record)
    lines = ["# Withholding the outcome network's correction from units far out in the outcome's tail "
             "(model selection)", "",
             "Absolute ATE error of the default estimator (kernel model plus 0.75 of the network's correction, the "
             "same CInA weights for every variant), raw (the benchmark's metric) and in units of SD(Y). Negative "
             "differences: the variant is closer. Variants: `outcome_row_limit_selection.py`; the rule: "
             "`outcome_finetune.md`.", *group_lines(rows, VARIANTS), *withheld_lines(rows), ""]
    print("\n".join(lines))
    write_selection_report(args.output, lines, "benchmarks/outcome_row_limit_selection.py", seconds, sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
