"""``hf-causal`` command line.

``hf-causal estimate DATA --treatment COL --outcome COL [--covariates ...] [--model NAME_OR_PATH]
[--estimand ate|att|atc|overlap] [--method cina-zs|cina] [--json]``

``DATA`` is a csv, parquet or jsonl file, or ``benchmark:NAME`` for a dataset packaged with
:mod:`hf_causal.data` (e.g. ``benchmark:lalonde_nsw_cps``). Errors print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

EXIT_USAGE = 2
EXIT_FAILURE = 1


def read_table(source: str) -> tuple[pd.DataFrame, dict]:
    """Read ``source`` (csv/parquet/jsonl path or ``benchmark:NAME[:REPLICATION]``) into a DataFrame.

    Returns the frame and metadata (for benchmarks: default treatment/outcome/covariates and truth).
    """
    if source.startswith("benchmark:"):
        from hf_causal.data import load_benchmark_frame

        _, name, *rest = source.split(":")
        data = load_benchmark_frame(name, replication=int(rest[0]) if rest else 0)
        meta = {
            "treatment": data.treatment,
            "outcome": data.outcome,
            "covariates": list(data.covariates),
            "true_ate": data.true_ate,
            "true_att": data.true_att,
            "name": data.name,
        }
        return data.frame, meta
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {source}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path), {}
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path), {}
    if suffix in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True), {}
    raise ValueError(f"unsupported data format {suffix!r}: use .csv, .parquet or .jsonl")


def _estimate(args: argparse.Namespace) -> int:
    from transformers.utils import logging as hf_logging

    from hf_causal.cina import CInAModel
    from hf_causal.cina.inputs import split_frame

    frame, meta = read_table(args.data)
    treatment = args.treatment or meta.get("treatment")
    outcome = args.outcome or meta.get("outcome")
    if not treatment or not outcome:
        raise ValueError("--treatment and --outcome are required for a data file")
    covariates = args.covariates or meta.get("covariates")
    x, t, y = split_frame(frame, treatment, outcome, covariates)
    hf_logging.disable_progress_bar()  # keep stderr for warnings and the one-line errors
    model = CInAModel.from_pretrained(args.model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        extra = {"progress": not args.json} if args.method == "cina" else {}
        result = model.estimate(x, t, y, estimand=args.estimand, method=args.method, **extra)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.json:
        payload = result.to_dict()
        payload["model"] = args.model
        for key in ("true_ate", "true_att", "name"):
            if meta.get(key) is not None:
                payload[key] = meta[key]
        print(json.dumps(payload))
    else:
        print(result.summary())
        truth = meta.get(f"true_{args.estimand}")
        if truth is not None:
            print(f"benchmark truth ({args.estimand.upper()}): {truth:.4g}")
        print("\nLargest imbalances before weighting:")
        top = result.balance.reindex(result.balance["smd_before"].abs().sort_values(ascending=False).index)[:8]
        print(top.round(3).to_string())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="hf-causal", description="Causal foundation models on the Hugging Face stack.")
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="estimate a treatment effect with CInA balancing weights")
    est.add_argument("data", help="csv/parquet/jsonl file, or benchmark:NAME[:REPLICATION]")
    est.add_argument("--treatment", help="binary treatment column")
    est.add_argument("--outcome", help="outcome column")
    est.add_argument("--covariates", nargs="+", help="covariate columns (default: every other column)")
    est.add_argument("--model", default="cina-zs-base", help="bundled name, local folder or Hub id")
    est.add_argument("--estimand", default="ate", choices=["ate", "att", "atc", "overlap"])
    est.add_argument("--method", default="cina-zs", choices=["cina-zs", "cina"],
                     help="cina-zs: zero-shot forward pass; cina: per-dataset optimisation")
    est.add_argument("--json", action="store_true", help="print one JSON object")
    est.set_defaults(func=_estimate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hf-causal`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, FileNotFoundError, ImportError, KeyError) as err:
        print(f"hf-causal {args.command}: error: {err}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
