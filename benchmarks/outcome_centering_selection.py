r"""Whether the outcome network should read the outcomes with the kernel model's plug-in effect taken out (selection).

The first outcome network was pretrained on average effects within ±1 SD of the control surface, and it shrinks
larger ones: on IHDP-A (a constant effect of 4) its correction moves the estimate towards zero on 89% of the
replications. Centering is an equivariance the kernel model already has: it fits each arm with its own intercept,
so subtracting a constant ``c`` from the treated outcomes moves its ``mu1`` by exactly ``-c``. With
``center_effect`` (``predict_potential_outcomes``) the network reads ``Y - c T`` with ``c`` the kernel model's
plug-in effect, which puts every dataset at the centre of the network's prior, and ``c`` is added back to its
``mu1`` (docs/design.md §4.8).

For every dataset this script computes the zero-shot CInA weights once and the default ATE (kernel model plus 0.75
of a network's correction) with each outcome model:

* ``kernel``: the kernel model alone (the ablation's baseline);
* ``shipped``: today's default (the first network, or the wide one above the routing threshold);
* ``first``: the first network everywhere;
* ``centered_first``: the first network everywhere, centered;
* ``centered_routed``: today's routing, the chosen network centered.

Writes ``benchmarks/results/outcome_centering.md`` (or ``--output``): per family and pooled over the OOD
families, each variant's mean absolute ATE error (the benchmark's metric) and its paired differences to the kernel
model and to the shipped rule, and the same in units of SD(Y). ``--records`` appends one JSON line per dataset;
``--from-records`` rebuilds the report.

    python benchmarks/outcome_centering_selection.py --seed 13 --family ood_mechanism=48 ood_dense_graph=48 \
        ood_strong_confounding=48 ood_weak_overlap=48 ood_large_n=48 \
        --benchmark ihdp_b=2631-3130 ihdp_a=1701-2200 --records centering.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.report import OOD_SUITES, difference_summary, write_selection_report  # noqa: E402  (the harness sits beside this script)
from harness.selection import run_model_records  # noqa: E402
from outcome_blend_validation import benchmark_spec, read_records, selection_draws  # noqa: E402

#: The outcome models each dataset's ATE is computed with (module docstring), the baseline first.
VARIANTS = ("kernel", "shipped", "first", "centered_first", "centered_routed")


def parse_args(argv: list[str] | None = None, description: str = __doc__,
               output: Path = HERE / "results" / "outcome_centering.md",
               add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring); another variant script passes its own docstring, report
    path and, through ``add_arguments``, options of its own."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("--datasets", type=int, default=48, help="datasets per family without a size (default 48)")
    parser.add_argument("--family", nargs="*", default=[], metavar="NAME[=SIZE]", help="synthetic families")
    parser.add_argument("--benchmark", nargs="*", default=[], metavar="NAME=FIRST-LAST", type=benchmark_spec,
                        help="replications of a replicated real-data suite, e.g. ihdp_b=2631-3130")
    parser.add_argument("--seed", type=int, default=13, help="family stream seed (the benchmark suites use 0)")
    parser.add_argument("--model", default=None, help="checkpoint folder (default: the bundled cina-zs-base)")
    parser.add_argument("--from-records", nargs="+", type=Path, default=None, metavar="JSONL")
    parser.add_argument("--output", type=Path, default=output)
    parser.add_argument("--records", type=Path, default=None, help="append one JSON line per dataset here")
    return parser.parse_args(argv)


def dataset_record(model: Any, x: np.ndarray, t: np.ndarray, y: np.ndarray, ate: float) -> dict[str, float]:
    """One dataset's signed ATE error with every variant, SD(Y), and the routing statistic."""
    from hf_causal.cina.estimator import augmentation_surfaces
    from hf_causal.cina.outcome import augmented_effect
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    base = model.estimate(x, t, y, estimand="ate", outcome_model="kernel")
    row: dict[str, float] = {"n": int(len(y)), "d": int(x.shape[1]), "scale": float(np.std(y)) or 1.0,
                             "kernel": base.value - ate}
    options = {"shipped": {}, "first": {"wide_network": False}, "centered_first": {"wide_network": False,
               "center_effect": True}, "centered_routed": {"center_effect": True}}
    for name, kwargs in options.items():
        po = predict_potential_outcomes(model, x, t, y, **kwargs)
        m1, m0 = augmentation_surfaces(po)
        row[name] = augmented_effect(base.weights, t, y, m1, m0, "ate") - ate
        row.setdefault("effect_in_sd", po.kernel_effect_in_sd)
    return row


def group_lines(rows: list[dict], variants: tuple[str, ...] = VARIANTS) -> list[str]:
    """Per family and pooled over the OOD families: each variant's mean |error| and paired differences to the
    ``kernel`` and ``shipped`` variants (both must be among ``variants``)."""
    family = np.asarray([row["family"] for row in rows])
    scale = np.asarray([row["scale"] for row in rows], float)
    errors = {name: np.abs([row[name] for row in rows]) for name in variants}
    groups = [(f"`{name}`", family == name) for name in dict.fromkeys(family)]
    if np.isin(family, OOD_SUITES).sum() and len(set(family[np.isin(family, OOD_SUITES)])) > 1:
        groups.append(("OOD families, pooled", np.isin(family, OOD_SUITES)))
    lines = []
    for label, mask in groups:
        lines += ["", f"### {label}: {int(mask.sum())} datasets", "",
                  "| variant | mean abs error | − kernel ± SE (/SE) | − shipped ± SE (/SE) | "
                  "in SD(Y): − kernel (/SE) | in SD(Y): − shipped (/SE) | signed bias ± SE |",
                  "|---|---|---|---|---|---|---|"]
        for name in variants:
            cells = []
            for in_sd in (False, True):
                for reference in ("kernel", "shipped"):
                    diff = errors[name][mask] - errors[reference][mask]
                    mean, se, _, _ = difference_summary(diff / scale[mask] if in_sd else diff)
                    if name == reference:
                        cells.append("–")
                    elif not se > 0:
                        cells.append(f"{mean:+.4f}")
                    else:
                        cells.append(f"{mean:+.4f} ({mean / se:+.1f})" if in_sd else
                                     f"{mean:+.4f} ± {se:.4f} ({mean / se:+.1f})")
            signed = np.asarray([row[name] for row in rows], float)[mask]
            bias, bias_se, _, _ = difference_summary(signed)
            lines.append(f"| {name} | {errors[name][mask].mean():.4f} | " + " | ".join(cells)
                         + f" | {bias:+.4f} ± {bias_se:.4f} |")
    return lines


def run_variants(args: argparse.Namespace, record: Callable[..., dict[str, float]]) -> tuple[list[dict], float]:
    """``record(model, x, t, y, ate)`` for every draw of ``args`` (or the rows of ``--from-records``), each row
    appended to ``--records`` as soon as it exists; returns the rows and the seconds they took."""
    if args.from_records:
        return read_records(args.from_records), float("nan")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from hf_causal import CInAModel

    torch.set_num_threads(1)
    model = CInAModel.from_pretrained(args.model or "cina-zs-base")
    started = time.time()
    plan, draws = selection_draws(args)
    rows = run_model_records(model, draws, sum(size for _, size in plan), args.seed, record, args.records)
    if not rows:
        raise ValueError("no datasets: the records are empty")
    return rows, time.time() - started


def main(argv: list[str] | None = None) -> int:
    """Run the records (or read them) and write the report."""
    args = parse_args(argv)
    rows, seconds = run_variants(args, dataset_record)
    lines = ["# Centering the outcome network's input on the kernel model's plug-in effect (model selection)", "",
             "Absolute ATE error of the default estimator (kernel model plus 0.75 of the network's correction, the "
             "same CInA weights for every variant), raw (the benchmark's metric) and in units of SD(Y). Negative "
             "differences: the variant is closer. Variants and the rule: `outcome_centering_selection.py`, "
             "`outcome_finetune.md`.", *group_lines(rows), ""]
    print("\n".join(lines))
    write_selection_report(args.output, lines, "benchmarks/outcome_centering_selection.py", seconds, sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
