"""The lexicon-scaling benchmark against independent truth: its frequent-words ceiling is the lexicon rule when every
word counts and drops exactly the rare words otherwise, the coverage is a hand count, and on a toy corpus whose
confounder is a lexicon word the oracle and the scores remove the naive bias."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import load_script

from hf_causal.cina import CInAModel
from hf_causal.data.text_confounders import text_confounder

FILLER = ["plot", "cast", "scene", "story", "music", "pace", "ending", "script", "actor", "light", "set", "sound"]


@pytest.fixture(scope="module")
def script():
    return load_script("benchmarks/text_lexicon_scaling.py")


def test_ceiling_is_the_rule_at_one_text_and_drops_rare_words(script) -> None:
    texts = ["a great film", "great and good", "awful but superb", "superb plot", "terrible, terrible", "plain"]
    assert np.array_equal(script.frequent_lexicon_confounder(texts, 1), text_confounder(texts, "lexicon"))
    # in >= 2 texts: great (2), superb (2), terrible (1 text); good and awful are seen once
    assert script.frequent_lexicon_confounder(texts, 2).tolist() == [1, 1, 1, 1, 0, 0]
    # lexicon occurrences: great x2, good, awful, superb x2, terrible x2 = 8; of words in >= 2 texts: 4
    assert script.lexicon_coverage(texts, 2) == pytest.approx(4 / 8)
    with pytest.raises(ValueError, match="min_texts"):
        script.frequent_lexicon_confounder(texts, 0)


def test_rows_on_a_toy_corpus_remove_the_bias(script) -> None:
    """C = the text says 'great' (a lexicon word in every C = 1 text): the oracle, the ceiling (the word is
    frequent) and the scored rows all remove most of the naive bias; the records and the table are complete."""
    rng = np.random.default_rng(0)
    c = rng.random(600) < 0.4
    texts = [" ".join([*rng.choice(FILLER, 7), *(["great"] if ci else [])]) for ci in c]
    sub = pd.DataFrame({"text": texts, "label": c.astype(int)})
    rows = script.dataset_rows(CInAModel.from_pretrained("cina-zs-base"), sub, seed=0, beta1=25.0, min_texts=5)
    assert [r["method"] for r in rows] == list(script.METHODS)
    removed = {r["method"]: r["bias_removed"] for r in rows}
    assert removed["oracle_aipw"] > 0.8
    assert removed["frequent_words_ceiling"] == pytest.approx(removed["oracle_aipw"])  # the same C
    assert removed["cina_zs_scores"] > 0.8 and removed["scores_aipw"] > 0.8
    assert rows[0]["lexicon_coverage"] == 1.0
    records = pd.DataFrame([{"corpus": "toy", **r} for r in rows], columns=script.RECORD_COLUMNS)
    table = script.summary_table(records)
    assert "| toy | 600 | 1 | 100% |" in table


def test_sizes_must_be_numbers_or_all(script) -> None:
    assert script.parse_args(["--sizes", "100", "all"]).sizes == ["100", "all"]
    with pytest.raises(SystemExit, match="neither"):
        script.parse_args(["--sizes", "many"])
