"""Streamed and distributed CInA estimates from parquet: time, peak memory and exactness against N.

Writes N rows x ``d`` covariates (the data of ``scale_peers.py``: logistic confounding, a linear outcome, effect 1)
as parquet files of at most 250,000 rows (the partitions of a cluster), then, each in a fresh single-threaded process:

* ``stream``: ``estimate_stream(model, folder, "t", "y")`` (chunks of 65,536 rows), its wall time and the peak of
  the process's current RSS above its RSS just before the call (sampled every 2 ms);
* ``memory`` (``--exact-ns``): the same table read into memory and ``model.estimate(X, T, Y)``, and the
  relative gap of the streamed value and standard error to it (the exactness check of docs/design.md §4.9);
* ``dask`` (``--dask-ns``): the streamed estimate on a local Dask cluster (loopback only) of 1 and of 2
  single-threaded worker processes, its time (cluster start excluded) and its gap to the streamed value.

The section it writes into ``benchmarks/results/scale.md`` (after the peers table of ``scale_peers.py``) is
replaced on every run.

    python benchmarks/scale_stream.py                                 # N = 1e5, 1e6, 1e7
    python benchmarks/scale_stream.py --ns 100000 --exact-ns 100000 --dask-ns 100000 --out /tmp/scale.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SECTION = "## Streamed and distributed estimates"
FILE_ROWS = 250_000


def write_data(folder: Path, n: int, d: int, seed: int = 0) -> Path:
    """N rows as parquet files of at most 250,000 rows (each file from its own seed), unless already there."""
    import numpy as np
    import pandas as pd

    target = folder / f"n{n}_d{d}"
    done = target / "_complete"
    if done.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    weights = np.linspace(1.0, 0.1, d)
    for k, start in enumerate(range(0, n, FILE_ROWS)):
        rows = min(FILE_ROWS, n - start)
        rng = np.random.default_rng([seed, k])
        x = rng.normal(size=(rows, d))
        p = 1.0 / (1.0 + np.exp(-(0.8 * x[:, 0] - 0.5 * x[:, 1])))
        t = (rng.random(rows) < p).astype(np.int64)
        y = x @ weights + t + rng.normal(size=rows)
        frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(d)]).assign(t=t, y=y)
        frame.to_parquet(target / f"part-{k:04d}.parquet", index=False, row_group_size=262_144)
    done.touch()
    return target


def _model(spec: str | None):  # noqa: ANN202 - a CInAModel
    sys.path.insert(0, str(HERE))
    from harness.peers import load_cina_model

    model, doc = load_cina_model(spec)
    return model.eval(), doc


def worker(kind: str, folder: str, workers: int, spec: str | None) -> dict:
    """One measurement in this (fresh, single-threaded) process."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    from scale_peers import CurrentRSSPeak

    from hf_causal.cina.streaming import estimate_stream

    model, _ = _model(spec)
    small = Path(folder).parent / "warmup"
    write_data(small, 2000, int(folder.rsplit("_d", 1)[1]))
    estimate_stream(model, next(small.iterdir()), "t", "y")  # imports and first-call costs, untimed
    out: dict = {"kind": kind, "folder": folder, "workers": workers}
    if kind == "memory":
        import pandas as pd

        frame = pd.read_parquet(folder)
        covariates = [c for c in frame.columns if c.startswith("x")]
        x, t, y = frame[covariates].to_numpy(), frame["t"].to_numpy(), frame["y"].to_numpy()
        del frame
        start = time.perf_counter()
        with CurrentRSSPeak() as rss:
            # the kernel outcome model, as a stream runs it ("auto" picks the in-context network in memory)
            result = model.estimate(x, t, y, estimand="ate", outcome_model="kernel")
    elif kind == "stream":
        start = time.perf_counter()
        with CurrentRSSPeak() as rss:
            result = estimate_stream(model, folder, "t", "y")
    else:
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            estimate_stream(model, next(small.iterdir()), "t", "y", client=client)  # warm the workers
            start = time.perf_counter()
            with CurrentRSSPeak() as rss:
                result = estimate_stream(model, folder, "t", "y", client=client)
    out.update(seconds=time.perf_counter() - start, peak_over_base_mb=rss.increase_mb, value=result.value,
               std_error=result.std_error, n=result.n)
    return out


def run(kind: str, folder: Path, args: argparse.Namespace, workers: int = 1) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--folder", str(folder), "--workers", str(workers)]
    cmd += ["--model", args.model] if args.model else []
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    if proc.returncode != 0:
        return {"kind": kind, "workers": workers, "status": "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["status"] = "ok"
    print(json.dumps(result), flush=True)
    return result


def _gap(a: dict, b: dict, key: str) -> str:
    if a.get("status") != "ok" or b.get("status") != "ok":
        return "–"
    return f"{abs(a[key] - b[key]) / abs(b[key]):.1e}"


def write_section(rows: list[dict], args: argparse.Namespace, model_doc: str, path: Path) -> None:
    lines = [
        SECTION,
        "",
        f"Produced by `python benchmarks/scale_stream.py{''.join(' ' + shlex.quote(a) for a in sys.argv[1:])}` on "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC: {platform.platform()}, {os.cpu_count()} logical CPUs "
        "shared with other jobs, one thread per process; CInA model " + model_doc + ".",
        f"Data: d = {args.d} covariates, the design above, parquet files of 250,000 rows; chunks of 65,536 rows. "
        "Time: wall clock of the call. Memory: peak of the process's current RSS during the call above its RSS "
        "just before it (for Dask, the driver's). Gaps: |a − b| / |b| of the value (and of the standard error).",
        "",
        "| N | streamed time (s) | streamed µs / row | streamed peak mem (MiB) | in memory time (s) | "
        "streamed vs in memory: value, SE | Dask 1 worker (s) | Dask 2 workers (s) | speed-up | Dask vs streamed: value |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted({r["n_rows"] for r in rows}):
        by = {(r["kind"], r.get("workers", 1)): r for r in rows if r["n_rows"] == n}
        stream, memory = by.get(("stream", 1), {}), by.get(("memory", 1), {})
        one, two = by.get(("dask", 1), {}), by.get(("dask", 2), {})

        def secs(r: dict) -> str:
            return f"{r['seconds']:.1f}" if r.get("status") == "ok" else (r.get("status") or "not run")

        per_row = f"{1e6 * stream['seconds'] / n:.1f}" if stream.get("status") == "ok" else "–"
        mem = f"{stream['peak_over_base_mb']:.0f}" if stream.get("status") == "ok" else "–"
        exact = f"{_gap(stream, memory, 'value')}, {_gap(stream, memory, 'std_error')}" if memory else "not run"
        speed = f"{one['seconds'] / two['seconds']:.2f}×" if one.get("status") == two.get("status") == "ok" else "–"
        dask_gap = _gap(two, stream, "value") if two else "not run"
        lines.append(f"| {n:,} | {secs(stream)} | {per_row} | {mem} | {secs(memory) if memory else 'not run'} | {exact} | "
                     f"{secs(one) if one else 'not run'} | {secs(two) if two else 'not run'} | {speed} | {dask_gap} |")
    lines.append("")
    previous = path.read_text() if path.exists() else ""
    head = previous.split(SECTION)[0].rstrip() if previous else "# Scale"
    path.write_text(head + "\n\n" + "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--exact-ns", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--dask-ns", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "hf-causal-scale")
    parser.add_argument("--model", default=None)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.md")
    parser.add_argument("--only", nargs="+", choices=("stream", "memory", "dask"),
                        help="measure these kinds only, keeping the others' earlier records")
    parser.add_argument("--worker", choices=("stream", "memory", "dask"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.workers, args.model)))
        return 0
    _, model_doc = _model(args.model)
    records = args.data_dir / "records.jsonl"  # every measurement, so that a later run can redo some only
    rows: list[dict] = []
    if args.only and records.exists():
        rows = [r for r in map(json.loads, records.read_text().splitlines()) if r["kind"] not in args.only]
    for n in sorted(args.ns):
        folder = write_data(args.data_dir, n, args.d)
        plan = [("stream", 1)]
        plan += [("memory", 1)] if n in args.exact_ns else []
        plan += [("dask", 1), ("dask", 2)] if n in args.dask_ns else []
        for kind, workers in plan:
            if args.only and kind not in args.only:
                continue
            result = run(kind, folder, args, workers)
            result["n_rows"] = n
            rows.append(result)
            records.write_text("".join(json.dumps(r) + "\n" for r in rows))
            write_section(rows, args, model_doc, args.out)  # incremental: a partial run still leaves its rows
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
