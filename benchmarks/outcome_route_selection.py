r"""Choose which datasets the default estimator sends to the wide-prior outcome network (model selection).

A checkpoint with two outcome networks routes a dataset to ``outcome_network_wide`` when the kernel model's plug-in
effect exceeds ``config.outcome_wide_effect_threshold`` outcome SDs (docs/design.md §4.8). For every dataset this
script computes the zero-shot CInA weights once and the default ATE (kernel model plus 0.75 of a network's
correction) three ways: with the kernel model alone, with the first network, with the wide one; and, cross-fitted,
each network's error in predicting held-out factual outcomes. From those records every routing rule is a lookup:

* ``threshold_T``: the wide network when |plug-in effect| > ``T`` SDs (``T`` in :data:`THRESHOLDS`; the shipped
  rule is ``threshold_1.25``; ``threshold_0`` is the wide network everywhere, ``first`` the first everywhere);
* ``heldout``: the network whose cross-fitted predictions of held-out factual outcomes have the lower mean squared
  error (:func:`heldout_errors`).

Writes ``benchmarks/results/outcome_route.md`` (or ``--output``): per family, each rule's mean error
(|ATE error| / SD(Y)) and its paired difference to the shipped rule and to the kernel model alone; with
``--records``, one JSON line per dataset, and ``--from-records`` rebuilds the report from saved runs.

    python benchmarks/outcome_route_selection.py --family outcome_validation=135 outcome_validation_wide=80 \
        --records route.jsonl                                             # the selection data, one thread
    python benchmarks/outcome_route_selection.py --family ood_mechanism=24 --seed 10 --benchmark ihdp_b=2031-2230
    python benchmarks/outcome_route_selection.py --from-records route.jsonl rule.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.report import OOD_SUITES, difference_summary, write_selection_report  # noqa: E402  (the harness sits beside this script)
from harness.selection import run_model_records  # noqa: E402
from outcome_blend_validation import benchmark_spec, crossfit_splits, read_records, selection_draws  # noqa: E402

#: Routing thresholds (|plug-in effect| in outcome SDs above which the wide network is used) the records price.
THRESHOLDS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
#: The shipped rule (``CInAConfig.outcome_wide_effect_threshold`` of cina-zs-base v0.3).
SHIPPED = "threshold_1.25"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=80, help="datasets per family without =SIZE (default 80)")
    parser.add_argument("--family", nargs="*", default=["outcome_validation=135", "outcome_validation_wide=80"],
                        metavar="NAME[=SIZE]", help="synthetic families (default: the two validation families)")
    parser.add_argument("--benchmark", nargs="*", default=[], metavar="NAME=FIRST-LAST", type=benchmark_spec,
                        help="replications of a replicated real-data suite, e.g. ihdp_b=2031-2230")
    parser.add_argument("--from-records", nargs="+", type=Path, default=None, metavar="JSONL",
                        help="rebuild the report from these records instead of running")
    parser.add_argument("--seed", type=int, default=0, help="family stream seed (the benchmark suites use 0)")
    parser.add_argument("--model", default=None, help="checkpoint folder (default: the bundled cina-zs-base)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "outcome_route.md")
    parser.add_argument("--records", type=Path, default=None, help="append one JSON line per dataset here")
    return parser.parse_args(argv)


def heldout_errors(model: Any, x: np.ndarray, t: np.ndarray, y: np.ndarray, folds: int = 2, seed: int = 0,
                   min_arm: int = 5) -> dict[str, float]:
    """Mean squared error (in outcome variances) of each outcome model's predictions of held-out factual outcomes:
    every fold predicted from a context of the other folds. ``nan`` when a fold's context has fewer than
    ``min_arm`` units of an arm."""
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    squared = {"mse_kernel": 0.0, "mse_first": 0.0, "mse_wide": 0.0}
    splits = crossfit_splits(t, folds, seed, min_arm)
    if splits is None:
        return dict.fromkeys(squared, float("nan"))
    for held, context in splits:
        treated = t[held] == 1
        for key, wide in (("mse_first", False), ("mse_wide", True)):
            po = predict_potential_outcomes(model, x[context], t[context], y[context], x_new=x[held], wide_network=wide)
            squared[key] += float(np.sum((np.where(treated, po.mu1, po.mu0) - y[held]) ** 2))
        kernel = np.where(treated, po.kernel_mu1, po.kernel_mu0)
        squared["mse_kernel"] += float(np.sum((kernel - y[held]) ** 2))
    variance = float(np.var(y)) or 1.0
    return {key: value / (len(y) * variance) for key, value in squared.items()}


def dataset_record(model: Any, x: np.ndarray, t: np.ndarray, y: np.ndarray, ate: float) -> dict[str, float]:
    """One dataset's routing statistic, the default ATE's error (|error| / SD(Y)) with each outcome model, and
    the held-out errors of :func:`heldout_errors`."""
    from hf_causal.cina.estimator import augmentation_surfaces
    from hf_causal.cina.outcome import augmented_effect
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    base = model.estimate(x, t, y, estimand="ate", outcome_model="kernel")
    scale = float(np.std(y)) or 1.0
    first = predict_potential_outcomes(model, x, t, y, wide_network=False)
    wide = predict_potential_outcomes(model, x, t, y, wide_network=True)
    row = {"effect_in_sd": first.kernel_effect_in_sd, "n": int(len(y)), "d": int(x.shape[1]),
           "kernel": abs(base.value - ate) / scale}
    for name, po in (("first", first), ("wide", wide)):
        m1, m0 = augmentation_surfaces(po)
        row[name] = abs(augmented_effect(base.weights, t, y, m1, m0, "ate") - ate) / scale
    return {**row, **heldout_errors(model, x, t, y)}


def rule_errors(rows: list[dict]) -> dict[str, np.ndarray]:
    """``{rule: per-dataset error}`` for the kernel model, each network everywhere, each threshold and ``heldout``."""
    effect = np.abs([row["effect_in_sd"] for row in rows])
    first, wide = (np.asarray([row[k] for row in rows], float) for k in ("first", "wide"))
    out = {"kernel": np.asarray([row["kernel"] for row in rows], float), "first": first}
    for threshold in THRESHOLDS:
        out[f"threshold_{threshold:g}"] = np.where(effect > threshold, wide, first)
    mse_first, mse_wide = (np.asarray([row[k] for row in rows], float) for k in ("mse_first", "mse_wide"))
    # a dataset too small to cross-fit keeps the shipped rule
    shipped = out[SHIPPED]
    out["heldout"] = np.where(np.isnan(mse_first) | np.isnan(mse_wide), shipped,
                              np.where(mse_wide < mse_first, wide, first))
    return out


def selection_scores(rows: list[dict]) -> tuple[list[str], dict[str, float]]:
    """The selection score of every rule: the mean, over groups, of the group's mean error, where a group is a
    synthetic family, except that the held-out OOD families form one group together (replicated real-data suites
    are left out: they are never used to choose). Returns the groups and ``{rule: score}``."""
    from hf_causal.data.benchmarks import list_benchmarks

    errors = rule_errors(rows)
    family = np.asarray([row["family"] for row in rows])
    group = np.where(np.isin(family, OOD_SUITES), "OOD families", family)
    names = [name for name in dict.fromkeys(group) if name not in list_benchmarks()]
    scores = {rule: float(np.mean([column[group == name].mean() for name in names])) for rule, column in errors.items()}
    return names, scores


def score_lines(rows: list[dict]) -> list[str]:
    """The selection score per rule (:func:`selection_scores`), lowest first; nothing for records of fewer than two
    groups (a rule's test data, not a selection)."""
    names, scores = selection_scores(rows)
    if len(names) < 2:
        return []
    lines = ["", "## Selection score", "", f"Mean over {len(names)} groups ({', '.join(names)}) of each group's mean "
             "error; lowest first.", "", "| rule | score |", "|---|---|"]
    lines += [f"| {rule} | {score:.4f} |" for rule, score in sorted(scores.items(), key=lambda item: item[1])]
    return lines


def family_lines(rows: list[dict]) -> list[str]:
    """Per family (and pooled over the synthetic ones): each rule's mean error, and its paired difference to the
    shipped rule and to the kernel model alone."""
    from hf_causal.data.benchmarks import list_benchmarks

    errors = rule_errors(rows)
    family = np.asarray([row["family"] for row in rows])
    effect = np.abs([row["effect_in_sd"] for row in rows])
    synthetic = ~np.isin(family, list_benchmarks())
    groups = [(f"`{name}`", family == name) for name in dict.fromkeys(family)]
    if len(set(family[synthetic])) > 1:
        groups.append(("all synthetic families, pooled", synthetic))
    lines = []
    for label, mask in groups:
        routed = {t: int((effect[mask] > t).sum()) for t in THRESHOLDS}
        lines += ["", f"### {label}: {int(mask.sum())} datasets", "",
                  "Datasets above each threshold (sent to the wide network): "
                  + ", ".join(f"{t:g}: {routed[t]}" for t in THRESHOLDS) + ".", "",
                  f"| rule | mean error | − {SHIPPED} ± SE (/SE) | − kernel ± SE (/SE) |", "|---|---|---|---|"]
        for name, column in errors.items():
            cells = []
            for reference in (SHIPPED, "kernel"):
                mean, se, _, _ = difference_summary(column[mask] - errors[reference][mask])
                cells.append("–" if name == reference else f"{mean:+.4f} ± {se:.4f} ({mean / se:+.1f})" if se > 0
                             else f"{mean:+.4f}")
            lines.append(f"| {name} | {column[mask].mean():.4f} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the records (or read them) and write the report."""
    args = parse_args(argv)
    if args.from_records:
        rows, seconds = read_records(args.from_records), float("nan")
    else:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        from hf_causal import CInAModel

        torch.set_num_threads(1)
        model = CInAModel.from_pretrained(args.model or "cina-zs-base")
        if getattr(model, "outcome_network_wide", None) is None:
            raise ValueError("the model has one outcome network: there is nothing to route")
        started = time.time()
        plan, draws = selection_draws(args)
        rows = run_model_records(model, draws, sum(size for _, size in plan), args.seed, dataset_record, args.records)
        seconds = time.time() - started
    if not rows:
        raise ValueError("no datasets: the records are empty")
    lines = ["# Routing datasets to the wide-prior outcome network (model selection)", "",
             "Error = |ATE estimate − true ATE| / SD(Y) of the default estimator (kernel model plus 0.75 of the "
             "chosen network's correction, the same CInA weights for every rule). Negative differences: the rule "
             "is closer. `first` / `threshold_0`: one network everywhere; `heldout`: the network with the lower "
             "cross-fitted error on held-out factual outcomes. Rules and the choice: `outcome_finetune.md`.",
             *score_lines(rows), *family_lines(rows), ""]
    print("\n".join(lines))
    write_selection_report(args.output, lines, "benchmarks/outcome_route_selection.py", seconds, sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
