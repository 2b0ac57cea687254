r"""Train the autoregressive causal engine on a table and a DAG.

    python train/train_engine.py --data rows.parquet --graph graph.json \
        --config train/configs/engine_tabular.yaml --output-dir outputs/engine
    python train/train_engine.py ... --resume        # continue from the last checkpoint-*/

``--data``: CSV, Parquet or JSON-lines with one column per graph variable (sequence variables as
lists, or as JSON strings in CSV). ``--graph``: ``CausalGraph.to_json()`` output. The config holds
the keyword arguments of :meth:`hf_causal.CausalEngine.train` (see ``train/configs/engine_*.yaml``).
Writes ``checkpoint-<step>/`` (each a loadable engine plus optimiser state) and the final engine
into ``--output-dir`` (``CausalEngine.from_pretrained(output_dir)``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hf_causal.core.run_config import newest_checkpoint
from hf_causal.engine import CausalEngine, CausalGraph


def load_table(path: str, graph: CausalGraph) -> pd.DataFrame:
    """Read CSV / Parquet / JSON-lines; decode JSON-string sequences of sequence variables."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        df = pd.read_parquet(path)
    elif suffix in (".jsonl", ".json"):
        df = pd.read_json(path, lines=suffix == ".jsonl")
    else:
        df = pd.read_csv(path)
    for name, var in graph.variables.items():
        if var.type == "sequence" and name in df and df[name].map(lambda v: isinstance(v, str)).all():
            df[name] = df[name].map(json.loads)
        elif var.type == "sequence" and name in df:
            df[name] = df[name].map(list)
    return df


def main(argv: list[str] | None = None) -> CausalEngine:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--graph", required=True)
    parser.add_argument("--config", default=None, help="YAML/JSON with CausalEngine.train keyword arguments")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir")
    args = parser.parse_args(argv)

    config: dict[str, Any] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
    graph = CausalGraph.from_json(args.graph)
    df = load_table(args.data, graph)
    resume = None
    if args.resume:
        resume = str(newest_checkpoint(args.output_dir))
        print(f"resuming from {resume}")
    engine = CausalEngine.train(df, graph, output_dir=args.output_dir, resume_from_checkpoint=resume, **config)
    print(f"saved {engine} to {args.output_dir}: {engine.training_summary}")
    return engine


if __name__ == "__main__":
    try:
        main()
    except (ValueError, TypeError, KeyError, OSError, yaml.YAMLError) as err:
        # bad input (a missing file, a graph that is not JSON or has a cycle, a missing column, NaN) is the user's to
        # fix: one line, as `hf-causal estimate` gives, not a traceback
        sys.exit(f"train_engine.py: error: {' '.join(str(err).split())}")
