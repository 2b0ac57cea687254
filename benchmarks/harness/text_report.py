"""Records, tables and the JSON summary of the text benchmark (``benchmarks/text_benchmark.py``).

A record is one row on one dataset: (corpus, confounder, treatment, beta1, seed, method) with its ATT estimate,
the truth, the dataset's naive contrast, the relative error, the share of the naive bias removed and the wall
time. Tables give mean ± sd over seeds; the JSON summary is
``{corpus: {beta1: {method: {"bias_removed": mean, "sd": sd, "seeds": k}}}}`` with beta1 as a string.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .report import write_keeping_notes

RECORD_COLUMNS = ["corpus", "confounder", "treatment", "beta1", "seed", "method", "att", "truth", "naive", "rel_err",
                  "bias_removed", "seconds", "m0_separation"]
RULES = {
    "topic": "C = 1 if the text mentions the corpus's named topic (Rotten Tomatoes: film, films, movie, movies; "
             "fine foods: coffee(s), tea(s), espresso); identifiable",
    "lexicon": "C = 1 if the text's sentiment-lexicon score (positive minus negative lexicon words) is positive; "
               "identifiable",
    "label": "C = the review's label (fresh / great), which the text only partly reveals; NOT identifiable from "
             "the text (the hard case)",
}


def load_records(paths: Sequence[Path]) -> pd.DataFrame:
    """Every record of the CSVs at ``paths``; a (corpus, confounder, treatment, beta1, seed, method) seen twice
    keeps its last occurrence."""
    frames = [pd.read_csv(p) for p in paths if Path(p).is_file() and Path(p).stat().st_size > 0]
    if not frames:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    for path, frame in zip(paths, frames):
        missing = set(RECORD_COLUMNS) - set(frame.columns)
        if missing:
            raise ValueError(f"{path} is not a records CSV of the text benchmark (lacks {sorted(missing)})")
    keys = ["corpus", "confounder", "treatment", "beta1", "seed", "method"]
    return pd.concat(frames, ignore_index=True).drop_duplicates(keys, keep="last").reset_index(drop=True)


def summarise(records: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and count over seeds of the relative error, the bias removed and the seconds, per
    (confounder, treatment, corpus, beta1, method)."""
    keys = ["confounder", "treatment", "corpus", "beta1", "method"]
    g = records.groupby(keys)
    return pd.DataFrame({
        "rel_err": g["rel_err"].mean(), "rel_err_sd": g["rel_err"].std(), "removed": g["bias_removed"].mean(),
        "removed_sd": g["bias_removed"].std(), "seeds": g["seed"].nunique(), "seconds": g["seconds"].mean(),
        "att": g["att"].mean(), "m0_separation": g["m0_separation"].mean(),
    }).reset_index()


def _cell(mean: float, sd: float, k: int, pct: bool = False, show_k: bool = True) -> str:
    """``mean ± sd (k)``; a share as a percentage with ``pct``."""
    if mean is None or not np.isfinite(mean):
        return "–"
    fmt = (lambda v: f"{100 * v:.0f}%") if pct else (lambda v: f"{v:.2f}")
    spread = f" ± {fmt(sd).rstrip('%')}" if k > 1 and np.isfinite(sd) else ""
    return f"{fmt(mean)}{spread}" + (f" ({k})" if show_k else "")


def write_json(records: pd.DataFrame, confounder: str, path: str | Path, methods: Sequence[str] = ()) -> dict:
    """The bias-removed summary of one confounder rule: ``{corpus: {beta1: {method: {...}}}}`` (module docstring).

    Rows keep the order of ``methods`` (then any others); the naive row (0 by definition) is left out.
    """
    s = summarise(records[(records["confounder"] == confounder) & (records["treatment"] == "simulated")])
    order = {m: i for i, m in enumerate(methods)}
    s = s.assign(_order=s["method"].map(lambda m: order.get(m, len(order)))).sort_values(["corpus", "beta1", "_order"])
    out: dict = {}
    for r in s.itertuples():
        if r.method == "naive":
            continue
        sd = None if r.seeds < 2 or not math.isfinite(r.removed_sd) else round(float(r.removed_sd), 4)
        out.setdefault(r.corpus, {}).setdefault(f"{r.beta1:g}", {})[r.method] = {
            "bias_removed": round(float(r.removed), 4), "sd": sd, "seeds": int(r.seeds)}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def corpus_table(s: pd.DataFrame, betas: Sequence[float], methods: Sequence[str]) -> str:
    """One corpus: per row and beta1, relative error and bias removed (mean ± sd (seeds)), and seconds per fit."""
    head = "| row | " + " | ".join(f"β1 = {b:g}: rel. err. | removed" for b in betas) + " | s / fit |"
    lines = [head, "|---" * (2 * len(betas) + 2) + "|"]
    for m in methods:
        rows = s[s["method"] == m]
        if rows.empty:
            continue
        cells = []
        for b in betas:
            r = rows[rows["beta1"] == b]
            if r.empty:
                cells += ["–", "–"]
                continue
            r = r.iloc[0]
            cells += [_cell(r.rel_err, r.rel_err_sd, int(r.seeds)),
                      "–" if m == "naive" else _cell(r.removed, r.removed_sd, int(r.seeds), pct=True, show_k=False)]
        lines.append(f"| `{m}` | " + " | ".join(cells) + f" | {rows['seconds'].mean():.0f} |")
    return "\n".join(lines)


def headline_table(s: pd.DataFrame, beta1: float, methods: Sequence[str]) -> str:
    """beta1 fixed: per row and corpus, bias removed and relative error, and the gap to the corpus's best oracle."""
    corpora = list(dict.fromkeys(s["corpus"]))
    lines = ["| row | " + " | ".join(f"{c}: removed | rel. err. | vs best oracle" for c in corpora) + " |",
             "|---" * (3 * len(corpora) + 1) + "|"]
    at = s[s["beta1"] == beta1]
    best = {c: at[(at.corpus == c) & at.method.str.startswith("oracle_")]["removed"].max() for c in corpora}
    for m in methods:
        rows = at[at["method"] == m]
        if rows.empty:
            continue
        cells = []
        for c in corpora:
            r = rows[rows.corpus == c]
            if r.empty:
                cells += ["–", "–", "–"]
                continue
            r = r.iloc[0]
            gap = r.removed - best[c]
            removed = _cell(r.removed, r.removed_sd, int(r.seeds), pct=True)
            cells += [f"0 ({int(r.seeds)})" if m == "naive" else removed,
                      _cell(r.rel_err, r.rel_err_sd, int(r.seeds), show_k=False),
                      "–" if not np.isfinite(gap) or m.startswith("oracle_") or m == "naive" else f"{100 * gap:+.0f} pts"]
        lines.append(f"| `{m}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(
    records: pd.DataFrame, args: argparse.Namespace, betas: Sequence[float], method_order: Sequence[str]
) -> None:
    """The markdown report at ``args.output``: the headline rule first (``args.confounder``), then every other rule
    in the records; the notes after :data:`harness.report.NOTES_MARKER` in an existing report are kept."""
    import sklearn
    import torch
    import transformers

    s = summarise(records)
    rules = [args.confounder] + sorted(set(s["confounder"]) - {args.confounder})
    out = [
        "# Text-confounding benchmark: identifiable confounders, oracle rows, bias removed",
        "",
        "Written by `python benchmarks/text_benchmark.py --report` from the per-dataset records of the runs listed "
        "in the notes. Per dataset, `rel. err.` = |ATT̂ − 0.25| / 0.25 and `removed` = 1 − |ATT̂ − ATT| / "
        "|naive − ATT|, the share of the naive contrast's bias the row removes (100% = the truth, 0 = no better than "
        "naive, negative = worse); mean ± sd over seeds, (k) = seeds. `oracle_*` rows adjust for the true C instead "
        "of the text.",
        "",
        f"- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; machine: {platform.machine()} CPU, "
        "2 cores shared with other jobs, one torch/BLAS thread per process",
        f"- Versions: python {platform.python_version()}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}",
        "- Design: C binary; P(T=1 | C) = 0.27 / 0.07 (PeerRead's rates); Y = 0.25 T + β1 (P(T=1 | C) − 0.25) + "
        f"N(0, 1); true ATT 0.25; per seed T and the noise are redrawn; {args.n:,} texts per corpus (subsampled once).",
        "",
    ]
    for rule in rules:
        sr = s[(s.confounder == rule) & (s.treatment == "simulated")]
        if sr.empty:
            continue
        methods = [m for m in method_order if m in set(sr.method)] + sorted(set(sr.method) - set(method_order))
        out += [f"## Confounder `{rule}`: {RULES.get(rule, rule)}", ""]
        if 25.0 in set(sr.beta1):
            out += ["### β1 = 25", "", headline_table(sr, 25.0, methods), ""]
        for corpus in dict.fromkeys(sr.corpus):
            out += [f"### `{corpus}`, every β1", "", corpus_table(sr[sr.corpus == corpus], betas, methods), ""]
    write_keeping_notes(args.output, "\n".join(out))
    print(f"wrote {args.output}")
