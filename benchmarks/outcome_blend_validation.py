r"""Choose how the ATE's augmentation blends the kernel outcome model with the in-context network.

Model selection, on the validation family ``outcome_validation`` or on fresh draws of other families (``--seed``
other than the benchmark suites' 0): for each dataset the zero-shot CInA weights are computed once, and the
augmented ATE is recomputed with each candidate pair of outcome surfaces. Candidates:

* ``kernel``: the kernel ridge T-learner alone (share 0);
* ``share_S``: the kernel model plus a fixed share ``S`` of the network's correction;
* ``precision``: per unit, the two models' predictions weighted by their inverse predicted variances;
* ``stacked``: a per-dataset share fitted by cross-fitting (:func:`fitted_network_share`): the share of the
  correction that best predicts held-out factual outcomes, clipped to ``[0, 1]``.

Besides the synthetic families, ``--benchmark NAME=FIRST-LAST`` adds replications of a replicated real-data suite
(``ihdp_b=1201-1400``: IHDP, response surface B, seeds 1201 to 1400, none of them the benchmark's ``1..300``).

Writes ``benchmarks/results/outcome_blend.md`` (or ``--output``): mean ATE error in outcome standard deviations,
paired differences to the kernel model with standard errors, and per family (and pooled over the synthetic ones)
the paired difference of ``stacked`` to the estimator's fixed share. With ``--records``, one JSON line per
dataset; ``--from-records`` rebuilds the report from the records of one or several runs (say, two seeds).

    python benchmarks/outcome_blend_validation.py                      # 135 datasets, one thread, minutes
    python benchmarks/outcome_blend_validation.py --datasets 20 --output /tmp/blend.md
    python benchmarks/outcome_blend_validation.py --family ood_mechanism=24 ood_large_n=8 --seed 1 \
        --output benchmarks/results/outcome_blend_ood_seed1.md       # a fresh draw of the OOD families
    python benchmarks/outcome_blend_validation.py --family --benchmark ihdp_b=1201-1400 --records b.jsonl
    python benchmarks/outcome_blend_validation.py --from-records a.jsonl b.jsonl      # one report from both runs
    python benchmarks/outcome_blend_validation.py --from-records new.jsonl --against old.jsonl   # two checkpoints
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from harness.report import difference_summary, write_selection_report  # noqa: E402  (the harness sits beside this script)
from harness.selection import family_plan  # noqa: E402

SHARES = (0.25, 0.5, 0.75, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=135, help="datasets per family (default 135)")
    parser.add_argument("--family", nargs="*", default=["outcome_validation"], metavar="NAME[=SIZE]",
                        help="families to draw from, optionally with their own dataset count (none: only "
                             "--benchmark)")
    parser.add_argument("--benchmark", nargs="*", default=[], metavar="NAME=FIRST-LAST", type=benchmark_spec,
                        help="replications FIRST..LAST (inclusive) of a replicated benchmark, e.g. ihdp_b=1201-1400")
    parser.add_argument("--from-records", nargs="+", type=Path, default=None, metavar="JSONL",
                        help="rebuild the report from these records instead of running")
    parser.add_argument("--against", nargs="+", type=Path, default=None, metavar="JSONL",
                        help="with --from-records: records of the same datasets under another checkpoint; adds "
                             "the paired difference (these records - those) of every candidate, per family")
    parser.add_argument("--seed", type=int, default=0, help="family stream seed (the benchmark suites use 0)")
    parser.add_argument("--model", default=None, help="checkpoint folder (default: the bundled cina-zs-base)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "outcome_blend.md")
    parser.add_argument("--records", type=Path, default=None, help="append one JSON line per dataset here")
    args = parser.parse_args(argv)
    if not args.family and not args.benchmark and not args.from_records:
        parser.error("nothing to run: give --family, --benchmark or --from-records")
    if args.against and not args.from_records:
        parser.error("--against compares saved records: give --from-records too")
    return args


#: Benchmarks with a known ATE per replication (a simulated surface), which ``--benchmark`` can draw from
REPLICATED_BENCHMARKS = ("ihdp_a", "ihdp_b", "acic2016")


def benchmark_spec(spec: str) -> tuple[str, range]:
    """``"ihdp_b=1201-1400"`` -> ``("ihdp_b", range(1201, 1401))``, with a clear error for anything else."""
    name, _, span = spec.partition("=")
    first, _, last = span.partition("-")
    if not (first.isdigit() and last.isdigit()) or int(last) < int(first):
        raise argparse.ArgumentTypeError(f"expected NAME=FIRST-LAST with FIRST <= LAST, e.g. ihdp_b=1201-1400; "
                                         f"got {spec!r}")
    if name not in REPLICATED_BENCHMARKS:
        raise argparse.ArgumentTypeError(f"{name!r} is not a benchmark with a known ATE per replication; one of "
                                         f"{', '.join(REPLICATED_BENCHMARKS)}")
    return name, range(int(first), int(last) + 1)


#: ``(family, index, X, T, Y, true ATE)``: one selection dataset
Draw = tuple[str, int, np.ndarray, np.ndarray, np.ndarray, float]


def selection_draws(args: argparse.Namespace) -> tuple[list[tuple[str, int]], Any]:
    """The plan (``[(family, count)]``) and a lazy stream of :data:`Draw` over the families, then the benchmarks."""
    from hf_causal.data.benchmarks import load_benchmark_frame
    from hf_causal.data.families import sample_family

    plan = family_plan(args.family, args.datasets)

    def stream():
        for name, size in plan:
            for ds in sample_family(name, size, seed=args.seed):
                yield (ds.params["family"], int(ds.params["index"]), np.asarray(ds.X, float),
                       np.asarray(ds.T, np.int64), np.asarray(ds.Y, float), float(ds.ate))
        for name, replications in args.benchmark:
            for rep in replications:
                data = load_benchmark_frame(name, rep)
                frame = data.frame
                yield (name, rep, frame[data.covariates].to_numpy(float), frame[data.treatment].to_numpy(np.int64),
                       frame[data.outcome].to_numpy(float), float(data.true_ate))

    return plan + [(name, len(reps)) for name, reps in args.benchmark], stream()


def candidate_surfaces(po, stacked_share: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (mu1, mu0)}`` for every candidate blend (module docstring)."""
    from hf_causal.cina.estimator import augmentation_surfaces

    out = {"kernel": (po.kernel_mu1, po.kernel_mu0)}
    for share in SHARES:
        out[f"share_{share:g}"] = augmentation_surfaces(po, share)
    out["stacked"] = augmentation_surfaces(po, stacked_share)
    return out


def crossfit_splits(t: np.ndarray, folds: int, seed: int, min_arm: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """``[(held, context)]`` boolean masks of arm-stratified folds (every context has both arms), or ``None`` when a
    context has fewer than ``min_arm`` units of an arm."""
    from hf_causal.cina.cate import arm_stratified_folds

    fold = arm_stratified_folds(t, folds, seed)
    splits = [(fold == k, fold != k) for k in range(folds)]
    if any(min(int((t[c] == 1).sum()), int((t[c] == 0).sum())) < min_arm for _, c in splits):
        return None
    return splits


def fitted_network_share(model: Any, x: np.ndarray, treatment: np.ndarray, outcome: np.ndarray, folds: int = 2,
                         seed: int = 0, min_arm: int = 5, moments: int = 2,
                         max_units: int = 20_000) -> float:
    """The ``stacked`` candidate: the share of the network's correction to the kernel model that best predicts
    held-out outcomes, the per-dataset alternative to the estimator's fixed ``OUTCOME_NETWORK_SHARE`` (it lost to
    the fixed share on a fresh draw of the OOD families: its half-context fit is noisy).

    Cross-fitted: each fold's units are predicted from a context of the other folds (both models), and the
    least-squares coefficient of the factual residual ``Y - m_kernel`` on the correction ``m_network - m_kernel``
    over all held-out units is the share, clipped to ``[0, 1]``. Falls back to :data:`OUTCOME_NETWORK_SHARE`
    when a fold's context has fewer than ``min_arm`` units of an arm. A dataset of more than ``max_units`` units
    is fitted on a seeded random subsample of that many (one number needs no more, and the two extra passes
    would otherwise cost more than the estimate).
    """
    from hf_causal.cina import potential_outcomes
    from hf_causal.cina.estimator import OUTCOME_NETWORK_SHARE

    rng = np.random.default_rng(seed)
    if len(treatment) > max_units:
        keep = np.sort(rng.choice(len(treatment), size=max_units, replace=False))
        x, treatment, outcome = x[keep], np.asarray(treatment)[keep], np.asarray(outcome)[keep]
    t = np.asarray(treatment).astype(np.int64)
    splits = crossfit_splits(t, folds, seed, min_arm)
    if splits is None:
        return OUTCOME_NETWORK_SHARE
    numerator = denominator = 0.0
    for held, context in splits:
        po = potential_outcomes.predict_potential_outcomes(model, x[context], t[context], outcome[context], x_new=x[held],
                                        moments=moments)
        treated = t[held] == 1
        network = np.where(treated, po.mu1, po.mu0)
        kernel = np.where(treated, po.kernel_mu1, po.kernel_mu0)
        correction = network - kernel
        numerator += float(correction @ (outcome[held] - kernel))
        denominator += float(correction @ correction)
    if denominator <= 0.0:
        return 0.0
    return float(np.clip(numerator / denominator, 0.0, 1.0))


def main(argv: list[str] | None = None) -> int:
    """Run the selection (or rebuild it from records) and write the report."""
    args = parse_args(argv)
    if args.from_records:
        rows = read_records(args.from_records)
        against = read_records(args.against) if args.against else None
        write_report(args, rows, seconds=float("nan"), against=against)
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from tqdm import tqdm

    from hf_causal import CInAModel

    model = CInAModel.from_pretrained(args.model or "cina-zs-base")
    started = time.time()
    plan, draws = selection_draws(args)
    rows = []
    for family, index, x, t, y, ate in tqdm(draws, total=sum(size for _, size in plan), desc="datasets"):
        row = {"family": family, "dataset": index, "seed": args.seed, **candidate_errors(model, x, t, y, ate)}
        rows.append(row)
        if args.records:
            with args.records.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    write_report(args, rows, time.time() - started)
    return 0


def candidate_errors(model: Any, x: np.ndarray, t: np.ndarray, y: np.ndarray, ate: float) -> dict[str, float]:
    """Every candidate's |ATE error| / SD(Y) on one dataset (one set of weights), the fitted ``stacked_share``, and
    the interval's z-scores (``z``: the stacked estimate's error over its standard error; ``z_wide``: with the
    kernel-network gap added to the variance)."""
    from hf_causal.cina.outcome import augmented_effect
    from hf_causal.cina.potential_outcomes import predict_potential_outcomes

    base = model.estimate(x, t, y, estimand="ate", outcome_model="kernel")
    po = predict_potential_outcomes(model, x, t, y)
    share = fitted_network_share(model, x, t, y)
    scale = float(np.std(y)) or 1.0
    row: dict[str, float] = {"stacked_share": share, "se": base.std_error / scale}
    values = {}
    for name, (m1, m0) in candidate_surfaces(po, share).items():
        values[name] = augmented_effect(base.weights, t, y, m1, m0, "ate")
        row[name] = abs(values[name] - ate) / scale
    # the interval's z-score, and with the two outcome models' disagreement added to its variance
    gap = abs(values["share_1"] - values["kernel"]) / scale
    row["z"], row["z_wide"] = row["stacked"] / row["se"], row["stacked"] / np.hypot(row["se"], gap)
    inv_net = 1.0 / np.maximum(po.sd1, 1e-9) ** 2, 1.0 / np.maximum(po.sd0, 1e-9) ** 2
    # the kernel model's spreads are those of its predictive distribution, in the same units
    kernel_sd = predict_potential_outcomes(model, x, t, y, use_network=False)
    inv_k = 1.0 / np.maximum(kernel_sd.sd1, 1e-9) ** 2, 1.0 / np.maximum(kernel_sd.sd0, 1e-9) ** 2
    m1 = (inv_net[0] * po.mu1 + inv_k[0] * po.kernel_mu1) / (inv_net[0] + inv_k[0])
    m0 = (inv_net[1] * po.mu0 + inv_k[1] * po.kernel_mu0) / (inv_net[1] + inv_k[1])
    row["precision"] = abs(augmented_effect(base.weights, t, y, m1, m0, "ate") - ate) / scale
    return row


def read_records(paths: list[Path]) -> list[dict]:
    """The JSON lines of ``paths``, in order."""
    return [json.loads(line) for path in paths for line in path.read_text().splitlines() if line]


def checkpoint_lines(rows: list[dict], against: list[dict], names: list[str]) -> list[str]:
    """Per family (and the synthetic ones pooled), each candidate's error in ``rows`` minus its error in ``against``
    on the same dataset: two checkpoints compared on the same draws. Every dataset of ``rows`` must be in
    ``against`` (matched by family, seed and dataset index), or the comparison would not be paired."""
    from hf_causal.data.benchmarks import list_benchmarks

    def key(row: dict) -> tuple:
        return row["family"], row.get("seed", 0), row["dataset"]

    reference = {key(row): row for row in against}
    missing = [key(row) for row in rows if key(row) not in reference]
    if missing:
        raise ValueError(f"{len(missing)} datasets of the records are not in --against (first: {missing[0]}); "
                         "the comparison is paired, so both must hold the same draws")
    family = np.asarray([row["family"] for row in rows])
    synthetic = ~np.isin(family, list_benchmarks())
    groups = [(f"`{name}`", family == name) for name in dict.fromkeys(family)]
    if len(set(family[synthetic])) > 1:  # several synthetic families: their pooled line
        groups.append(("all synthetic families, pooled", synthetic))
    lines = ["", "These records against `--against` (the same datasets under the other checkpoint), per family; "
             "negative: these are closer.", "",
             "| family | datasets | " + " | ".join(f"{name}: diff ± SE (diff / SE)" for name in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for label, mask in groups:
        cells = []
        for name in names:
            mine = np.asarray([row[name] for row, m in zip(rows, mask) if m], float)
            theirs = np.asarray([reference[key(row)][name] for row, m in zip(rows, mask) if m], float)
            diff, se, ratio, _ = paired(mine, theirs)
            cells.append(f"{diff:+.4f} ± {se:.4f} ({ratio:+.1f})")
        lines.append(f"| {label} | {int(mask.sum())} | " + " | ".join(cells) + " |")
    return lines


def paired(candidate: np.ndarray, reference: np.ndarray) -> tuple[float, float, float, int]:
    """Mean of ``candidate - reference``, its standard error, the ratio, and on how many the candidate is closer."""
    mean, se, closer, _ = difference_summary(candidate - reference)
    return mean, se, float(mean / se) if se > 0 else float("nan"), closer


def write_report(args: argparse.Namespace, rows: list[dict], seconds: float, against: list[dict] | None = None) -> None:
    """The markdown tables: each candidate's mean error and paired difference to ``kernel``; per family, and pooled
    over the synthetic families, ``stacked`` against the estimator's fixed share; with ``against``, every candidate
    against the same datasets' records under another checkpoint (:func:`checkpoint_lines`)."""
    from hf_causal.cina.estimator import OUTCOME_NETWORK_SHARE
    from hf_causal.data.benchmarks import list_benchmarks

    if not rows:
        raise ValueError("no datasets: the records are empty")
    names = [k for k in rows[0] if k in ("kernel", "stacked", "precision") or k.startswith("share_")]
    column = {name: np.asarray([row[name] for row in rows], float) for name in names}
    families = list(dict.fromkeys(row["family"] for row in rows))
    seeds = sorted({row.get("seed", 0) for row in rows})
    source = (f"records {' '.join(str(p) for p in args.from_records)}" if args.from_records
              else f"`{' '.join(args.family + [f'{n}={r.start}-{r.stop - 1}' for n, r in args.benchmark])}`")
    lines = [
        "# Outcome-model blend for the ATE's augmentation (model selection)",
        "",
        f"{source}: {len(rows)} datasets (family seeds {', '.join(map(str, seeds))}), zero-shot CInA weights, "
        "estimand ATE;",
        "error = |ATE estimate - true ATE| / SD(Y). Paired difference = candidate - kernel (negative: the",
        "candidate is closer). Never the benchmark suites (seed 0 of the OOD families): this chooses, `ate.md` tests.",
        "",
        "| candidate | mean error | paired diff vs kernel | SE | diff / SE | closer on |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        diff, se, ratio, closer = paired(column[name], column["kernel"])
        lines.append(f"| {name} | {column[name].mean():.4f} | {diff:+.4f} | {se:.4f} | {ratio:+.1f} | "
                     f"{closer}/{len(rows)} |")
    fixed = f"share_{OUTCOME_NETWORK_SHARE:g}"
    family = np.asarray([row["family"] for row in rows])
    synthetic = ~np.isin(family, list_benchmarks())
    groups = [(f"`{name}`", family == name) for name in families]
    if len(set(family[synthetic])) > 1:  # several synthetic families: their pooled line
        groups.append(("all synthetic families, pooled", synthetic))
    lines += ["", f"`stacked` against the fixed share {OUTCOME_NETWORK_SHARE:g} (`{fixed}`), per family:", "",
              f"| family | datasets | stacked | {fixed} | stacked - {fixed} | SE | diff / SE | stacked closer on |",
              "|---|---|---|---|---|---|---|---|"]
    for label, mask in groups:
        diff, se, ratio, closer = paired(column["stacked"][mask], column[fixed][mask])
        lines.append(f"| {label} | {int(mask.sum())} | {column['stacked'][mask].mean():.4f} | "
                     f"{column[fixed][mask].mean():.4f} | {diff:+.4f} | {se:.4f} | {ratio:+.1f} | "
                     f"{closer}/{int(mask.sum())} |")
    if against is not None:
        lines += checkpoint_lines(rows, against, names)
    s = np.asarray([row["stacked_share"] for row in rows])
    z, z_wide = np.asarray([row["z"] for row in rows]), np.asarray([row["z_wide"] for row in rows])
    lines += [
        "",
        f"Stacked share per dataset: mean {s.mean():.2f}, quartiles {np.quantile(s, 0.25):.2f} / "
        f"{np.median(s):.2f} / {np.quantile(s, 0.75):.2f}; at 0: {int((s == 0).sum())}, at 1: {int((s == 1).sum())}.",
        "",
        f"95% coverage of the stacked estimate's interval (the kernel model's leave-one-out residuals): "
        f"{np.mean(z <= 1.96):.1%}; 95th percentile of |error| / SE {np.quantile(z, 0.95):.2f}. With the gap "
        f"between the kernel and network estimates added to the variance: {np.mean(z_wide <= 1.96):.1%} "
        f"(95th percentile {np.quantile(z_wide, 0.95):.2f}).",
        "",
    ]
    print("\n".join(lines))
    write_selection_report(args.output, lines, "benchmarks/outcome_blend_validation.py", seconds, sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
