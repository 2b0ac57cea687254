"""Time and peak memory of zero-shot CInA versus N (memory must grow linearly, never N x N).

Each (method, N) runs in a fresh subprocess so peak memory is clean: CPU peak RSS from ``getrusage``
(minus the same process's RSS before the data existed) and, on GPU, ``torch.cuda.max_memory_allocated``.
The peer is the same computation with dense eager attention (the N x N score matrix in memory), run
while it fits. Writes ``benchmarks/results/scale_cina_<device>.md`` (e.g. ``scale_cina_cpu.md``).

    python benchmarks/scale_benchmark.py                    # CPU, N = 1e3 .. 2e5
    python benchmarks/scale_benchmark.py --device cuda --ns 1000 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _rss_mb() -> float:
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(method: str, n: int, d: int, device: str, model_name: str, threads: int | None = None) -> dict:
    import numpy as np
    import torch

    from hf_causal.cina import CInAModel

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CInAModel.from_pretrained(model_name).to(device).eval()
    if method == "dense":
        import hf_causal.cina.attention as attention

        # one chunk: the full N x N score matrix, like eager attention (and lift the CPU cache-size cap)
        model.config.chunk_elements = attention.CPU_CHUNK_ELEMENTS = attention.CPU_KEY_BLOCK = 2**62
        for layer in model.layers:
            layer.chunk_elements = 2**62
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(np.float32)
    t = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(np.float32)
    xt = torch.as_tensor(x, device=device).unsqueeze(0)
    tt = torch.as_tensor(t, device=device).unsqueeze(0)
    base_rss = _rss_mb()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_gpu = torch.cuda.memory_allocated() / 2**20
    start = time.perf_counter()
    with torch.no_grad():
        weights = model(xt, tt).weights
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = {
        "method": method,
        "n": n,
        "d": d,
        "seconds": seconds,
        "peak_rss_mb": _rss_mb(),
        "peak_over_base_mb": _rss_mb() - base_rss,
        "weights_finite": bool(torch.isfinite(weights).all()),
        "threads": torch.get_num_threads(),
        "load_1min": os.getloadavg()[0],  # other jobs on the machine inflate the seconds; say so in the table
    }
    if device == "cuda":
        result["gpu_peak_over_base_mb"] = torch.cuda.max_memory_allocated() / 2**20 - base_gpu
    return result


def run_one(method: str, n: int, d: int, device: str, model: str, timeout: float, threads: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--n", str(n), "--d", str(d), "--device", device, "--model", model]
    env = dict(os.environ)
    if threads:
        cmd += ["--threads", str(threads)]
        env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"method": method, "n": n, "status": f"timeout > {timeout:.0f}s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"method": method, "n": n, "status": f"failed: {last[:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1]) | {"status": "ok"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=["chunked", "dense"])
    parser.add_argument("--n", type=int)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="cina-zs-base")
    parser.add_argument("--ns", type=int, nargs="+", default=[1000, 5000, 20000, 50000, 100000, 200000])
    parser.add_argument("--dense-max-n", type=int, default=20000, help="largest N tried with dense attention")
    parser.add_argument("--timeout", type=float, default=5400, help="seconds per (method, N) pass")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per pass (default: torch's own)")
    parser.add_argument("--output", default=None)
    parser.add_argument("--render", default=None, help="write the table from a JSONL log of an earlier run (no rerun)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.d, args.device, args.model, args.threads)))
        return 0

    import torch

    rows = []
    if args.render:
        rows = [json.loads(line) for line in Path(args.render).read_text().splitlines() if line.startswith("{")]
    for n in [] if args.render else args.ns:
        for method in ("chunked", "dense"):
            if method == "dense" and n > args.dense_max_n:
                continue
            row = run_one(method, n, args.d, args.device, args.model, args.timeout, args.threads)
            print(json.dumps(row), flush=True)
            rows.append(row)
    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" and torch.cuda.is_available() else None
    machine = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} logical CPUs".strip()
    mem_key = "gpu_peak_over_base_mb" if args.device == "cuda" else "peak_over_base_mb"
    lines = [
        f"# CInA zero-shot forward: time and peak memory vs N ({args.device})",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: {gpu or machine}; python {platform.python_version()}; torch {torch.__version__}",
        f"- command: `python benchmarks/scale_benchmark.py {' '.join(sys.argv[1:])}`",
        f"- model: `{args.model}`; d = {args.d} covariates; one dataset per forward pass",
        "- `chunked` is the shipped memory-linear attention; `dense` is the same model with a single chunk,",
        "  i.e. the full N x N score matrix (what eager attention does). Memory is the peak above the process's",
        "  footprint before the forward pass (RSS on CPU, allocated memory on GPU).",
        "",
        "- load: the machine's 1-minute load average when the pass finished (above the CPU count means other",
        "  jobs shared the cores and the seconds are inflated).",
        "",
        "| N | method | seconds | peak memory (MB) | dense / chunked memory | threads | load |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    by_key = {(r["method"], r["n"]): r for r in rows}
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['n']:,} | {r['method']} | {r['status']} | | | | |")
            continue
        ratio = ""
        chunked = by_key.get(("chunked", r["n"]))
        if r["method"] == "dense" and chunked and chunked.get("status") == "ok":
            ratio = f"{r[mem_key] / max(chunked[mem_key], 1e-6):.1f}x"
        load = f"{r['load_1min']:.1f}" if "load_1min" in r else ""
        threads = r.get("threads", "")
        lines.append(f"| {r['n']:,} | {r['method']} | {r['seconds']:.2f} | {r[mem_key]:.0f} | {ratio} | {threads} | {load} |")
    out = Path(args.output) if args.output else RESULTS / f"scale_cina_{args.device}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
