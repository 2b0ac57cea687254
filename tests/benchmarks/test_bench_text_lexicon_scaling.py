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


def test_report_from_records_lets_a_later_file_replace_rows(script, tmp_path) -> None:
    """Two record files: the later one's row of the same (corpus, size, seed, method) wins, the rest are kept."""
    def rows(value: float, sizes: tuple[int, ...]) -> pd.DataFrame:
        return pd.DataFrame([{"corpus": "toy", "n_texts": n, "seed": 0, "method": m, "att": 0.3, "truth": 0.25,
                              "naive": 1.0, "bias_removed": value, "seconds": 1.0, "lexicon_coverage": 1.0}
                             for n in sizes for m in script.METHODS])
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    rows(0.5, (100, 200)).to_csv(first, index=False)
    rows(0.9, (100,)).to_csv(second, index=False)
    merged = script.merged_records([str(first), str(second)])
    assert len(merged) == 2 * len(script.METHODS)
    assert set(merged.loc[merged["n_texts"] == 100, "bias_removed"]) == {0.9}
    assert set(merged.loc[merged["n_texts"] == 200, "bias_removed"]) == {0.5}
    out = tmp_path / "report.md"
    script.main(["--from-records", str(first), str(second), "--output", str(out)])
    assert "| toy | 100 | 1 | 100% | 1.0 | 90% |" in out.read_text()
    pd.DataFrame({"corpus": ["toy"]}).to_csv(first, index=False)
    with pytest.raises(ValueError, match="a.csv is not a records file"):
        script.merged_records([str(first)])
