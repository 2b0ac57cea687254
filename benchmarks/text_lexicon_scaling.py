"""How many texts the scored-text adjustment needs: the lexicon confounder at growing corpus sizes.

``text_identifiable.md`` fixes 1,500 texts per corpus, and there no row removes 90% of the naive bias when the
confounder is the sentiment-lexicon rule (C = 1 if a text's positive lexicon words outnumber its negative ones,
:mod:`hf_causal.data.text_confounders`). Is that a limit of the methods or of the sample? A word can only be
learned from the texts that contain it, and most lexicon words are rare. This script answers with the same
simulation (P(T=1 | C) = 0.27 / 0.07, beta1 = 25, true ATT 0.25) on the same corpora, subsampled as the benchmark
subsamples them (seed 0; ``all`` is the whole corpus), and these rows:

  oracle_aipw             cross-fitted ATT-AIPW with the true C as the only covariate (``text_identifiable.md``'s)
  oracle_cina_zs          zero-shot CInA with the true C as the only covariate
  frequent_words_ceiling  cross-fitted ATT-AIPW on C recomputed from the lexicon words seen in at least
                          ``--min-texts`` of the corpus's texts: what a learner that found exactly the lexicon words
                          among the frequent ones would reach (the rarer words are left out)
  cina_zs_scores          zero-shot CInA on the text's cross-fitted scores (``text_features="scores"``)
  scores_aipw             the ATT-AIPW score with the same scores' nuisances (without CInA's weights)

For each it reports the share of the naive bias removed, 1 - |ATT_hat - ATT| / |naive - ATT|, mean and sd over
seeds, and the seconds the scores took. At 1,500 texts and seeds 0-2 the scored rows are the benchmark's own
datasets, so they reproduce ``text_identifiable.md``'s ``cina_zs_scores`` and ``scores_aipw`` at beta1 = 25.

    python benchmarks/text_lexicon_scaling.py                   # both corpora, 1,500 / 3,000 / all texts, seeds 0-2
    python benchmarks/text_lexicon_scaling.py --corpus fine_foods --sizes 1500 all --seeds 1
    python benchmarks/text_lexicon_scaling.py --from-records old.csv new.csv   # rebuild the report only
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the harness, when run from the repository root
#: The repository root: default paths do not depend on the working directory.
ROOT = Path(__file__).resolve().parent.parent

from harness.text_methods import (  # noqa: E402
    att_aipw,
    benchmark_texts,
    bias_removed,
    cina_att,
    linear_aipw_att,
    naive_att,
)

from hf_causal.data.text_benchmark import TEXT_CORPORA, load_text_corpus, simulate_text_confounding  # noqa: E402
from hf_causal.data.text_confounders import (  # noqa: E402
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    text_words,
)

METHODS = ("oracle_aipw", "oracle_cina_zs", "frequent_words_ceiling", "cina_zs_scores", "scores_aipw")
RECORD_COLUMNS = ["corpus", "n_texts", "seed", "method", "att", "truth", "naive", "bias_removed", "seconds",
                  "lexicon_coverage"]
_POSITIVE, _NEGATIVE = frozenset(POSITIVE_WORDS), frozenset(NEGATIVE_WORDS)


def document_frequency(texts: Sequence[str]) -> Counter:
    """How many of ``texts`` contain each word (:func:`text_words`: runs of letters, lower-cased)."""
    return Counter(w for text in texts for w in set(text_words(text)))


def frequent_lexicon_confounder(texts: Sequence[str], min_texts: int) -> np.ndarray:
    """The lexicon rule's C computed from only the lexicon words seen in at least ``min_texts`` of ``texts``
    (``min_texts=1`` gives the rule itself)."""
    if min_texts < 1:
        raise ValueError(f"min_texts must be >= 1, got {min_texts}")
    df = document_frequency(texts)
    scores = [sum((w in _POSITIVE) - (w in _NEGATIVE) for w in text_words(t) if df[w] >= min_texts) for t in texts]
    return (np.array(scores) > 0).astype(np.int64)


def lexicon_coverage(texts: Sequence[str], min_texts: int) -> float:
    """Share of the lexicon-word occurrences in ``texts`` whose word is seen in at least ``min_texts`` texts."""
    df = document_frequency(texts)
    lexicon = [w for t in texts for w in text_words(t) if w in _POSITIVE or w in _NEGATIVE]
    return float(np.mean([df[w] >= min_texts for w in lexicon])) if lexicon else float("nan")


def dataset_rows(model: Any, sub: pd.DataFrame, seed: int, beta1: float, min_texts: int) -> list[dict[str, Any]]:
    """Every row of :data:`METHODS` on one simulated dataset of the texts in ``sub``."""
    from hf_causal.cina.text_scores import text_scores

    texts = sub["text"].tolist()
    data = simulate_text_confounding(sub, beta1=beta1, seed=seed)
    t, y, c = data.T, data.Y, data.frame["confounder"].to_numpy()
    frequent = frequent_lexicon_confounder(texts, min_texts)[:, None].astype(np.float64)
    start = time.perf_counter()
    scores = text_scores(texts, t, y, seed=seed)
    seconds = time.perf_counter() - start
    propensity = 1.0 / (1.0 + np.exp(-scores.logit_t))
    atts = {"oracle_aipw": linear_aipw_att(c[:, None].astype(np.float64), t, y, seed),
            "oracle_cina_zs": cina_att(model, c[:, None].astype(np.float64), t, y, "cina-zs"),
            "frequent_words_ceiling": linear_aipw_att(frequent, t, y, seed),
            "cina_zs_scores": cina_att(model, np.column_stack([scores.logit_t, scores.mu0, scores.mu1]), t, y,
                                       "cina-zs"),
            "scores_aipw": att_aipw(t, y, propensity, scores.mu0)}
    naive, coverage = naive_att(t, y), lexicon_coverage(texts, min_texts)
    return [{"n_texts": len(texts), "seed": seed, "method": m, "att": v, "truth": data.true_att, "naive": naive,
             "bias_removed": bias_removed(v, naive, data.true_att),
             "seconds": seconds if m in ("cina_zs_scores", "scores_aipw") else np.nan,
             "lexicon_coverage": coverage} for m, v in atts.items()]


def summary_table(records: pd.DataFrame) -> str:
    """One row per (corpus, size): each method's bias removed as mean ± sd over seeds."""
    head = ["corpus", "texts", "seeds", f"lexicon words in ≥ {records.attrs.get('min_texts', 5)} texts",
            "scores time (s)", *METHODS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (corpus, n), g in records.groupby(["corpus", "n_texts"], sort=False):
        cells = [corpus, f"{n:,}", str(g["seed"].nunique()), f"{g['lexicon_coverage'].mean():.0%}",
                 f"{g['seconds'].mean():.1f}"]
        for m in METHODS:
            v = g.loc[g["method"] == m, "bias_removed"]
            cells.append(f"{v.mean():.0%} ± {v.std(ddof=1):.0%}" if len(v) > 1 else f"{v.mean():.0%}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(records: pd.DataFrame, path: Path, command: str, min_texts: int, beta1: float) -> None:
    """The markdown report: setup, machine, command and :func:`summary_table`."""
    records.attrs["min_texts"] = min_texts
    import torch

    text = f"""# Scored text columns against corpus size: the lexicon confounder

Written by `benchmarks/text_lexicon_scaling.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.
Command: `{command}`.
Machine: {platform.processor() or platform.machine()}, {platform.system()}, python {platform.python_version()},
torch {torch.__version__}, one thread. beta1 = {beta1:g}; the confounder is the `lexicon` rule; texts cut to their
first 32 words; subsamples drawn once with seed 0 as in `text_identifiable.md`.

Share of the naive bias removed (1 − |ATT̂ − ATT| / |naive − ATT|), mean ± sd over seeds. `frequent_words_ceiling`
adjusts for C recomputed from the lexicon words seen in at least {min_texts} of the texts: no learner of words
from this corpus alone gets much past it. The `lexicon words` column is the share of lexicon-word occurrences
whose word is that frequent.

{summary_table(records)}
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", nargs="+", default=list(TEXT_CORPORA), choices=TEXT_CORPORA)
    p.add_argument("--sizes", nargs="+", default=["1500", "3000", "all"],
                   help="texts per corpus, each a number or 'all' (the whole corpus)")
    p.add_argument("--seeds", type=int, default=3, help="simulation seeds 0 .. seeds-1")
    p.add_argument("--beta1", type=float, default=25.0)
    p.add_argument("--min-texts", type=int, default=5, help="frequent_words_ceiling's document-frequency floor")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--records", default=str(ROOT / "outputs/text_benchmark/lexicon_scaling.csv"))
    p.add_argument("--output", default=str(ROOT / "benchmarks/results/text_lexicon_scaling.md"))
    p.add_argument("--from-records", nargs="+", default=None, metavar="CSV",
                   help="run nothing; write the report from these records (a later file's row replaces an earlier "
                        "file's row of the same corpus, size, seed and method)")
    args = p.parse_args(argv)
    for size in args.sizes:
        if size != "all" and not (size.isdigit() and int(size) > 0):
            raise SystemExit(f"--sizes: {size!r} is neither a positive number nor 'all'")
    return args


def merged_records(paths: Sequence[str]) -> pd.DataFrame:
    """Saved records, later files replacing earlier files' rows of the same corpus, size, seed and method."""
    frames = [pd.read_csv(path) for path in paths]
    for path, frame in zip(paths, frames):
        missing = set(RECORD_COLUMNS) - set(frame.columns)
        if missing:
            raise ValueError(f"{path} is not a records file of this script: no column(s) {sorted(missing)}")
    records = pd.concat(frames, ignore_index=True)[RECORD_COLUMNS]
    records = records.drop_duplicates(["corpus", "n_texts", "seed", "method"], keep="last")
    order = {c: i for i, c in enumerate(dict.fromkeys(records["corpus"]))}
    return records.sort_values(["corpus", "n_texts", "seed"], key=lambda col: col.map(order) if col.name == "corpus"
                               else col, kind="stable").reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = "python benchmarks/text_lexicon_scaling.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.from_records:
        write_report(merged_records(args.from_records), Path(args.output), command.strip(), args.min_texts, args.beta1)
        print(f"wrote {args.output}")
        return
    import torch

    from hf_causal.cina import CInAModel

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)  # one-covariate oracles can trip the overlap warning
    warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn's notices about its defaults
    model = CInAModel.from_pretrained("cina-zs-base")
    rows: list[dict[str, Any]] = []
    for corpus in args.corpus:
        frame = load_text_corpus(corpus)
        for size in args.sizes:
            sub = benchmark_texts(frame, None if size == "all" else int(size), corpus, "lexicon")
            for seed in range(args.seeds):
                new = [{"corpus": corpus, **r} for r in dataset_rows(model, sub, seed, args.beta1, args.min_texts)]
                rows += new
                print(f"{corpus} n={len(sub)} seed={seed} "
                      + " ".join(f"{r['method']}={r['bias_removed']:.2f}" for r in new), flush=True)
    records = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    Path(args.records).parent.mkdir(parents=True, exist_ok=True)
    records.to_csv(args.records, index=False)
    write_report(records, Path(args.output), command.strip(), args.min_texts, args.beta1)
    print(f"wrote {args.output} and {args.records}")


if __name__ == "__main__":
    main()
