"""The fold-count selection against independent truth: on a toy corpus whose confounder is one word, every
candidate's scores track C and remove most of the naive bias; the table's paired difference is a hand computation
from the records; bad candidates are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import load_script

from hf_causal.cina import CInAModel

FILLER = ["plot", "cast", "scene", "story", "music", "pace", "ending", "script", "actor", "light", "set", "sound"]


@pytest.fixture(scope="module")
def script():
    return load_script("benchmarks/text_folds_selection.py")


def test_candidates_on_a_toy_corpus_remove_the_bias(script) -> None:
    rng = np.random.default_rng(1)
    c = rng.random(600) < 0.4
    texts = [" ".join([*rng.choice(FILLER, 7), *(["great"] if ci else [])]) for ci in c]
    sub = pd.DataFrame({"text": texts, "label": c.astype(int)})
    rows = script.draw_rows(CInAModel.from_pretrained("cina-zs-base"), sub, seed=3, beta1=25.0, folds=[3, 6],
                            learners=["lasso", "auto"])
    assert [(r["folds"], r["learner"]) for r in rows] == [(3, "lasso"), (3, "auto"), (6, "lasso"), (6, "auto")]
    assert rows[1]["candidate"] == "3 folds, auto"
    for r in rows:
        assert r["mu0_corr_c"] > 0.9  # the control score recovers the word
        assert r["cina_zs_scores"] > 0.8 and r["scores_aipw"] > 0.8
        assert r["seconds"] > 0


def test_table_pairs_the_draws_against_the_first_candidate(script) -> None:
    """Two draws: shares 0.70 / 0.80 with 5 folds and 0.74 / 0.86 with 10 -> Δ +5.0 pts, SE |4 - 6| / 2 = 1.0."""
    records = pd.DataFrame([
        {"rule": "lexicon", "corpus": "toy", "seed": s, "candidate": f"{k} folds", "seconds": 1.0, "mu0_corr_c": 0.9,
         "cina_zs_scores": v, "scores_aipw": v}
        for s, k, v in ((10, 5, 0.70), (11, 5, 0.80), (10, 10, 0.74), (11, 10, 0.86))
    ])
    lines = script.summary_lines(records, ["5 folds", "10 folds"])
    toy = next(line for line in lines if "| toy |" in line)
    assert "| 2 | 75.0%" in toy and "80.0%, Δ +5.0 ± 1.0 pts (2↑ 0↓)" in toy
    assert any(line.startswith("| lexicon | pooled | 2 |") for line in lines)


def test_fold_candidates_below_two_and_unknown_learners_are_refused(script) -> None:
    assert script.parse_args(["--folds", "5", "20"]).folds == [5, 20]
    assert script.parse_args([]).learners == ["lasso"]
    with pytest.raises(SystemExit):
        script.parse_args(["--folds", "1", "5"])
    with pytest.raises(SystemExit):
        script.parse_args(["--learners", "forest"])


def test_candidates_pair_every_fold_count_with_every_learner(script) -> None:
    assert script.candidates([5, 10], ["lasso", "auto"]) == [(5, "lasso"), (5, "auto"), (10, "lasso"), (10, "auto")]
    assert script.candidate_label(10, "auto", ["lasso"]) == "10 folds"
    assert script.candidate_label(10, "auto", ["lasso", "auto"]) == "10 folds, auto"
