"""An ATE from a parquet folder too large to load at once: the estimate as passes over chunks.

Writes ``--rows`` rows of a confounded design (true effect 1) as parquet files of 250,000 rows, then estimates the
ATE with ``CInAModel.estimate(folder, "t", "y")``: every pass reads the files chunk by chunk, so memory is bounded
by ``chunk_rows``, not by the table (docs/design.md §4.9). Each row's weight goes back to parquet.

Run:  python examples/large_table.py  [--rows 1000000] [--folder /tmp/hf_causal_large]   (about a minute per 10^6 rows)
"""

from __future__ import annotations

import argparse
import os
import shutil

import numpy as np
import pandas as pd

from hf_causal import CInAModel
from hf_causal.cina.streaming import estimate_stream


def write_table(folder: str, rows: int, d: int = 10, part_rows: int = 250_000) -> None:
    os.makedirs(folder, exist_ok=True)
    for k, start in enumerate(range(0, rows, part_rows)):
        rng = np.random.default_rng(k)
        n = min(part_rows, rows - start)
        x = rng.normal(size=(n, d))
        t = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] - 0.5 * x[:, 1])))).astype(np.int64)
        y = 2 * x[:, 0] + x[:, 1] ** 2 + t + rng.normal(size=n)
        frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(d)]).assign(t=t, y=y)
        frame.to_parquet(os.path.join(folder, f"part-{k:04d}.parquet"), index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--folder", default="/tmp/hf_causal_large")
    args = parser.parse_args()
    data, weights_path = os.path.join(args.folder, "data"), os.path.join(args.folder, "weights")
    # the example owns these two subfolders: a run with fewer rows must not read an earlier run's extra parts, and
    # the estimate refuses to write weights over old ones
    for folder in (data, weights_path):
        shutil.rmtree(folder, ignore_errors=True)
    write_table(data, args.rows)
    model = CInAModel.from_pretrained("cina-zs-base")
    result = estimate_stream(model, data, "t", "y", chunk_rows=65_536, progress=True,
                             weights_path=weights_path)
    print(result.summary())
    print("true ATE: 1.000")
    weights = pd.read_parquet(weights_path)
    print(f"{len(weights):,} per-row weights written; they sum to 1 per arm:",
          weights.groupby("treatment")["weight"].sum().round(6).to_dict())


if __name__ == "__main__":
    main()
