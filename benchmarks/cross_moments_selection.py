"""Choose how many pairwise products (cross moments) the calibration balances (docs/design.md §4.3).

Model selection on fresh draws of the OOD families and the in-distribution ``validation`` family (``--seed`` 1; the
benchmark suites use seed 0, so ``ate.md`` tests what this chooses). For each dataset the default estimator
(zero-shot CInA, ``outcome_model="auto"``) and the kernel-augmented one run with each candidate count:

* ``none``: means and squares only (``cross_moments=False``);
* ``10``: the 10 most imbalanced products;
* ``1 per column``: ``d`` of them;
* ``2 per column``: ``2 d`` (the shipped default), at most :data:`~hf_causal.cina.calibration.MAX_CROSS_MOMENTS`.

Writes ``benchmarks/results/cross_moments_selection.md`` (or ``--output``): per family and pooled, the mean absolute
ATE error, the paired difference to ``none`` with its standard error, 95% interval coverage and seconds per
estimate; ``--records`` appends one JSON line per dataset.

    python benchmarks/cross_moments_selection.py                   # 128 datasets, one thread, ~10 minutes
    python benchmarks/cross_moments_selection.py --family validation=6 --output /tmp/cross.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.report import estimator_sections, write_selection_report  # noqa: E402
from harness.selection import family_plan, run_selection  # noqa: E402  (the harness sits beside this script)

FAMILIES = ("ood_strong_confounding=24", "ood_mechanism=24", "ood_dense_graph=24", "ood_weak_overlap=24",
            "validation=24", "ood_large_n=8")
#: candidate name -> (products per column, cap on the total); ``None``: cross moments off
CANDIDATES: dict[str, tuple[int, int] | None] = {
    "none": None,
    "10": (100, 10),
    "1 per column": (1, 200),
    "2 per column": (2, 200),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", nargs="+", default=list(FAMILIES), metavar="NAME=SIZE")
    parser.add_argument("--seed", type=int, default=1, help="family stream seed (the benchmark suites use 0)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "cross_moments_selection.md")
    parser.add_argument("--records", type=Path, default=None, help="append one JSON line per dataset here")
    return parser.parse_args(argv)


def run_candidates(model, x: np.ndarray, t: np.ndarray, y: np.ndarray) -> dict[str, dict[str, float]]:
    """``{estimator: {candidate: estimate, candidate_se: ..., candidate_s: ...}}`` for one dataset."""
    from hf_causal.cina import calibration

    saved = calibration.CROSS_MOMENTS_PER_COLUMN, calibration.MAX_CROSS_MOMENTS
    out: dict[str, dict[str, float]] = {"default": {}, "kernel": {}}
    try:
        for name, setting in CANDIDATES.items():
            if setting is not None:
                calibration.CROSS_MOMENTS_PER_COLUMN, calibration.MAX_CROSS_MOMENTS = setting
            for estimator, outcome_model in (("default", "auto"), ("kernel", "kernel")):
                start = time.perf_counter()
                result = model.estimate(x, t, y, outcome_model=outcome_model, cross_moments=setting is not None)
                out[estimator][name] = result.value
                out[estimator][f"{name}_se"] = result.std_error
                out[estimator][f"{name}_s"] = time.perf_counter() - start
    finally:
        calibration.CROSS_MOMENTS_PER_COLUMN, calibration.MAX_CROSS_MOMENTS = saved
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the selection and write the report."""
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import torch

    from hf_causal import CInAModel
    from hf_causal.data.families import sample_family

    torch.set_num_threads(1)
    model = CInAModel.from_pretrained("cina-zs-base")
    plan = family_plan(args.family, 24)
    started = time.time()
    draws = ((name, ds.X, ds.T, ds.Y, ds.ate) for name, size in plan for ds in sample_family(name, size, seed=args.seed))
    rows = run_selection(draws, sum(size for _, size in plan), lambda x, t, y: run_candidates(model, x, t, y),
                         args.records)
    write_report(args, rows, time.time() - started)
    return 0


def summary_lines(rows: list[dict], estimator: str) -> list[str]:
    """One table: per family and pooled, each candidate's MAE, paired difference to ``none``, coverage, time."""
    families = list(dict.fromkeys(r["family"] for r in rows)) + ["pooled"]
    lines = ["| family | datasets | " + " | ".join(CANDIDATES) + " |", "|---" * (2 + len(CANDIDATES)) + "|"]
    for family in families:
        chosen = [r for r in rows if family == "pooled" or r["family"] == family]
        base = np.array([abs(r[estimator]["none"] - r["truth"]) for r in chosen])
        cells = []
        for name in CANDIDATES:
            err = np.array([abs(r[estimator][name] - r["truth"]) for r in chosen])
            cover = np.mean([abs(r[estimator][name] - r["truth"]) <= 1.96 * r[estimator][f"{name}_se"] for r in chosen])
            diff = err - base
            se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
            paired = "" if name == "none" else f", Δ {diff.mean():+.3f} ± {se:.3f}"
            cells.append(f"{err.mean():.3f}{paired}, cov {cover:.0%}")
        lines.append(f"| {family} | {len(chosen)} | " + " | ".join(cells) + " |")
    seconds = {name: np.mean([r[estimator][f"{name}_s"] for r in rows]) for name in CANDIDATES}
    lines.append("| seconds per estimate | | " + " | ".join(f"{seconds[n]:.3f}" for n in CANDIDATES) + " |")
    return lines


def write_report(args: argparse.Namespace, rows: list[dict], seconds: float) -> None:
    """The markdown report (module docstring)."""
    lines = [
        "# How many pairwise products the calibration balances (model selection)",
        "",
        f"Families `{' '.join(args.family)}`, {len(rows)} datasets, seed {args.seed} (the benchmark suites use seed 0:",
        "this chooses, `ate.md` tests). Cells: MAE of the ATE; paired Δ vs `none` ± SE (negative: closer to the truth);",
        "share of 95% intervals that contain the truth.",
        "",
        *estimator_sections(lambda estimator: summary_lines(rows, estimator)),
    ]
    write_selection_report(args.output, lines, "benchmarks/cross_moments_selection.py", seconds, sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
