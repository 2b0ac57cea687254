"""Scale versus peers: wall time and peak memory of zero-shot CInA, EconML LinearDML and IPW against N.

Each (method, N) runs in a fresh subprocess (single-threaded unless ``--threads``) so that peak memory
is clean: peak RSS from ``getrusage`` and the increase over the process's RSS just before the data
existed; on GPU also ``torch.cuda.max_memory_allocated``. The data: ``d`` standard-normal covariates,
logistic confounding, a linear outcome with effect 1. The timed call is the user-facing one
(``CInAModel.estimate(..., estimand="ate")`` including weight calibration and the interval;
``LinearDML(discrete_treatment=True).fit`` + ``ate``; logistic IPW). A method that times out at some N
is not run at larger N. Up to ``--repeat-max-n`` every (method, N) runs in ``--repeats`` fresh processes and the
report gives the median run with the range: one cold call on a shared VM varies by a factor of two.
Writes ``benchmarks/results/scale.md``.

    python benchmarks/scale_peers.py                                     # N = 1e3 .. 1e6, CPU
    python benchmarks/scale_peers.py --ns 1000 5000 --timeout 120 --out /tmp/scale.md
    python benchmarks/scale_peers.py --device cuda                        # CInA on the GPU, peers on CPU
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
METHODS = ("cina_zs", "linear_dml", "ipw")
STREAM_SECTION = "## Streamed and distributed estimates"


class CurrentRSSPeak:
    """Peak of the *current* RSS during a block, sampled every 2 ms from ``/proc/self/statm``, in MiB.

    ``ru_maxrss`` is a lifetime high-water mark, so a method that stays below the peak of data creation and
    warm-up would read as 0 MiB; sampling the current RSS measures its own increase (to within 2 ms spikes).
    """

    def __init__(self) -> None:
        import threading

        self._page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.base_mb = self.peak_mb = self._current()

    def _current(self) -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page_mb

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak_mb = max(self.peak_mb, self._current())

    def __enter__(self) -> CurrentRSSPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._current())

    @property
    def increase_mb(self) -> float:
        return self.peak_mb - self.base_mb


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def make_data(n: int, d: int, seed: int = 0):  # noqa: ANN201 - numpy triple
    """``(X, T, Y)`` with logistic confounding on the first two covariates and a constant effect of 1."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    p = 1.0 / (1.0 + np.exp(-(0.8 * x[:, 0] - 0.5 * x[:, 1])))
    t = (rng.random(n) < p).astype(np.int64)
    y = x @ np.linspace(1.0, 0.1, d) + t + rng.normal(size=n)
    return x, t, y


def worker(method: str, n: int, d: int, device: str, model_spec: str | None, threads: int) -> dict:
    """Time one method at one N in this (fresh) process; returns a JSON-ready dict."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(HERE))
    from harness.peers import IPWLogistic, LinearDMLPeer, load_cina_model

    if method == "cina_zs":
        model, _ = load_cina_model(model_spec)
        model = model.to(device)
    # warm up (imports, first-call costs) on a tiny dataset, untimed
    xw, tw, yw = make_data(200, d, seed=1)
    if method == "cina_zs":
        model.estimate(xw, tw, yw, estimand="ate", method="cina-zs")
    elif method == "linear_dml":
        LinearDMLPeer().estimate(xw, tw, yw, "ate")
    else:
        IPWLogistic().estimate(xw, tw, yw, "ate")
    x, t, y = make_data(n, d)
    if device == "cuda" and method == "cina_zs":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_gpu = torch.cuda.memory_allocated() / 2**20
    start = time.perf_counter()
    with CurrentRSSPeak() as rss:
        if method == "cina_zs":
            value = model.estimate(x, t, y, estimand="ate", method="cina-zs").value
            if device == "cuda":
                torch.cuda.synchronize()
        elif method == "linear_dml":
            value = LinearDMLPeer().estimate(x, t, y, "ate").value
        elif method == "ipw":
            value = IPWLogistic().estimate(x, t, y, "ate").value
        else:
            raise ValueError(f"unknown method {method!r}")
    seconds = time.perf_counter() - start
    out = {
        "method": method,
        "n": n,
        "d": d,
        "status": "ok",
        "seconds": seconds,
        "estimate": float(value),
        "peak_rss_mb": _rss_mb(),
        "peak_over_base_mb": rss.increase_mb,
        "device": device if method == "cina_zs" else "cpu",
    }
    if device == "cuda" and method == "cina_zs":
        out["gpu_peak_over_base_mb"] = torch.cuda.max_memory_allocated() / 2**20 - base_gpu
    return out


def run_one(method: str, n: int, args: argparse.Namespace, timeout: float) -> dict:
    """Run :func:`worker` in a subprocess with a timeout."""
    cmd = [sys.executable, __file__, "--worker", method, "--n", str(n), "--d", str(args.d), "--device", args.device]
    cmd += ["--threads", str(args.threads)] + (["--model", args.model] if args.model else [])
    env = dict(os.environ, **{v: str(args.threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    env.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"method": method, "n": n, "status": f"timed out (> {timeout:.0f} s)", "seconds": time.perf_counter() - start}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"method": method, "n": n, "status": f"failed: {last[:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def combine_runs(runs: list[dict]) -> dict:
    """One result from repeated fresh-process runs of the same (method, N): the first one that did not succeed,
    else the run with the median time (the lower middle for an even count), with every run's seconds in
    ``seconds_all``."""
    if not runs:
        raise ValueError("combine_runs needs at least one run")
    failed = [r for r in runs if r["status"] != "ok"]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return {**ordered[(len(ordered) - 1) // 2], "seconds_all": [r["seconds"] for r in runs]}


def _time_cell(result: dict) -> str:
    times = result.get("seconds_all", [result["seconds"]])
    if len(times) == 1:
        return _fmt(result["seconds"])
    return f"{_fmt(result['seconds'])} ({_fmt(min(times))}–{_fmt(max(times))}, {len(times)} runs)"


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "–" if value is None else format(value, spec)


def write_report(results: list[dict], args: argparse.Namespace, path: Path, model_doc: str, notes: list[str]) -> None:
    """Markdown table: one row per N, time / memory per method and LinearDML-time ratios."""
    import importlib

    versions = []
    for name in ("torch", "sklearn", "econml", "numpy"):
        try:
            versions.append(f"{name} {importlib.import_module(name).__version__}")
        except ImportError:
            versions.append(f"{name} not installed")
    by = {(r["method"], r["n"]): r for r in results}
    ns = sorted({r["n"] for r in results})
    cmd = "python benchmarks/scale_peers.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    out = [
        "# Scale: zero-shot CInA vs LinearDML and IPW",
        "",
        f"Produced by `{cmd}` on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        f"- **machine**: {platform.platform()}; {os.cpu_count()} logical CPUs (shared with other jobs); "
        f"{args.threads} thread(s) per run; CInA on `{args.device}`",
        f"- **versions**: python {platform.python_version()}, " + ", ".join(versions),
        f"- **CInA model**: {model_doc}",
        f"- **data**: d = {args.d} covariates, logistic confounding, linear outcome, constant effect 1",
        f"- **limits**: {args.timeout:.0f} s per run; a method that times out is not run at larger N; "
        f"total budget {args.budget_minutes:g} min",
        *[f"- {note}" for note in notes],
        "",
        "Time: wall-clock seconds of the user-facing call (fit + estimate), each run in a fresh process after an "
        "untimed warm-up call on 200 rows; with several runs, the median run and the range over runs in brackets. "
        "Memory: peak of the process's current RSS during that call minus its RSS just before it (MiB, sampled every "
        "2 ms from /proc; of the median run). Ratio: LinearDML's median time ÷ the method's.",
        "",
        "| N | " + " | ".join(f"{m} time (s) | {m} peak mem (MiB)" for m in METHODS) + " | LinearDML ÷ cina_zs | LinearDML ÷ ipw |",
        "|---" * (1 + 2 * len(METHODS) + 2) + "|",
    ]
    for n in ns:
        cells = []
        for m in METHODS:
            r = by.get((m, n))
            if r is None:
                cells += ["not run", "–"]
            elif r["status"] != "ok":
                cells += [r["status"], "–"]
            else:
                cells += [_time_cell(r), _fmt(r["peak_over_base_mb"], ".0f")]
        ratios = []
        ldml = by.get(("linear_dml", n))
        for m in ("cina_zs", "ipw"):
            r = by.get((m, n))
            ok = ldml and r and ldml["status"] == "ok" and r["status"] == "ok"
            ratios.append(f"{ldml['seconds'] / r['seconds']:.1f}×" if ok else "–")
        out.append(f"| {n:,} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    out.append("")
    # the section benchmarks/scale_stream.py writes after this table is kept
    previous = path.read_text() if path.exists() else ""
    kept = previous[previous.index(STREAM_SECTION):] if STREAM_SECTION in previous else ""
    path.write_text("\n".join(out) + ("\n" + kept if kept else ""))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[1000, 5000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per (method, N) run")
    parser.add_argument("--budget-minutes", type=float, default=60.0, help="start no run after this")
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process runs per (method, N), up to --repeat-max-n")
    parser.add_argument("--repeat-max-n", type=int, default=30_000, help="larger N run once")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.md")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.d, args.device, args.model, args.threads)))
        return 0

    sys.path.insert(0, str(HERE))
    from harness.peers import load_cina_model

    _, model_doc = load_cina_model(args.model)
    deadline = time.time() + 60 * args.budget_minutes
    results: list[dict] = []
    given_up: set[str] = set()
    budget_hit = False
    for n in sorted(args.ns):
        for method in args.methods:
            if method in given_up:
                results.append({"method": method, "n": n, "status": "not run (timed out at smaller N)"})
                continue
            remaining = deadline - time.time()
            if remaining < 5:
                budget_hit = True
                results.append({"method": method, "n": n, "status": "not run (budget spent)"})
                continue
            runs = [run_one(method, n, args, min(args.timeout, remaining))]
            while runs[-1]["status"] == "ok" and len(runs) < (args.repeats if n <= args.repeat_max_n else 1):
                remaining = deadline - time.time()
                if remaining < 5:
                    break
                runs.append(run_one(method, n, args, min(args.timeout, remaining)))
            result = combine_runs(runs)
            if result["status"] != "ok":
                given_up.add(method)
            results.append(result)
            print(json.dumps(result), flush=True)
    notes = ["the time budget ran out before every run could start"] if budget_hit else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(results, args, args.out, model_doc, notes)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
