r"""Whether the first outcome network should be withheld from datasets whose arms' surfaces differ in spread
beyond its training prior (selection).

The first network was trained on `outcome_train`, whose two potential-outcome surfaces share one shape (the
effect within ±1 SD of the control surface), so the kernel model's two fitted surfaces there differ in spread by a
bounded ratio. On IHDP-B (an exponential control surface beside a linear treated one) that ratio is far larger, and
the network, which borrows across arms as its prior taught it, loses to the kernel model on exactly those
replications. With ``config.outcome_spread_limit = L`` a dataset routed to the first network keeps the kernel
model's predictions when ``|log(SD(m0) / SD(m1))|`` of the kernel model's context surfaces exceeds ``L``
(docs/design.md §4.8). ``L`` is not tuned on any benchmark: it is the 99th percentile of the statistic over
``--prior-draws`` (1,000) draws of the first network's own training prior (stream ``--prior-seed``, 0): a spread
ratio the network met on one training dataset in a hundred. Not the largest value, as for the routing threshold:
this statistic's tail is long (a flat fitted surface gives a large ratio), and the largest of 300 draws was 3.2 on
one stream and 5.6 on another. ``--limit`` overrides it (tests).

For every dataset this script computes the zero-shot CInA weights once and the default ATE (kernel model plus 0.75
of the network's correction, today's routing) with:

* ``kernel``: the kernel model alone (the ablation's baseline);
* ``shipped``: the default without the spread limit (the shipped default when the rule was written; the name is
  kept so that the records of that test still read);
* ``spread``: the limit ``L``: a dataset beyond it keeps the kernel model's surfaces (the candidate);
* ``spread_wide``: such a dataset goes to the wide-prior network instead (shown, not the candidate).

Writes ``benchmarks/results/outcome_spread_limit.md`` (or ``--output``) with the tables of
``outcome_centering_selection.py`` and, per family, how many datasets the limit withholds.

    python benchmarks/outcome_spread_limit_selection.py --seed 17 --family ood_mechanism=48 ood_dense_graph=48 \
        ood_strong_confounding=48 ood_weak_overlap=48 ood_large_n=48 \
        --benchmark ihdp_b=5131-6130 ihdp_a=3701-4200 --records spread.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.report import write_selection_report  # noqa: E402  (the harness sits beside this script)
from outcome_blend_validation import read_records  # noqa: E402
from outcome_centering_selection import group_lines, parse_args, run_variants  # noqa: E402

VARIANTS = ("kernel", "shipped", "spread", "spread_wide")
#: the first network's training prior, whose spread ratios set the limit
PRIOR_FAMILY = "outcome_train"


#: the share of the prior's draws whose spread ratio the limit lies above
PRIOR_QUANTILE = 0.99


def prior_spread_limit(draws: int, seed: int, families: tuple[str, ...] = (PRIOR_FAMILY,)) -> float:
    """The :data:`PRIOR_QUANTILE` quantile of ``|log(SD(m0) / SD(m1))|`` of the kernel model's surfaces over
    ``draws`` datasets of a network's training prior (stream ``seed``): ``families`` share the draws equally (name
    one twice for a 2 : 1 mixture, ``--prior-family``); the default is the first network's prior."""
    from hf_causal.cina.outcome_features import outcome_context
    from hf_causal.cina.potential_outcomes import surface_spread_log_ratio
    from hf_causal.data.families import sample_family

    if not families:
        raise ValueError("--prior-family needs at least one family")
    if draws < len(families):
        raise ValueError(f"--prior-draws must be at least the number of prior families ({len(families)}), got {draws}")
    shares = [draws // len(families) + (k < draws % len(families)) for k in range(len(families))]
    counts: dict[str, int] = {}
    for name, share in zip(families, shares, strict=True):
        counts[name] = counts.get(name, 0) + share
    ratios = []
    for ds in (ds for name, count in counts.items() for ds in sample_family(name, count, seed=seed)):
        ctx = outcome_context(np.asarray(ds.X, float), np.asarray(ds.T, np.int64), np.asarray(ds.Y, float))
        ratios.append(abs(surface_spread_log_ratio(ctx.kernel_mu[: ctx.n_context])))
    return float(np.quantile(ratios, PRIOR_QUANTILE))


def record_for(limit: float):
    """``dataset_record`` with the limit ``limit`` fixed."""

    def dataset_record(model: Any, x: np.ndarray, t: np.ndarray, y: np.ndarray, ate: float) -> dict[str, Any]:
        """One dataset's signed ATE error with every variant, SD(Y), the statistic and what the limit did."""
        from hf_causal.cina.estimator import augmentation_surfaces
        from hf_causal.cina.outcome import augmented_effect
        from hf_causal.cina.potential_outcomes import predict_potential_outcomes

        base = model.estimate(x, t, y, estimand="ate", outcome_model="kernel")
        row: dict[str, Any] = {"n": int(len(y)), "d": int(x.shape[1]), "scale": float(np.std(y)) or 1.0,
                               "kernel": base.value - ate}

        def error(po) -> float:
            m1, m0 = augmentation_surfaces(po)
            return augmented_effect(base.weights, t, y, m1, m0, "ate") - ate

        limited = predict_potential_outcomes(model, x, t, y, spread_limit=limit)
        # where the limit does not act the two predictions are one: the network's pass runs once
        shipped = predict_potential_outcomes(model, x, t, y, spread_limit=None) if limited.withheld else limited
        row.update(shipped=error(shipped), spread=error(limited), ratio=shipped.kernel_spread_log_ratio,
                   network=shipped.network, withheld=bool(limited.withheld), limit=limit)
        wide = predict_potential_outcomes(model, x, t, y, spread_limit=None, wide_network=True) if limited.withheld \
            else shipped
        row["spread_wide"] = error(wide)
        return row

    return dataset_record


def withheld_lines(rows: list[dict], limit: float) -> list[str]:
    """Per family: how many datasets the limit gives the kernel model, and the statistic's largest value."""
    lines = ["", f"## Datasets withheld from the first network (limit {limit:.3f})", "",
             "| family | datasets | withheld | largest |log ratio| |", "|---|---|---|---|"]
    for name in dict.fromkeys(row["family"] for row in rows):
        group = [row for row in rows if row["family"] == name]
        lines.append(f"| `{name}` | {len(group)} | {sum(bool(row['withheld']) for row in group)} | "
                     f"{max(abs(row['ratio']) for row in group):.2f} |")
    return lines


def limit_arguments(parser: argparse.ArgumentParser) -> None:
    """This script's own options: where the limit comes from."""
    parser.add_argument("--limit", type=float, default=None,
                        help="the limit itself (default: measured on the prior, --prior-*)")
    parser.add_argument("--prior-draws", type=int, default=1000, help="draws of the prior the limit is measured on")
    parser.add_argument("--prior-seed", type=int, default=0, help="their stream seed")
    parser.add_argument("--prior-family", nargs="+", default=[PRIOR_FAMILY], metavar="FAMILY",
                        help=f"the network's training prior; list a family twice for a 2 : 1 mixture "
                        f"(default {PRIOR_FAMILY}: the first network's)")


def main(argv: list[str] | None = None) -> int:
    """Fix the limit, run the records (or read them) and write the report."""
    args = parse_args(argv, description=__doc__, output=HERE / "results" / "outcome_spread_limit.md",
                      add_arguments=limit_arguments)
    limit = args.limit
    if limit is None and args.from_records:  # the records say which limit made them (records since 2026-12-05)
        limit = next((row["limit"] for row in read_records(args.from_records) if "limit" in row), None)
    if limit is None:
        limit = prior_spread_limit(args.prior_draws, args.prior_seed, tuple(args.prior_family))
    if not limit > 0:
        raise ValueError(f"the spread limit must be positive, got {limit}")
    rows, seconds = run_variants(args, record_for(limit))
    source = ("given (--limit)" if args.limit is not None else
              f"the {PRIOR_QUANTILE:.0%} quantile over {args.prior_draws} draws of "
              f"{' + '.join(f'`{name}`' for name in args.prior_family)} at stream seed "
              f"{args.prior_seed}")
    lines = ["# Withholding the first outcome network from datasets whose surfaces differ in spread beyond its prior "
             "(model selection)", "",
             "Absolute ATE error of the default estimator (kernel model plus 0.75 of the network's correction, the "
             "same CInA weights for every variant), raw (the benchmark's metric) and in units of SD(Y). Negative "
             "differences: the variant is closer. Variants: `outcome_spread_limit_selection.py`; the rule: "
             f"`outcome_finetune.md`. The limit: |log spread ratio| {limit:.4f}, {source}.",
             *group_lines(rows, VARIANTS), *withheld_lines(rows, limit), ""]
    print("\n".join(lines))
    write_selection_report(args.output, lines, "benchmarks/outcome_spread_limit_selection.py", seconds,
                           sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
