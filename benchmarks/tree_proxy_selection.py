r"""Whether, and past which gate, the CATE calibration should take boosted trees as a second proxy (selection).

``cate`` calibrates the outcome model's effects against doubly robust pseudo-outcomes (``hf_causal.cina.cate``).
``hf_causal.cina.tree_proxy`` adds a second regressor, the cross-fitted effects of shallow boosted trees per arm,
kept when its coefficient in the joint regression is positive beyond ``gate`` robust standard errors. For every
dataset this script runs the default ``cate`` with:

* ``none``: no tree proxy (``tree_proxy=False``, the calibration before it);
* ``gate_0``: the trees kept whenever their coefficient is positive;
* ``gate_2``, ``gate_3``: kept past 2 or 3 standard errors.

Writes ``benchmarks/results/tree_proxy.md`` (or ``--output``): per group, each variant's sqrt(PEHE) (raw and in
SD(Y)), its paired difference to ``none``, how often the trees were kept and the per-unit 95% coverage.

    python benchmarks/tree_proxy_selection.py --family outcome_validation=135 outcome_validation_wide=80 \
        --records outputs/tree_proxy/validation.jsonl
    python benchmarks/tree_proxy_selection.py --seed 18 --family ood_mechanism=24 ood_dense_graph=24 \
        ood_strong_confounding=24 ood_weak_overlap=24 ood_large_n=24 --benchmark ihdp_a=4201-4250 \
        --records outputs/tree_proxy/fresh.jsonl --output benchmarks/results/tree_proxy_fresh.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.report import write_selection_report  # noqa: E402  (the harness sits beside this script)
from harness.selection import module_constant  # noqa: E402
from outcome_blend_validation import benchmark_spec  # noqa: E402

GATES = (0.0, 2.0, 3.0)
VARIANTS = ("none", *(f"gate_{gate:g}" for gate in GATES))


def tree_gate(gate: float) -> AbstractContextManager[None]:
    """``hf_causal.cina.tree_proxy.TREE_PROXY_GATE`` set to ``gate`` for the block."""
    from hf_causal.cina import tree_proxy

    return module_constant(tree_proxy, "TREE_PROXY_GATE", gate)


def dataset_record(model: Any, x: np.ndarray, t: np.ndarray, y: np.ndarray, tau: np.ndarray) -> dict[str, Any]:
    """One dataset's sqrt(PEHE), per-unit coverage and kept tree slope with every variant."""
    row: dict[str, Any] = {"n": int(len(y)), "d": int(x.shape[1]), "scale": float(np.std(y)) or 1.0}
    for name in VARIANTS:
        gate = None if name == "none" else float(name.split("_", 1)[1])
        with tree_gate(gate if gate is not None else 0.0):
            effects = model.cate(x, t, y, tree_proxy=gate is not None).effects
        cate = effects["cate"].to_numpy()
        row[name] = float(np.sqrt(np.mean((cate - tau) ** 2)))
        row[f"coverage_{name}"] = float(np.mean((effects["ci_low"] <= tau) & (tau <= effects["ci_high"])))
        row[f"tree_slope_{name}"] = float(effects.attrs["tree_slope"] or 0.0)
    return row


def draws(args: argparse.Namespace) -> Iterator[tuple[str, str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``(group, dataset, X, T, Y, true effect per unit)`` of the families (at ``--seed``) and benchmark ranges."""
    from hf_causal.data.benchmarks import load_benchmark_frame
    from hf_causal.data.families import sample_family

    for spec in args.family:
        name, _, size = spec.partition("=")
        for ds in sample_family(name, int(size or args.datasets), seed=args.seed):
            yield (name, f"{name}-{ds.params['index']}", np.asarray(ds.X, dtype=np.float64),
                   np.asarray(ds.T, dtype=np.int64), np.asarray(ds.Y, dtype=np.float64), ds.mu1 - ds.mu0)
    for name, replications in args.benchmark:
        for replication in replications:
            bench = load_benchmark_frame(name, replication)
            yield (name, f"{name}-{replication}", np.asarray(bench.X, dtype=np.float64), np.asarray(bench.T),
                   np.asarray(bench.Y, dtype=np.float64), np.asarray(bench.mu1) - np.asarray(bench.mu0))


def group_lines(rows: list[dict]) -> list[str]:
    """Per group: each variant's sqrt(PEHE), paired difference to ``none``, trees kept, coverage."""
    lines = []
    for group in dict.fromkeys(row["family"] for row in rows):
        mine = [row for row in rows if row["family"] == group]
        scale = np.array([row["scale"] for row in mine])
        none = np.array([row["none"] for row in mine])
        lines += ["", f"### `{group}`: {len(mine)} datasets", "",
                  "| variant | sqrt(PEHE) | − none ± SE (/SE) | in SD(Y): − none ± SE (/SE) | trees kept | "
                  "per-unit 95% coverage |", "|---|---|---|---|---|---|"]
        for name in VARIANTS:
            value = np.array([row[name] for row in mine])
            cells = [f"{value.mean():.4f}"]
            for diff in (value - none, (value - none) / scale):
                se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
                cells.append("–" if name == "none" else
                             f"{diff.mean():+.4f} ± {se:.4f}" + (f" ({diff.mean() / se:+.1f})" if se > 0 else ""))
            kept = np.mean([row[f"tree_slope_{name}"] > 0 for row in mine])
            cells += [f"{kept:.0%}", f"{np.mean([row[f'coverage_{name}'] for row in mine]):.3f}"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the records (or read them) and write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", nargs="*", default=[], metavar="NAME[=SIZE]", help="synthetic families")
    parser.add_argument("--datasets", type=int, default=48, help="datasets per family without a size (default 48)")
    parser.add_argument("--benchmark", nargs="*", default=[], metavar="NAME=FIRST-LAST", type=benchmark_spec,
                        help="benchmark suites with per-unit truth, by position (e.g. ihdp_a=4201-4250)")
    parser.add_argument("--seed", type=int, default=0, help="family stream seed")
    parser.add_argument("--model", default=None, help="checkpoint folder (default: the bundled cina-zs-base)")
    parser.add_argument("--from-records", nargs="+", type=Path, default=None, metavar="JSONL")
    parser.add_argument("--records", type=Path, default=None, help="append one JSON line per dataset here")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "tree_proxy.md")
    args = parser.parse_args(argv)
    started = time.time()
    if args.from_records:
        rows = [json.loads(line) for path in args.from_records for line in path.read_text().splitlines() if line]
    else:
        if not (args.family or args.benchmark):
            parser.error("give --family and/or --benchmark (or --from-records)")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch
        from tqdm import tqdm

        from hf_causal import CInAModel

        torch.set_num_threads(1)
        model = CInAModel.from_pretrained(args.model or "cina-zs-base")
        if args.records:
            args.records.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        for group, dataset, x, t, y, tau in tqdm(draws(args), desc="datasets"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # overlap warnings on weak-overlap draws are expected
                row = {"family": group, "dataset": dataset, "seed": args.seed, **dataset_record(model, x, t, y, tau)}
            rows.append(row)
            if args.records:
                with args.records.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
    lines = ["# Boosted trees as a second proxy in the CATE calibration (model selection)", "",
             "sqrt(PEHE) of the default `cate` (in-sample, outcome units, and divided by SD(Y)) with each variant; "
             "negative differences: the variant is closer than the calibration without the trees. `trees kept`: "
             "share of datasets whose tree slope passed the gate. Variants: `tree_proxy_selection.py`.",
             *group_lines(rows), ""]
    print("\n".join(lines))
    write_selection_report(args.output, lines, "benchmarks/tree_proxy_selection.py",
                           float("nan") if args.from_records else time.time() - started, sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
