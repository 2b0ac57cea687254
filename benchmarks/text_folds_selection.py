"""Choose how the scored text is cross-fitted and learned: ``text_scores``'s ``n_folds`` and ``outcome_learner``
(docs/design.md §4.10).

Model selection on the identifiable text benchmark's simulation with **selection seeds** (10 and up; the report,
``text_identifiable.md``, uses seeds 0-2, so it tests what this chooses): 1,500 texts per corpus subsampled as the
benchmark subsamples them, beta1 = 25. For each draw the text's scores are cross-fitted with each candidate fold
count, and two ATTs read them: zero-shot CInA on the three scores (``cina_zs_scores``) and the ATT-AIPW formula
(``scores_aipw``). Why folds can matter: a word is learned only from the training folds' texts that contain it, so
more folds (each fitted on a larger share of the texts) see more of the rare confounding words. Why the learner can
matter: a linear fit smears a confounder that moves the outcome in one step, a latent-class model fits the step.
Candidates are every ``--folds`` × ``--learners`` pair; the first is the baseline.

Writes ``benchmarks/results/text_folds_selection.md`` (or ``--output``): per rule and corpus, each candidate's
mean share of the naive bias removed, the paired difference to the first candidate with its standard error, the
correlation of the control-outcome score with C, and seconds per cross-fit; ``--records`` writes one CSV row per
(draw, candidate).

    python benchmarks/text_folds_selection.py                              # lexicon seeds 10-17, topic 10-13
    python benchmarks/text_folds_selection.py --rules lexicon --seeds 10 11 --folds 5 10 20
    python benchmarks/text_folds_selection.py --folds 10 --learners lasso auto --output benchmarks/results/text_learner_selection.md
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the harness, when run from the repository root

from harness.report import write_selection_report  # noqa: E402
from harness.text_methods import att_aipw, benchmark_texts, bias_removed, cina_att, naive_att  # noqa: E402

from hf_causal.cina.text_scores import OUTCOME_LEARNERS  # noqa: E402
from hf_causal.data.text_benchmark import TEXT_CORPORA, load_text_corpus, simulate_text_confounding  # noqa: E402
from hf_causal.data.text_confounders import IDENTIFIABLE_RULES  # noqa: E402

#: rule -> the selection seeds run by default
DEFAULT_SEEDS = {"lexicon": list(range(10, 18)), "topic": list(range(10, 14))}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", nargs="+", default=list(DEFAULT_SEEDS), choices=IDENTIFIABLE_RULES)
    parser.add_argument("--corpus", nargs="+", default=list(TEXT_CORPORA), choices=TEXT_CORPORA)
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="simulation seeds (default: lexicon 10-17, topic 10-13; keep them off the report's 0-2)")
    parser.add_argument("--folds", nargs="+", type=int, default=[5, 10], help="fold counts to try")
    parser.add_argument("--learners", nargs="+", default=["lasso"], choices=OUTCOME_LEARNERS,
                        help="outcome learners to try (text_scores's outcome_learner)")
    parser.add_argument("--n", type=int, default=1500, help="texts subsampled once (seed 0) from each corpus")
    parser.add_argument("--beta1", type=float, default=25.0)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "text_folds_selection.md")
    parser.add_argument("--records", type=Path, default=None)
    args = parser.parse_args(argv)
    if any(k < 2 for k in args.folds):
        parser.error("every --folds candidate must be >= 2")
    return args


def candidates(folds: list[int], learners: list[str]) -> list[tuple[int, str]]:
    """Every (fold count, outcome learner) pair, fold counts outer; the first is the baseline."""
    return [(k, learner) for k in folds for learner in learners]


def candidate_label(folds: int, learner: str, learners: list[str]) -> str:
    """``"10 folds"``, or ``"10 folds, auto"`` when more than one learner is tried."""
    return f"{folds} folds" + (f", {learner}" if len(learners) > 1 else "")


def draw_rows(model: Any, sub: pd.DataFrame, seed: int, beta1: float, folds: list[int],
              learners: list[str] | None = None) -> list[dict[str, Any]]:
    """One simulated draw on ``sub``'s texts: each candidate's two ATTs, score quality and time."""
    from hf_causal.cina.text_scores import text_scores

    texts = sub["text"].tolist()
    data = simulate_text_confounding(sub, beta1=beta1, seed=seed)
    t, y, c = data.T, data.Y, data.frame["confounder"].to_numpy()
    naive = naive_att(t, y)
    rows = []
    learners = learners or ["lasso"]
    for k, learner in candidates(folds, learners):
        start = time.perf_counter()
        scores = text_scores(texts, t, y, n_folds=k, seed=seed, outcome_learner=learner)
        seconds = time.perf_counter() - start
        covariates = np.column_stack([scores.logit_t, scores.mu0, scores.mu1])
        propensity = 1.0 / (1.0 + np.exp(-scores.logit_t))
        rows.append({"seed": seed, "folds": k, "learner": learner, "candidate": candidate_label(k, learner, learners),
                     "seconds": seconds,
                     "mu0_corr_c": float(np.corrcoef(scores.mu0, c)[0, 1]),
                     "cina_zs_scores": bias_removed(cina_att(model, covariates, t, y, "cina-zs"), naive, data.true_att),
                     "scores_aipw": bias_removed(att_aipw(t, y, propensity, scores.mu0), naive, data.true_att)})
    return rows


def summary_lines(records: pd.DataFrame, labels: list[str]) -> list[str]:
    """Per (rule, corpus) and pooled per rule: each candidate's mean share, paired Δ to the baseline (the first
    label), corr, time. ``labels`` are the records' ``candidate`` values, in column order."""
    head = ["rule", "corpus", "draws", *labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups = [((r, c), g) for (r, c), g in records.groupby(["rule", "corpus"], sort=False)]
    groups += [((r, "pooled"), g) for r, g in records.groupby("rule", sort=False)]
    for (rule, corpus), g in groups:
        wide = g.pivot_table(index=["corpus", "seed"], columns="candidate",
                             values=["cina_zs_scores", "mu0_corr_c", "seconds"])
        base = wide["cina_zs_scores"][labels[0]]
        cells = []
        for k in labels:
            share = wide["cina_zs_scores"][k]
            cell = f"{share.mean():.1%}"
            if k != labels[0]:
                diff = 100 * (share - base)
                se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
                cell += f", Δ {diff.mean():+.1f} ± {se:.1f} pts ({int((diff > 0).sum())}↑ {int((diff < 0).sum())}↓)"
            cell += f", corr {wide['mu0_corr_c'][k].mean():.3f}, {wide['seconds'][k].mean():.1f} s"
            cells.append(cell)
        lines.append(f"| {rule} | {corpus} | {len(wide)} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the selection and write the report."""
    args = parse_args(argv)
    import torch

    from hf_causal.cina import CInAModel

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    model = CInAModel.from_pretrained("cina-zs-base")
    started, rows = time.time(), []
    for rule in args.rules:
        for corpus in args.corpus:
            sub = benchmark_texts(load_text_corpus(corpus), args.n, corpus, rule)
            for seed in args.seeds or DEFAULT_SEEDS[rule]:
                new = [{"rule": rule, "corpus": corpus, **r} for r in draw_rows(model, sub, seed, args.beta1, args.folds,
                                                                                args.learners)]
                rows += new
                print(f"{rule} {corpus} seed={seed} " + " ".join(
                    f"{r['candidate']}={r['cina_zs_scores']:.2f}" for r in new), flush=True)
    records = pd.DataFrame(rows)
    if args.records:
        args.records.parent.mkdir(parents=True, exist_ok=True)
        records.to_csv(args.records, index=False)
    lines = [
        "# " + ("How many cross-fitting folds the scored text uses" if len(args.learners) == 1
                else "How the scored text is cross-fitted and learned") + " (model selection)",
        "",
        f"Identifiable text benchmark simulation, {args.n:,} texts per corpus, beta1 = {args.beta1:g}, selection seeds "
        "(the report, `text_identifiable.md`, uses seeds 0-2: this chooses, it tests). Cells: zero-shot CInA's mean "
        "share of the naive bias removed on the scores; paired Δ vs the first candidate ± SE in points (draws better "
        "↑ / worse ↓); the control-outcome score's correlation with C; seconds per cross-fit of the scores.",
        "",
        *summary_lines(records, [candidate_label(k, lr, args.learners) for k, lr in candidates(args.folds, args.learners)]),
        "",
    ]
    write_selection_report(args.output, lines, "benchmarks/text_folds_selection.py", time.time() - started,
                           sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
