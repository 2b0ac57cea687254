"""Benchmark: lagged causal discovery by forecaster attributions vs established tools.

Methods (all get the same per-series standardised data and the true ``max_lag``):

* ``hf-causal`` -- :func:`hf_causal.discovery.discover_lagged_graph` with its defaults
  (LRP attributions, largest-gap threshold). From the same trained forecaster the script also
  scores plain gradients and input x gradient, and the Otsu and top-2 rules (ablation table).
* ``PCMCI`` -- tigramite, ParCorr test, ``pc_alpha=0.05`` (fixed: the ``None`` search was too slow
  for long lags on 2 CPU cores), ``alpha_level=0.05``.
* ``PCMCI+`` -- tigramite, ParCorr test, ``pc_alpha=0.01`` (its default); lag-0 links ignored.
* ``VAR-LiNGAM`` -- lingam, ``criterion=None`` (lag order fixed to ``max_lag``), ``prune=True``
  (adaptive lasso); edge = non-zero lagged coefficient.
* ``Granger`` -- OLS VAR(max_lag) per target, two-sided t-test per lagged coefficient, alpha 0.05.

Scores for AUROC: ours = normalised attribution; PCMCI/PCMCI+/Granger = ``1 - p``; VAR-LiNGAM =
``|coefficient|`` of the un-pruned fit. Lists of series (heterogeneous domains): tigramite runs in
its ``analysis_mode="multiple"``; Granger stacks the per-domain lagged designs with one intercept per
domain; VAR-LiNGAM gets the concatenated series (it has no multi-dataset mode).

Usage::

    python benchmarks/discovery_benchmark.py            # full run (~15 min on 2 shared CPU cores)
    python benchmarks/discovery_benchmark.py --quick    # smoke run (~1-2 min)

Writes ``benchmarks/results/discovery.md`` (and ``discovery.png`` with ``--plot``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import os
import platform
import shlex
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from harness.paths import report_path

from hf_causal.discovery import (
    GENERATORS,
    discover_lagged_graph,
    lagged_attributions,
    lagged_graph_metrics,
    threshold_scores,
)
from hf_causal.discovery.training import make_windows, prepare_series

RESULTS = Path(__file__).resolve().parent / "results"
PEERS = ("PCMCI", "PCMCI+", "VAR-LiNGAM", "Granger")


# ----------------------------------------------------------------------------- peers
def _standardised(data: np.ndarray | list[np.ndarray]) -> list[np.ndarray]:
    arrays = data if isinstance(data, list) else [data]
    return [((a - a.mean(0)) / a.std(0)).astype(np.float64) for a in arrays]


def run_pcmci(arrays: list[np.ndarray], max_lag: int, plus: bool) -> tuple[np.ndarray, np.ndarray]:
    from tigramite import data_processing as pp
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    if len(arrays) == 1:
        frame = pp.DataFrame(arrays[0])
    else:
        frame = pp.DataFrame({k: a for k, a in enumerate(arrays)}, analysis_mode="multiple")
    pcmci = PCMCI(dataframe=frame, cond_ind_test=ParCorr(), verbosity=0)
    if plus:
        res = pcmci.run_pcmciplus(tau_min=0, tau_max=max_lag, pc_alpha=0.01)
        adj = res["graph"][:, :, 1:] == "-->"
    else:
        res = pcmci.run_pcmci(tau_min=1, tau_max=max_lag, pc_alpha=0.05, alpha_level=0.05)
        adj = res["graph"][:, :, 1:] == "-->"
    scores = 1.0 - res["p_matrix"][:, :, 1:]
    return adj, scores  # tigramite layout [source, target, tau] is ours


def run_varlingam(arrays: list[np.ndarray], max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    import lingam

    x = np.vstack(arrays)
    pruned = (
        lingam.VARLiNGAM(lags=max_lag, criterion=None, prune=True, random_state=0).fit(x).adjacency_matrices_
    )
    full = (
        lingam.VARLiNGAM(lags=max_lag, criterion=None, prune=False, random_state=0).fit(x).adjacency_matrices_
    )
    # adjacency_matrices_[k][target, source] for lag k (k = 0: contemporaneous)
    adj = np.transpose(pruned[1:] != 0, (2, 1, 0))
    scores = np.transpose(np.abs(full[1:]), (2, 1, 0))
    return adj, scores


def run_granger(arrays: list[np.ndarray], max_lag: int, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    from scipy import stats

    n_vars = arrays[0].shape[1]
    designs, targets = [], []
    for k, a in enumerate(arrays):
        n = a.shape[0]
        lagged = np.hstack([a[max_lag - lag : n - lag] for lag in range(1, max_lag + 1)])
        intercepts = np.zeros((n - max_lag, len(arrays)))
        intercepts[:, k] = 1.0
        designs.append(np.hstack([lagged, intercepts]))
        targets.append(a[max_lag:])
    x, y = np.vstack(designs), np.vstack(targets)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    dof = x.shape[0] - x.shape[1]
    sigma2 = (resid**2).sum(0) / dof
    xtx_inv_diag = np.diag(np.linalg.pinv(x.T @ x))
    se = np.sqrt(np.outer(xtx_inv_diag, sigma2))
    p = 2 * stats.t.sf(np.abs(beta / se), dof)  # (n_coef, n_vars)
    p_lagged = p[: n_vars * max_lag].reshape(max_lag, n_vars, n_vars).transpose(1, 2, 0)
    return p_lagged < alpha, 1.0 - p_lagged


PEER_RUNNERS = {
    "PCMCI": (("tigramite",), lambda a, lag: run_pcmci(a, lag, plus=False)),
    "PCMCI+": (("tigramite",), lambda a, lag: run_pcmci(a, lag, plus=True)),
    "VAR-LiNGAM": (("lingam",), run_varlingam),
    "Granger": (("scipy",), run_granger),
}


def _available(modules: tuple[str, ...]) -> str | None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - report any import failure as "skipped"
            return f"{name} not importable ({type(err).__name__})"
    return None


# ----------------------------------------------------------------------------- ours
def run_ours(data, max_lag: int, seed: int):
    t0 = time.perf_counter()
    graph = discover_lagged_graph(data, max_lag=max_lag, seed=seed)
    elapsed = time.perf_counter() - t0
    prepared = prepare_series(data, max_lag)
    windows = make_windows(prepared.arrays, graph.model.config.context_length)
    rng = np.random.default_rng(seed)
    windows = windows[rng.choice(len(windows), min(2000, len(windows)), replace=False)]
    ablation = {}
    for method in ("gradient", "input_x_gradient", "lrp"):
        raw = lagged_attributions(graph.model, windows, max_lag, method)  # [target, source, lag]
        ablation[method] = raw.transpose(1, 0, 2)
    return graph, elapsed, ablation


# ----------------------------------------------------------------------------- main
def _fmt(values: list[float], digits: int = 2) -> str:
    v = np.asarray(values, dtype=float)
    if v.size == 0 or np.all(np.isnan(v)):
        return "–"
    if v.size == 1:
        return f"{np.nanmean(v):.{digits}f}"
    return f"{np.nanmean(v):.{digits}f} ± {np.nanstd(v):.{digits}f}"


def _versions() -> str:
    names = ["torch", "transformers", "accelerate", "numpy", "scipy", "tigramite", "lingam"]
    out = [f"python {platform.python_version()}"]
    for name in names:
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} (missing)")
    return ", ".join(out)


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one size, one seed, short series")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="time steps per data set")
    parser.add_argument("--seeds", type=int, default=None, help="replications per (generator, size)")
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=list(GENERATORS))
    parser.add_argument("--n-vars", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", type=Path, default=None,
                        help="report path (default: benchmarks/results/discovery.md; --quick: a temporary folder)")
    parser.add_argument("--plot", action="store_true", help="also write a PNG of F1 vs size")
    args = parser.parse_args(argv)
    args.out = report_path("discovery.md", args.quick, args.out)
    sizes = args.sizes or ([1000] if args.quick else [500, 2000, 5000])
    n_seeds = args.seeds or (1 if args.quick else 2)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    skipped = {name: _available(mods) for name, (mods, _) in PEER_RUNNERS.items()}
    rows: dict[tuple[str, int, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ablation_rows: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    started = time.time()
    for gen_name in args.generators:
        for size in sizes:
            for seed in range(n_seeds):
                sim = GENERATORS[gen_name](n_vars=args.n_vars, n_steps=size, seed=seed)
                truth, lag = sim.adjacency, sim.max_lag
                graph, elapsed, ablation = run_ours(sim.data, lag, seed)
                m = lagged_graph_metrics(truth, graph.adjacency, graph.scores)
                rec = rows[(gen_name, size, "hf-causal")]
                for key in ("f1", "auroc", "shd"):
                    rec[key].append(m[key])
                rec["time"].append(elapsed)
                ab = ablation_rows[(gen_name, size)]
                for method, sc in ablation.items():
                    ab[f"auroc_{method}"].append(lagged_graph_metrics(truth, truth, sc)["auroc"])
                    adj = threshold_scores(sc.transpose(1, 0, 2), "gap").transpose(1, 0, 2)
                    ab[f"f1_{method}_gap"].append(lagged_graph_metrics(truth, adj)["f1"])
                lrp = ablation["lrp"].transpose(1, 0, 2)
                for rule, kwargs in (("otsu", {}), ("topk", {"k": 2})):
                    adj = threshold_scores(lrp, rule, **kwargs).transpose(1, 0, 2)
                    ab[f"f1_lrp_{rule}"].append(lagged_graph_metrics(truth, adj)["f1"])
                ab["val_loss"].append(graph.val_loss if graph.val_loss is not None else np.nan)
                arrays = _standardised(sim.data)
                for peer, (_, runner) in PEER_RUNNERS.items():
                    if skipped[peer]:
                        continue
                    t0 = time.perf_counter()
                    try:
                        adj, sc = runner(arrays, lag)
                    except Exception as err:  # noqa: BLE001 - a failing peer is reported, not fatal
                        print(f"  {peer} failed on {gen_name} T={size}: {err!r}", file=sys.stderr)
                        rows[(gen_name, size, peer)]["failed"].append(1.0)
                        continue
                    el = time.perf_counter() - t0
                    pm = lagged_graph_metrics(truth, adj, np.nan_to_num(sc, nan=0.0))
                    rec = rows[(gen_name, size, peer)]
                    for key in ("f1", "auroc", "shd"):
                        rec[key].append(pm[key])
                    rec["time"].append(el)
                done = rows[(gen_name, size, "hf-causal")]
                print(
                    f"{gen_name:25s} T={size:5d} seed={seed} ours F1={done['f1'][-1]:.2f} "
                    f"AUROC={done['auroc'][-1]:.2f} ({elapsed:.1f}s)  [{time.time() - started:.0f}s total]",
                    flush=True,
                )
    total = time.time() - started
    write_report(args, sizes, n_seeds, rows, ablation_rows, skipped, total)
    if args.plot:
        write_plot(args, sizes, rows)


def write_report(args, sizes, n_seeds, rows, ablation_rows, skipped, total) -> None:
    methods = ["hf-causal", *PEERS]
    cmd = "python " + " ".join(shlex.quote(a) for a in ["benchmarks/discovery_benchmark.py", *sys.argv[1:]])
    lines = [
        "# Lagged causal discovery: forecaster attributions vs PCMCI, PCMCI+, VAR-LiNGAM, Granger",
        "",
        "Written by `benchmarks/discovery_benchmark.py`; do not edit by hand.",
        "",
        f"- Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {_machine()} (shared with other jobs: times are indicative)",
        f"- Versions: {_versions()}",
        f"- Command: `{cmd}`",
        f"- Setting: {args.n_vars} variables; sizes {sizes} time steps (for the heterogeneous collection: in total "
        f"over 4 domains); {n_seeds} seed(s) per cell (mean ± sd); true `max_lag` given to every method "
        f"(3; 10 for `long_lag_var`). Each graph has a self-lag on every variable plus {args.n_vars} cross edges.",
        f"- Total wall time: {total / 60:.1f} min",
        "",
        "Metrics on the lagged adjacency `[source, target, lag]` (self-lags included): F1 of the edges, AUROC of",
        "the continuous scores, SHD = missing + extra edges (edges are oriented by time). Time = seconds per fit",
        "(ours: training + attribution).",
        "",
    ]
    skipped_peers = {k: v for k, v in skipped.items() if v}
    if skipped_peers:
        lines += ["Skipped peers: " + "; ".join(f"{k} ({v})" for k, v in skipped_peers.items()), ""]
    for gen_name in args.generators:
        lines += [
            f"## {gen_name}",
            "",
            "| method | T | F1 | AUROC | SHD | time (s) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for size in sizes:
            for method in methods:
                rec = rows.get((gen_name, size, method))
                if not rec or not rec.get("f1"):
                    why = "skipped" if skipped.get(method) else "failed"
                    lines.append(f"| {method} | {size} | {why} | | | |")
                    continue
                lines.append(
                    f"| {method} | {size} | {_fmt(rec['f1'])} | {_fmt(rec['auroc'])} | "
                    f"{_fmt(rec['shd'], 1)} | {_fmt(rec['time'], 1)} |"
                )
        lines.append("")
    lines += [
        "## Ablation: attribution method and threshold rule (ours, same trained forecaster)",
        "",
        "AUROC per attribution; F1 with the largest-gap rule per attribution; F1 of LRP with Otsu's rule and",
        "with the authors' top-k (k = 2 parents per target, fixed, not tuned to the truth). `val MSE` is the",
        "forecaster's held-out one-step error in standardised units.",
        "",
        "| generator | T | AUROC grad | AUROC in×grad | AUROC LRP | F1 grad+gap | F1 in×grad+gap | "
        "F1 LRP+gap | F1 LRP+Otsu | F1 LRP+top2 | val MSE |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys = [
        "auroc_gradient",
        "auroc_input_x_gradient",
        "auroc_lrp",
        "f1_gradient_gap",
        "f1_input_x_gradient_gap",
        "f1_lrp_gap",
        "f1_lrp_otsu",
        "f1_lrp_topk",
        "val_loss",
    ]
    for gen_name in args.generators:
        for size in sizes:
            ab = ablation_rows[(gen_name, size)]
            lines.append(f"| {gen_name} | {size} | " + " | ".join(_fmt(ab[k]) for k in keys) + " |")
    lines += ["", "## Where ours is best (by more than 0.02 over every peer)", ""]
    wins = []
    for gen_name in args.generators:
        for size in sizes:
            ours = rows.get((gen_name, size, "hf-causal"), {})
            for metric in ("f1", "auroc"):
                mine = float(np.nanmean(ours.get(metric, [np.nan])))
                peers = [
                    float(np.nanmean(rows[(gen_name, size, p)][metric]))
                    for p in PEERS
                    if rows.get((gen_name, size, p), {}).get(metric)
                ]
                if peers and mine > max(peers) + 0.02:
                    wins.append(
                        f"- {gen_name}, T={size}, {metric.upper()}: ours {mine:.2f} vs best peer {max(peers):.2f}"
                    )
    lines += wins or ["- nowhere."]
    lines += ["", "## Where ours loses", ""]
    losses = []
    for gen_name in args.generators:
        for size in sizes:
            ours = rows.get((gen_name, size, "hf-causal"), {})
            for metric in ("f1", "auroc"):
                mine = float(np.nanmean(ours.get(metric, [np.nan])))
                better = []
                for peer in PEERS:
                    rec = rows.get((gen_name, size, peer))
                    if rec and rec.get(metric):
                        theirs = float(np.nanmean(rec[metric]))
                        if theirs > mine + 0.02:
                            better.append(f"{peer} {theirs:.2f}")
                if better:
                    losses.append(
                        f"- {gen_name}, T={size}, {metric.upper()}: ours {mine:.2f} < " + ", ".join(better)
                    )
    lines += losses or ["- nowhere by more than 0.02 in F1 or AUROC."]
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


def write_plot(args, sizes, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gens = args.generators
    fig, axes = plt.subplots(1, len(gens), figsize=(3.2 * len(gens), 3.0), sharey=True, squeeze=False)
    for ax, gen_name in zip(axes[0], gens):
        for method in ["hf-causal", *PEERS]:
            ys = [np.nanmean(rows.get((gen_name, s, method), {}).get("f1", [np.nan])) for s in sizes]
            if not np.all(np.isnan(ys)):
                ax.plot(sizes, ys, marker="o", label=method, lw=2.5 if method == "hf-causal" else 1.2)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes], fontsize=7)
        ax.minorticks_off()
        ax.set_title(gen_name, fontsize=9)
        ax.set_xlabel("time steps")
        ax.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("F1 (lagged graph)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = args.out.with_suffix(".png")
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
