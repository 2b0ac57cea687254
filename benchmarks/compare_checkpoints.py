r"""Two checkpoints on the same benchmark datasets: paired differences of their rows, per suite and pooled.

The ATE and CATE benchmarks (``ate_benchmark.py``, ``cate_benchmark.py``) save one JSON line per (method,
dataset) with ``--records``. Run a benchmark's model rows once per checkpoint (``--model``, ``--methods``), then::

    python benchmarks/compare_checkpoints.py --new outputs/ate_new/*.jsonl --old outputs/ate_old/*.jsonl \
        --methods cina_zs cina_zs_pretrained
    python benchmarks/compare_checkpoints.py --metric pehe --new outputs/cate_new/*.jsonl \
        --old outputs/cate_old/*.jsonl --methods cina_zs

prints, per method and suite, the mean of ``new - old`` (absolute ATE error, or √PEHE with ``--metric pehe``)
over the datasets both ran, its standard error, on how many the new checkpoint is closer, and the pooled line
over the held-out OOD suites (negative: the new checkpoint is better). With ``--output`` the table also goes to a
file. Pairing is by (suite, dataset): rows that only one side has are counted and left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness.protocol import record_lines  # noqa: E402
from harness.report import OOD_SUITES, difference_summary  # noqa: E402  (OOD_SUITES: pooled in the last line)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", nargs="+", type=Path, required=True, help="records of the candidate checkpoint")
    parser.add_argument("--old", nargs="+", type=Path, required=True, help="records of the checkpoint it replaces")
    parser.add_argument("--methods", nargs="+", required=True, help="the rows to compare (both sides must have them)")
    parser.add_argument("--metric", choices=("abs_error", "pehe"), default="abs_error")
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    return parser.parse_args(argv)


def metric_values(paths: list[Path], metric: str) -> dict[tuple[str, str, str], float]:
    """``{(method, suite, dataset): value}`` of the successful rows of ``paths``."""
    values: dict[tuple[str, str, str], float] = {}
    for path in paths:
        for number, line in enumerate(record_lines(path), start=1):
            row = json.loads(line)
            if row.get("status") != "ok":
                continue
            if metric == "abs_error":
                if row.get("estimate") is None or row.get("truth") is None:
                    raise ValueError(f"{path} line {number}: an 'ok' ATE row without estimate and truth; "
                                     "is this a CATE record (use --metric pehe)?")
                value = abs(float(row["estimate"]) - float(row["truth"]))
            else:
                if row.get("pehe") is None:
                    raise ValueError(f"{path} line {number}: an 'ok' row without 'pehe'; is this an ATE record "
                                     "(use --metric abs_error)?")
                value = float(row["pehe"])
            values[(row["method"], row["suite"], row["dataset"])] = value
    return values


def paired_lines(new: dict, old: dict, methods: list[str]) -> list[str]:
    """The markdown table (module docstring)."""
    lines = ["| method | suite | datasets | new − old ± SE | new closer on | Δ / SE |", "|---|---|---|---|---|---|"]
    for method in methods:
        keys = sorted(k for k in new if k[0] == method and k in old)
        if not keys:
            raise ValueError(f"no dataset has a {method!r} row on both sides")
        suites = list(dict.fromkeys(k[1] for k in keys))
        groups = [(suite, [k for k in keys if k[1] == suite]) for suite in suites]
        pooled = [k for k in keys if k[1] in OOD_SUITES]
        if pooled:
            groups.append(("pooled OOD", pooled))
        for label, group in groups:
            mean, se, closer, n = difference_summary(np.array([new[k] - old[k] for k in group]))
            ratio = f"{mean / se:+.1f}" if np.isfinite(se) and se > 0 else "–"
            spread = f" ± {se:.4g}" if np.isfinite(se) else ""
            lines.append(f"| `{method}` | {label} | {n} | {mean:+.4g}{spread} | {closer} / {n} | {ratio} |")
        unpaired = sum(1 for k in new if k[0] == method and k not in old) + sum(
            1 for k in old if k[0] == method and k not in new)
        if unpaired:
            lines.append(f"| `{method}` | ({unpaired} rows on one side only, left out) | | | | |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print (and with ``--output`` write) the comparison."""
    args = parse_args(argv)
    lines = paired_lines(metric_values(args.new, args.metric), metric_values(args.old, args.metric), args.methods)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
