"""Treatment-effect benchmark: CInA (zero-shot and per-dataset) against the estimators users would pick.

Runs naive difference in means, IPW (logistic), cross-fitted AIPW (gradient boosting), EconML LinearDML
and CausalForestDML, DoWhy propensity weighting, the exact optimal-balancing SVM-dual solver, per-dataset
CInA and zero-shot CInA on the same datasets in the same process, and writes
``benchmarks/results/ate.md`` and ``benchmarks/results/ate.png``. The harness lives in
``benchmarks/harness`` (plug in new methods there; see its ``__init__``).

    python benchmarks/ate_benchmark.py --quick                       # minutes: tiny suites, writes to /tmp
    python benchmarks/ate_benchmark.py                               # every suite at its default size
    python benchmarks/ate_benchmark.py --suites ihdp_b=30 acic2016 --budget-minutes 30
    python benchmarks/ate_benchmark.py --workers 2 --budget-minutes 27   # suites split over 2 processes
    python benchmarks/ate_benchmark.py --from-records run.jsonl          # rebuild the report only

``--budget-minutes`` stops starting new datasets once the budget is spent (suites run in the order
given; the report states how many datasets of each suite ran). All libraries run single-threaded
(``--threads``) so that wall times compare like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_ORDER = [
    "lalonde_nsw_psid",
    "lalonde_nsw_cps",
    "synthetic_id",
    "ood_mechanism",
    "ood_dense_graph",
    "ood_strong_confounding",
    "ood_weak_overlap",
    "ood_large_n",
    "acic2016",
    "ihdp_a",
    "ihdp_b",
]
QUICK_PLAN = {"synthetic_id": 2, "ood_weak_overlap": 2, "ihdp_b": 2, "lalonde_nsw_psid": 1}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny suites and small N, for development")
    parser.add_argument(
        "--suites", nargs="+", metavar="NAME[=SIZE]", help="suites to run, in order, optionally with a dataset count"
    )
    parser.add_argument("--methods", nargs="+", help="only these estimators (default: all)")
    parser.add_argument("--model", default=None, help="CInA checkpoint (default: bundled cina-zs-base, see load_cina_model)")
    parser.add_argument("--budget-minutes", type=float, default=None, help="start no new dataset after this")
    parser.add_argument("--threads", type=int, default=1, help="threads for torch / BLAS / OpenMP (default 1)")
    parser.add_argument("--out-dir", type=Path, default=None, help="default: benchmarks/results (--quick: /tmp/hf_causal_bench)")
    parser.add_argument("--records", type=Path, default=None, help="also append every record as JSON lines here")
    parser.add_argument("--report-name", default="ate",
                        help="write <out-dir>/<name>.md and .png (default ate; e.g. ate_oracle for a run of some rows)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=1, help="run suites in this many single-threaded processes, then merge"
    )
    parser.add_argument("--from-records", type=Path, nargs="+", help="only write the report from saved records")
    parser.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--deadline-epoch", type=float, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def suite_plan(args: argparse.Namespace) -> dict[str, int | range | None]:
    """``{suite: size}`` from ``--suites`` / ``--quick`` (size: count, range of positions, or None = default)."""
    if not args.suites:
        return dict(QUICK_PLAN) if args.quick else {name: None for name in DEFAULT_ORDER}
    from harness.suites import parse_suite_plan

    return parse_suite_plan(args.suites)


def _size_arg(size: int | range | None) -> str:
    if isinstance(size, range):
        return f"={size.start}:{size.stop}:{size.step}"
    return "" if size is None else f"={size}"


def _count(name: str, size: int | range | None) -> int:
    from harness.suites import SUITES

    if isinstance(size, range):
        return len(size)
    return SUITES[name].default_size if size is None else size


# Rough single-threaded seconds per dataset with every method, to balance --workers.
COST_GUESS = {"lalonde_nsw_cps": 200.0, "lalonde_nsw_psid": 25.0, "acic2016": 80.0, "ood_large_n": 60.0}


def split_plan(plan: dict[str, int | range | None], workers: int) -> list[dict[str, int | range | None]]:
    """Split the suites over ``workers``: greedy longest-first, except the last suite of the plan, whose
    datasets are interleaved over all workers and run last in each (it absorbs the time budget)."""
    names = list(plan)
    shared = names[-1] if names else None
    groups: list[dict[str, int | range | None]] = [{} for _ in range(workers)]
    loads = [0.0] * workers
    for name in sorted(names[:-1], key=lambda k: -COST_GUESS.get(k, 10.0) * _count(k, plan[k])):
        i = loads.index(min(loads))
        groups[i][name] = plan[name]
        loads[i] += COST_GUESS.get(name, 10.0) * _count(name, plan[name])
    if shared is not None:
        size = plan[shared]
        positions = size if isinstance(size, range) else range(_count(shared, size))
        for i, group in enumerate(groups):
            group[shared] = positions[i::workers]
    return [g for g in groups if g]


def run_workers(args: argparse.Namespace, plan: dict[str, int | range | None], deadline: float | None, tmp: Path) -> list[Path]:
    """Run the plan split over ``args.workers`` child processes; return their record files."""
    import subprocess

    children, files = [], []
    for i, group in enumerate(split_plan(plan, args.workers)):
        path = tmp / f"records-worker{i}.jsonl"
        path.unlink(missing_ok=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--no-report", "--records", str(path)]
        cmd += ["--suites", *[name + _size_arg(size) for name, size in group.items()]]
        cmd += ["--threads", str(args.threads)] + (["--quick"] if args.quick else [])
        cmd += (["--model", args.model] if args.model else []) + (["--methods", *args.methods] if args.methods else [])
        cmd += ["--deadline-epoch", str(deadline)] if deadline else []
        print(f"worker {i}: {' '.join(name + _size_arg(size) for name, size in group.items())}", flush=True)
        children.append(subprocess.Popen(cmd))
        files.append(path)
    for child in children:
        child.wait()
    return files


def load_records(paths: list[Path]) -> list:
    """Records saved as JSON lines by ``--records`` (``.gz``: compressed)."""
    from harness.protocol import Record, record_lines

    return [Record(**json.loads(line)) for path in paths for line in record_lines(path)]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the report; returns the exit code."""
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(HERE))

    import torch

    torch.set_num_threads(args.threads)

    from harness.paths import QUICK_DIR
    from harness.peers import default_estimators, load_cina_model
    from harness.report import plot_summary, write_markdown
    from harness.runner import run_suite, warm_up
    from harness.suites import SUITES

    plan = suite_plan(args)
    unknown = set(plan) - set(SUITES)
    if unknown:
        raise SystemExit(f"unknown suites {sorted(unknown)}; choose from {sorted(SUITES)}")
    out_dir = args.out_dir or (QUICK_DIR if args.quick else RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)

    model, model_doc = load_cina_model(args.model)
    estimators = default_estimators(model, include=args.methods)
    print(f"CInA model: {model_doc}", flush=True)
    deadline = time.time() + 60 * args.budget_minutes if args.budget_minutes else args.deadline_epoch
    in_process = not args.from_records and args.workers <= 1
    records_file = args.records.open("a") if args.records and in_process else None

    def on_record(record) -> None:  # noqa: ANN001 - harness.protocol.Record
        record.extra["cina_model"] = model_doc
        shown = "–" if record.estimate is None else f"{record.estimate:.4g}"
        print(
            f"{record.suite:24s} {record.dataset:28s} {record.method:18s} {record.status:7s} "
            f"est {shown:>10s} truth {record.truth:.4g} {record.seconds:7.2f}s {record.note[:60]}",
            flush=True,
        )
        if records_file is not None:
            records_file.write(json.dumps(record.to_dict()) + "\n")
            records_file.flush()

    records = []
    started = time.time()
    if args.from_records:
        records = load_records(args.from_records)
    elif args.workers > 1:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="ate_benchmark_") as tmp:
            files = run_workers(args, plan, deadline, Path(tmp))
            records = load_records([f for f in files if f.exists()])
            if args.records:
                with args.records.open("a") as sink:
                    sink.writelines(f.read_text() for f in files if f.exists())
    else:
        warm_up(estimators)
        for name, size in plan.items():
            count = size.stop if isinstance(size, range) else size
            indices = size if isinstance(size, range) else None
            records += run_suite(
                estimators, name, count, quick=args.quick, deadline=deadline, on_record=on_record, indices=indices
            )
    if records_file is not None:
        records_file.close()
    if args.no_report:
        return 0
    # report in plan order
    order = {name: i for i, name in enumerate(plan)}
    records.sort(key=lambda r: order.get(r.suite, len(order)))

    command = "python benchmarks/ate_benchmark.py" + ("".join(" " + shlex.quote(a) for a in (argv or sys.argv[1:])))
    ran = {name: len({r.dataset for r in records if r.suite == name}) for name in plan}
    requested = {name: _count(name, size) for name, size in plan.items()}
    used = sorted({r.extra.get("cina_model", model_doc) for r in records}) or [model_doc]
    notes = [
        f"**CInA model**: {'; '.join(used)}" + (" (the checkpoint changed during the run!)" if len(used) > 1 else ""),
        f"**threads**: {args.threads} for every library (torch, BLAS, OpenMP; n_jobs=1)"
        + (f"; suites split over {args.workers} concurrent worker processes" if args.workers > 1 else ""),
        "**datasets run / requested**: "
        + ", ".join(f"{name} {ran[name]}/{requested[name]}" for name in plan)
        + (f" (time budget {args.budget_minutes:g} min)" if args.budget_minutes else ""),
        f"**total wall time**: {(time.time() - started) / 60:.1f} min"
        + (" (report rebuilt from saved records)" if args.from_records else ""),
    ]
    if args.quick:
        notes.append("**QUICK MODE**: small synthetic N, subsampled LaLonde controls; not comparable with full runs")
    descriptions = {name: suite.description for name, suite in SUITES.items()}
    summary = write_markdown(
        records,
        out_dir / f"{args.report_name}.md",
        title="Treatment-effect benchmark",
        command=command,
        notes=notes,
        suite_descriptions=descriptions,
    )
    if not args.no_plot and len(summary):
        plot_summary(summary, out_dir / f"{args.report_name}.png", title=f"hf-causal ATE benchmark ({model_doc.split(' (')[0]})")
    print(f"wrote {out_dir / (args.report_name + '.md')}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
