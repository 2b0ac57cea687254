"""Benchmark of the autoregressive causal engine against closed-form truth and DoWhy ``gcm``, in one run.

For each synthetic SCM (``benchmarks/engine_scms.py``; confounded, so the naive contrast is wrong) and seed:

* the engine is trained with its defaults (``CausalEngine.train(df, graph, seed=s)``: a model sized to the
  table, stopped on held-out NLL) and asked for the ATE and ``E[Y | do(A=a)]`` with its defaults (exact by
  enumeration where the query allows it, else paired Monte Carlo), and for a Monte-Carlo ATE from 10^4 draws;
* DoWhy ``gcm`` gets the same data and graph: ``auto.assign_causal_mechanisms`` (quality GOOD), ``fit``, then
  ``interventional_samples`` for both arms;
* the oracle row is the g-formula with the true outcome mechanism's sample means where the SCM has discrete
  confounders only, and the truth itself otherwise (an error of 0 is the floor);
* errors are against the exact interventional means; times are wall-clock on this machine, one torch thread.

The 20-variable SCM (``wide20``) also asks a mediator query: the controlled direct effect with the mediator
``M`` held at 1, ``do(A=1, M=1)`` vs ``do(A=0, M=1)``. Sampling speed is measured for the engine's default path
(conditional tables where the support is small, the network's KV-cached sampler otherwise), for the network
sampler alone, and for DoWhy. Results go to ``benchmarks/results/engine.md``.

    python benchmarks/engine_benchmark.py --threads 1              # 3 seeds, every SCM (about an hour on a CPU)
    python benchmarks/engine_benchmark.py --quick                  # a few minutes
    python benchmarks/engine_benchmark.py --device cuda            # adds the GPU speed columns
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engine_report import write_report  # noqa: E402
from engine_scms import LARGE_SCMS, MEDIATOR_QUERY, SCM, SCMS, wide_truth  # noqa: E402
from harness.paths import report_path  # noqa: E402

from hf_causal import CausalEngine  # noqa: E402
from hf_causal.engine.configuration_causal_ar import table_backbone  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "engine.md")
ALL_SCMS = {**SCMS, **LARGE_SCMS}
#: Training rows per SCM (the large one is fitted on more rows, as a user with 20 variables would have).
DEFAULT_ROWS = {"mixed": 10_000, "discrete": 10_000, "nonlinear": 10_000, "wide20": 20_000}


def _paired(y1: np.ndarray, y0: np.ndarray) -> tuple[float, float]:
    diff = y1 - y0
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


def backbone_of_size(spec: str) -> dict[str, Any]:
    """``"WIDTHxLAYERS"`` (e.g. ``"64x1"``): :func:`table_backbone` of that width and depth, for comparing model
    sizes against the engine's own choice (``sized_backbone``)."""
    try:
        width, layers = (int(part) for part in spec.lower().split("x"))
        return table_backbone(width, layers)
    except ValueError as err:
        raise ValueError(f"--backbone-size must look like 64x1 (width x layers), got {spec!r}: {err}") from None


def engine_run(scm: SCM, df: pd.DataFrame, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train with the defaults and answer the benchmark's queries; times of each part."""
    t0 = time.perf_counter()
    sized = {} if args.backbone_size is None else {"backbone": backbone_of_size(args.backbone_size)}
    engine = CausalEngine.train(df, scm.graph, seed=seed, progress=args.progress, num_threads=args.threads,
                                device=args.device, max_steps=args.max_steps, **sized)
    out: dict[str, Any] = {"engine": engine, "t_train": time.perf_counter() - t0,
                           "steps": engine.training_summary.get("steps"),
                           "val_nll": engine.training_summary.get("best_val_loss"),
                           "params": sum(p.numel() for p in engine.model.parameters())}
    t0 = time.perf_counter()
    ate = engine.ate("A", "Y", n=args.mc)
    out.update(ate=ate.value, ate_se=ate.std_error, t_query=time.perf_counter() - t0,
               exact=ate.std_error == 0.0)
    for a in (0, 1):
        out[f"mean{a}"] = engine.interventional_mean("Y", do={"A": a}, n=args.mc, seed=seed).value
    t0 = time.perf_counter()
    mc = engine.ate("A", "Y", n=10_000, exact=False, seed=seed)
    out.update(mc_ate=mc.value, mc_se=mc.std_error, t_mc_ate=time.perf_counter() - t0)
    if scm.name in LARGE_SCMS:
        t0 = time.perf_counter()
        draws = {arm: engine.sample(args.mc, do=do, variables=["Y"], seed=seed)["Y"].to_numpy(float)
                 for arm, do in (("treated", MEDIATOR_QUERY.treated), ("control", MEDIATOR_QUERY.control))}
        out["cde"], out["cde_se"] = _paired(draws["treated"], draws["control"])
        out["t_cde"] = time.perf_counter() - t0
    return out


def dowhy_run(scm: SCM, df: pd.DataFrame, seed: int, mc: int) -> dict[str, Any] | None:
    """DoWhy gcm on the same data and graph, or ``None`` when it is not installed."""
    try:
        import networkx as nx
        from dowhy import gcm
        from dowhy.gcm.util.general import set_random_seed
    except ImportError:
        return None
    set_random_seed(seed)
    t0 = time.perf_counter()
    model = gcm.StructuralCausalModel(nx.DiGraph(scm.graph.edges))
    gcm.auto.assign_causal_mechanisms(model, df, quality=gcm.auto.AssignmentQuality.GOOD)
    gcm.fit(model, df)
    out: dict[str, Any] = {"t_fit": time.perf_counter() - t0, "model": model}

    def arm(do: dict[str, float]) -> np.ndarray:
        interventions = {k: (lambda _, v=v: v) for k, v in do.items()}
        return gcm.interventional_samples(model, interventions, num_samples_to_draw=mc)["Y"].to_numpy(float)

    t0 = time.perf_counter()
    y = {a: arm({"A": a}) for a in (0, 1)}
    out["t_query"] = time.perf_counter() - t0
    se = float(np.sqrt(y[1].var(ddof=1) / mc + y[0].var(ddof=1) / mc))
    out.update(ate=float(y[1].mean() - y[0].mean()), ate_se=se, mean0=float(y[0].mean()), mean1=float(y[1].mean()))
    if scm.name in LARGE_SCMS:
        treated, control = arm(MEDIATOR_QUERY.treated), arm(MEDIATOR_QUERY.control)
        out["cde"] = float(treated.mean() - control.mean())
        out["cde_se"] = float(np.sqrt(treated.var(ddof=1) / mc + control.var(ddof=1) / mc))
    return out


def oracle_ate(scm: SCM, df: pd.DataFrame) -> float | None:
    """The g-formula with cell means when every confounder is discrete (the best any fit of these rows can do
    without knowing the mechanism's form); ``None`` otherwise."""
    parents = [p for p in scm.graph.parents("Y") if p != "A"]
    if scm.name in LARGE_SCMS or any(scm.graph[p].type == "continuous" for p in parents):
        return None
    cells = df.groupby(parents + ["A"])["Y"].mean()
    weights = df.groupby(parents).size() / len(df)
    return float(sum(w * (cells.loc[(*np.atleast_1d(k), 1)] - cells.loc[(*np.atleast_1d(k), 0)])
                     for k, w in weights.items()))


def rows_per_second(engine: CausalEngine, n: int, do: dict[str, Any] | None, tables: bool = True) -> float:
    """Rows of ``engine.sample`` per second (after a warm-up); ``tables=False`` forces the network sampler."""
    saved = engine.max_exact_support
    engine.max_exact_support = saved if tables else 0
    try:
        engine.sample(min(n, 512), do=do, seed=1)
        t0 = time.perf_counter()
        engine.sample(n, do=do, seed=2)
        return n / (time.perf_counter() - t0)
    finally:
        engine.max_exact_support = saved


def dowhy_rows_per_second(model: Any, n: int, do: dict[str, Any] | None) -> float:
    from dowhy import gcm

    t0 = time.perf_counter()
    if do is None:
        gcm.draw_samples(model, num_samples=n)
    else:
        gcm.interventional_samples(model, {k: (lambda _, v=v: v) for k, v in do.items()}, num_samples_to_draw=n)
    return n / (time.perf_counter() - t0)


def speed_run(name: str, engine: CausalEngine, dowhy: dict[str, Any] | None, args: argparse.Namespace) -> dict:
    n = args.speed_rows
    out: dict[str, Any] = {"scm": name}
    for label, do in (("obs", None), ("do", {"A": 1})):
        out[f"engine_{label}"] = rows_per_second(engine, n, do)
        out[f"network_{label}"] = rows_per_second(engine, min(n, 20_000), do, tables=False)
        if dowhy is not None:
            out[f"dowhy_{label}"] = dowhy_rows_per_second(dowhy["model"], n, do)
    if torch.cuda.is_available() and next(engine.model.parameters()).device.type == "cuda":
        saved = engine.batch_size
        engine.batch_size = args.large_batch
        out["gpu_network_do"] = rows_per_second(engine, 4 * args.large_batch, {"A": 1}, tables=False)
        engine.batch_size = saved
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2k rows, one seed, small SCMs only")
    parser.add_argument("--n-train", type=int, default=None, help="rows per SCM (default: DEFAULT_ROWS)")
    # seeds 0-2 chose the engine's defaults (patience, bins; docs/design.md §6.8): the report uses fresh ones
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--scms", nargs="+", default=list(ALL_SCMS), choices=list(ALL_SCMS))
    parser.add_argument("--mc", type=int, default=20_000, help="Monte-Carlo draws per sampled query")
    parser.add_argument("--speed-rows", type=int, default=100_000, help="rows per sampling-speed measurement")
    parser.add_argument("--max-steps", type=int, default=None, help="default: the engine's own default")
    parser.add_argument("--backbone-size", default=None, metavar="WIDTHxLAYERS",
                        help="train this GPT-2 size instead of the engine's choice (e.g. 64x1), to compare sizes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (DoWhy runs single-threaded too)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--no-dowhy", action="store_true")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--large-batch", type=int, default=65_536, help="on a GPU, rows per forward for speed")
    parser.add_argument("--out", default=None,
                        help="report path (default: benchmarks/results/engine.md; --quick: a temporary folder)")
    parser.add_argument("--records", default=None,
                        help="jsonl of finished runs: appended as each seed finishes, and runs already in it are "
                             "skipped, so a stopped benchmark resumes where it stopped")
    args = parser.parse_args()
    args.out = str(report_path("engine.md", args.quick, args.out))
    if args.quick:
        args.n_train, args.mc, args.seeds, args.speed_rows = 2000, 5000, args.seeds[:1], 20_000
        args.scms = [s for s in args.scms if s in SCMS]
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    rows, speed_rows = load_records(args.records)
    done = {(r["scm"], r["seed"]) for r in rows}
    for name in args.scms:
        scm = ALL_SCMS[name]
        for seed in args.seeds:
            if (name, seed) in done:
                continue
            n_train = args.n_train or DEFAULT_ROWS[name]
            df = scm.simulate(n_train, seed)
            row: dict[str, Any] = {"scm": name, "seed": seed, "n_train": n_train, "truth": scm.ate,
                                   "truth0": scm.mean_do(0), "truth1": scm.mean_do(1),
                                   "naive": float(df.Y[df.A == 1].mean() - df.Y[df.A == 0].mean()),
                                   "oracle": oracle_ate(scm, df)}
            if name in LARGE_SCMS:
                row["truth_cde"] = wide_truth(MEDIATOR_QUERY.treated) - wide_truth(MEDIATOR_QUERY.control)
            eng = engine_run(scm, df, seed, args)
            dw = None if args.no_dowhy else dowhy_run(scm, df, seed, args.mc)
            row.update({f"engine_{k}": v for k, v in eng.items() if k != "engine"})
            if dw is not None:
                row.update({f"dowhy_{k}": v for k, v in dw.items() if k != "model"})
            rows.append(row)
            print(f"[{name} seed={seed}] truth {scm.ate:.3f} naive {row['naive']:.3f} engine {eng['ate']:.3f} "
                  f"({eng['t_train']:.1f}s train, {eng['steps']} steps)"
                  + (f" dowhy {dw['ate']:.3f} ({dw['t_fit']:.1f}s fit)" if dw else ""), flush=True)
            speed = speed_run(name, eng["engine"], dw, args) if seed == args.seeds[0] else None
            if speed is not None:
                speed_rows.append(speed)
            append_record(args.records, row, speed)
    wanted = set(args.scms)
    write_report(args, [r for r in rows if r["scm"] in wanted and r["seed"] in args.seeds],
                 [r for r in speed_rows if r["scm"] in wanted], ALL_SCMS)


def load_records(path: str | None) -> tuple[list[dict], list[dict]]:
    """The runs and speed rows a previous, stopped invocation wrote to ``path`` (empty lists if none)."""
    rows: list[dict] = []
    speed_rows: list[dict] = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                rows.append(record["run"])
                if record.get("speed") is not None:
                    speed_rows.append(record["speed"])
    return rows, speed_rows


def append_record(path: str | None, row: dict, speed: dict | None) -> None:
    """Append one finished run (and its speed row) to the records file, if there is one."""
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"run": row, "speed": speed}, default=float) + "\n")


if __name__ == "__main__":
    main()
