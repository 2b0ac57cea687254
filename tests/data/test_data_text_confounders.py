"""The identifiable text confounders: each rule recomputed independently from the words of the text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from hf_causal.data.text_benchmark import load_text_corpus, simulate_text_confounding
from hf_causal.data.text_confounders import (
    IDENTIFIABLE_RULES,
    lexicon_score,
    text_confounder,
    truncate_words,
    with_text_confounder,
)

# independent restatements of the documented rules (not imported from the module under test)
TOPIC = {"rotten_tomatoes": {"film", "films", "movie", "movies"}, "fine_foods": {"coffee", "coffees", "tea", "teas", "espresso"}}


def mentions_topic(text: str, corpus: str) -> int:
    """Any character that is not a letter a-z separates words."""
    cleaned = "".join(ch if "a" <= ch <= "z" else " " for ch in text.lower())
    return int(any(w in TOPIC[corpus] for w in cleaned.split()))


@pytest.mark.parametrize(
    ("text", "score"),
    [("A great, great film -- but dull.", 1), ("Awful. Boring! Worst movie", -3), ("a film about films", 0),
     ("I don't love it; it's not bad", 0), ("GOOD tea", 1), ("goodness gracious, greatness", 0),
     ("the film's great-looking", 1)],
)
def test_lexicon_score_counts_whole_words(text: str, score: int) -> None:
    assert lexicon_score(text) == score


def test_topic_rule_matches_an_independent_reading_of_the_words() -> None:
    texts = ["The Film, again.", "films!", "a moviegoer's dream", "coffee? no: tea", "Espresso", "teapot", "the movie’s"]
    np.testing.assert_array_equal(text_confounder(texts, "topic", "rotten_tomatoes"), [1, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(text_confounder(texts, "topic", "fine_foods"), [0, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(text_confounder(texts, "topic", "fine_foods"), [mentions_topic(t, "fine_foods") for t in texts])
    with pytest.raises(ValueError, match="corpus"):
        text_confounder(texts, "topic")
    with pytest.raises(ValueError, match="function of the text"):
        text_confounder(texts, "label")
    with pytest.raises(TypeError, match="text 1"):
        text_confounder(["film", 3], "lexicon")


def test_truncation_decides_what_the_rule_reads() -> None:
    frame = pd.DataFrame({"text": ["one two three film", "film one two three"], "label": [0, 1]})
    out = with_text_confounder(frame, "topic", "rotten_tomatoes", max_words=3)
    assert out.text.tolist() == ["one two three", "film one two"]
    np.testing.assert_array_equal(out.label, [0, 1])  # the mention after word 3 is gone with the words
    np.testing.assert_array_equal(out.sentiment, [0, 1])
    assert truncate_words("a b", None) == "a b"
    with pytest.raises(ValueError, match="max_words"):
        truncate_words("a b", 0)
    kept = with_text_confounder(frame, "label")
    pd.testing.assert_series_equal(kept.text, frame.text)


@pytest.mark.parametrize("corpus", ["rotten_tomatoes", "fine_foods"])
def test_simulated_confounder_is_recomputed_from_the_texts_estimators_see(corpus: str) -> None:
    try:
        frame = load_text_corpus(corpus)
    except ImportError:
        pytest.skip(f"the {corpus} source package is not installed")
    idx = np.sort(np.random.default_rng(0).choice(len(frame), size=1500, replace=False))
    sub = frame.iloc[idx].reset_index(drop=True)
    for rule in IDENTIFIABLE_RULES:
        data = simulate_text_confounding(with_text_confounder(sub, rule, corpus, max_words=32), beta1=25.0, seed=0)
        c = data.frame["confounder"].to_numpy()
        assert all(len(t.split()) <= 32 for t in data.texts)
        if rule == "topic":
            np.testing.assert_array_equal(c, [mentions_topic(t, corpus) for t in data.texts])
        else:
            np.testing.assert_array_equal(c, text_confounder(data.texts, rule, corpus))
        # both levels common enough to confound: the benchmark's variants are not degenerate
        assert 0.1 < c.mean() < 0.9, (rule, corpus, c.mean())
    # the rules are not the label: on both corpora they disagree with it on a sizeable share of texts
    lexicon = text_confounder([truncate_words(t, 32) for t in sub.text], "lexicon")
    assert 0.15 < (lexicon != sub.label.to_numpy()).mean() < 0.6


def test_word_pattern_is_the_documented_one() -> None:
    # runs of letters: apostrophes, digits and underscores split words
    assert re.findall(r"[a-z]+", "don't film2 tea_time") == ["don", "t", "film", "tea", "time"]
    assert text_confounder(["film2", "tea_time"], "topic", "rotten_tomatoes").tolist() == [1, 0]
