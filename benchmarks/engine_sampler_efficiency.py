"""How close the engine's network sampler runs to this CPU's matrix-multiply rate on the 20-variable SCM.

``engine.md`` finds the KV-cached network sampler about 90x behind DoWhy gcm's rows per second on ``wide20``. Is that
overhead we could remove, or the arithmetic a transformer must do? This script measures both sides on one thread:

* the sampler's rows per second for ``do(A=1)`` (the network forced, best of ``--repeats``), times the
  positions per row and the transformer blocks' floating-point operations per position (the attention
  projections and the MLP, 2 per multiply-add; the attention over at most 21 keys and the head over one
  variable's own value tokens are left out, so the achieved rate is a lower bound);
* the same matrix products alone, at the sampler's batch size, in a loop (the rate a perfect sampler would run at).

The weights do not change the cost, so the engine is trained for only ``--steps`` steps. Writes
``benchmarks/results/engine_sampler_efficiency.md``.

    python benchmarks/engine_sampler_efficiency.py
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # engine_scms / engine_benchmark beside this script
#: The repository root: default paths do not depend on the working directory.
ROOT = Path(__file__).resolve().parent.parent


def block_flops_per_position(width: int, layers: int, inner: int) -> int:
    """Floating-point operations of the transformer blocks for one new position with a KV cache: per layer the
    query/key/value and output projections (``4 width²`` multiply-adds) and the MLP (``2 width · inner``)."""
    if min(width, layers, inner) < 1:
        raise ValueError(f"width, layers and inner must be positive, got {width}, {layers}, {inner}")
    return 2 * layers * (4 * width * width + 2 * width * inner)


def matmul_rate(batch: int, width: int, inner: int, seconds: float = 2.0) -> float:
    """FLOP/s of one layer's products at ``batch`` rows (``[batch, width] @ [width, 3 width]``, ``@ [width, width]``,
    ``@ [width, inner]``, ``@ [inner, width]``), repeated for about ``seconds``."""
    import torch

    x = torch.randn(batch, width)
    qkv, out, up, down = (torch.randn(*s) for s in ((width, 3 * width), (width, width), (width, inner), (inner, width)))

    def layer() -> None:
        torch.mm(x, qkv)
        torch.mm(x, out)
        torch.mm(torch.mm(x, up), down)

    for _ in range(10):
        layer()
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        layer()
        reps += 1
    return reps * block_flops_per_position(width, 1, inner) * batch / (time.perf_counter() - start)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Train the wide20 engine briefly, time its network sampler and the bare products."""
    import torch
    from engine_benchmark import rows_per_second
    from engine_scms import WIDE

    from hf_causal.engine import CausalEngine

    torch.set_num_threads(1)
    engine = CausalEngine.train(WIDE.simulate(20_000, 3), WIDE.graph, seed=3, progress=False, num_threads=1,
                                max_steps=args.steps)
    backbone = engine.model.config.build_backbone_config()
    width, layers = backbone.n_embd, backbone.n_layer
    inner = backbone.n_inner or 4 * width
    positions = len(WIDE.graph.variables) + 1
    rates = [rows_per_second(engine, args.rows, {"A": 1}, tables=False) for _ in range(args.repeats)]
    per_position = block_flops_per_position(width, layers, inner)
    return {"width": width, "layers": layers, "inner": inner, "positions": positions, "batch": engine.batch_size,
            "rows_per_s": rates, "achieved": max(rates) * positions * per_position,
            "bare": matmul_rate(engine.batch_size, width, inner), "per_position": per_position}


def report(m: dict[str, Any], command: str, dowhy_rows_per_s: float | None = None) -> str:
    """The markdown report of :func:`measure`'s numbers; ``dowhy_rows_per_s`` (DoWhy gcm's do() rows/s on the
    same SCM, from ``engine.md``) adds how far even an overhead-free sampler would stay behind it."""
    share = m["achieved"] / m["bare"]
    ceiling = max(m["rows_per_s"]) / share
    behind = "" if dowhy_rows_per_s is None else (
        f", still {dowhy_rows_per_s / ceiling:.0f}× below DoWhy gcm's {dowhy_rows_per_s:,.0f} do() rows/s in "
        "`engine.md`")
    return f"""# The engine's network sampler against this CPU's matrix-multiply rate (`wide20`)

Written by `benchmarks/engine_sampler_efficiency.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.
Command: `{command}`. Machine: {platform.machine()}, {platform.system()}, python {platform.python_version()}; one thread.

| quantity | value |
|---|---|
| model (the engine's default for > 8 one-token variables) | GPT-2, width {m['width']}, {m['layers']} layer(s), MLP {m['inner']} |
| positions per row | {m['positions']} |
| block FLOPs per position | {m['per_position']:,} |
| sampler batch | {m['batch']:,} rows |
| network sampler, do(A=1), rows/s (runs) | {', '.join(f'{r:,.0f}' for r in m['rows_per_s'])} |
| achieved block GFLOP/s (best run) | {m['achieved'] / 1e9:.1f} |
| the same products alone, GFLOP/s | {m['bare'] / 1e9:.1f} |
| sampler's share of the bare rate | {share:.0%} |
| rows/s a sampler with no overhead would reach | {ceiling:,.0f} |

The achieved rate counts only the blocks' products, so the share is a lower bound on how busy the sampler keeps
the core. Removing every other cost (Python, the per-position attention and head, memory traffic) would gain at
most {1 / share:.1f}×: about {ceiling:,.0f} rows/s{behind}. The rest of the gap to a library that evaluates one
small regressor per variable is the transformer's arithmetic, which one CPU core does not close; a GPU changes
this column, not the CPU one.
"""


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20, help="training steps (the cost does not depend on the weights)")
    p.add_argument("--rows", type=int, default=20_000, help="rows drawn per timing")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dowhy-rows-per-s", type=float, default=None,
                   help="DoWhy gcm's do() rows/s on wide20 (engine.md), to state the gap an ideal sampler leaves")
    p.add_argument("--output", default=str(ROOT / "benchmarks/results/engine_sampler_efficiency.md"))
    args = p.parse_args(argv)
    command = "python benchmarks/engine_sampler_efficiency.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(measure(args), command.strip(), args.dowhy_rows_per_s)
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
