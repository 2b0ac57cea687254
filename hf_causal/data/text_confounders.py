"""Confounders that are a documented, deterministic function of the text: the identifiable text benchmark.

In :mod:`hf_causal.data.text_benchmark` the confounder is the review's label, which the text only partly
reveals, so adjusting for the text cannot block the back-door path and no method can reach the truth. Here
the confounder ``C`` is computed from the words of the (truncated) text by a rule, so ``C`` is a function of
what every estimator sees and adjustment for the text is sufficient (docs/design.md §9.8):

- ``"topic"``: the text mentions a named topic, whose words stay in the text (:data:`TOPIC_WORDS`: Rotten
  Tomatoes *film(s)* / *movie(s)*, fine foods *coffee(s)*, *tea(s)*, *espresso*).
- ``"lexicon"``: a sentiment-lexicon score, the number of :data:`POSITIVE_WORDS` tokens minus the number of
  :data:`NEGATIVE_WORDS` tokens, is positive. Many words, most of them rare: harder to learn from a few
  thousand texts than a topic, closer in kind to the label.
- ``"label"``: the review's label (not a function of the text; the hard, non-identifiable case).

Words are the runs of letters a-z of the lower-cased text (:func:`text_words`; so *film's* and *movie-goer* mention
*film* and *movie*). Texts
are first cut to their first ``max_words`` whitespace-separated words (:func:`truncate_words`), so that the
rule reads the same text a model truncated at a token limit reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CONFOUNDER_RULES",
    "IDENTIFIABLE_RULES",
    "NEGATIVE_WORDS",
    "POSITIVE_WORDS",
    "TOPIC_WORDS",
    "lexicon_score",
    "text_confounder",
    "text_words",
    "truncate_words",
    "with_text_confounder",
]

CONFOUNDER_RULES = ("label", "topic", "lexicon")
#: The rules under which the confounder is a function of the text (adjusting for the text suffices).
IDENTIFIABLE_RULES = ("topic", "lexicon")

TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "rotten_tomatoes": ("film", "films", "movie", "movies"),
    "fine_foods": ("coffee", "coffees", "tea", "teas", "espresso"),
}
POSITIVE_WORDS: tuple[str, ...] = (
    "amazing", "beautiful", "beautifully", "best", "brilliant", "charming", "clever", "compelling", "delicious",
    "delightful", "enjoy", "enjoyable", "enjoyed", "entertaining", "excellent", "fantastic", "fascinating",
    "favorite", "fun", "funny", "good", "great", "happy", "love", "loved", "lovely", "loves", "moving", "nice",
    "perfect", "perfectly", "powerful", "recommend", "smart", "solid", "superb", "tasty", "terrific", "wonderful",
)
NEGATIVE_WORDS: tuple[str, ...] = (
    "annoying", "awful", "bad", "bitter", "bland", "boring", "disappointed", "disappointing", "disappointment",
    "dull", "fails", "flat", "horrible", "lacks", "lame", "mediocre", "mess", "pointless", "poor", "predictable",
    "problem", "silly", "stale", "stupid", "tedious", "terrible", "unfortunately", "waste", "weak", "worse", "worst",
)
_WORD = re.compile(r"[a-z]+")
_POSITIVE, _NEGATIVE = frozenset(POSITIVE_WORDS), frozenset(NEGATIVE_WORDS)


def _check_text(text: Any, index: int) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text {index} is {type(text).__name__}, expected str")
    return text


def text_words(text: str) -> list[str]:
    """The words of ``text``: runs of the letters a-z after lower-casing (any other character separates words)."""
    return _WORD.findall(_check_text(text, 0).lower())


def truncate_words(text: str, max_words: int | None) -> str:
    """The first ``max_words`` whitespace-separated words of ``text`` (all of it for ``None``)."""
    text = _check_text(text, 0)
    if max_words is None:
        return text
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise ValueError(f"max_words must be a positive integer or None, got {max_words!r}")
    return " ".join(text.split()[:max_words])


def lexicon_score(text: str) -> int:
    """Number of :data:`POSITIVE_WORDS` tokens minus number of :data:`NEGATIVE_WORDS` tokens (repeats count)."""
    words = text_words(text)
    return sum(w in _POSITIVE for w in words) - sum(w in _NEGATIVE for w in words)


def text_confounder(texts: Sequence[str], rule: str, corpus: str | None = None) -> np.ndarray:
    """The 0/1 confounder of each text under an identifiable ``rule`` (module docstring).

    Args:
        texts: the texts, as the estimators will see them.
        rule: ``"topic"`` or ``"lexicon"``.
        corpus: the corpus the texts come from (``"topic"`` needs it: each corpus has its own topic).

    Raises:
        ValueError: an unknown rule (``"label"`` is not a function of the text), or ``"topic"`` without a
            known corpus.
        TypeError: a text that is not a string.
    """
    if rule not in IDENTIFIABLE_RULES:
        raise ValueError(f"rule must be one of {IDENTIFIABLE_RULES} (a function of the text), got {rule!r}")
    items = [_check_text(t, i) for i, t in enumerate(texts)]
    if rule == "lexicon":
        return np.array([lexicon_score(t) > 0 for t in items], dtype=np.int64)
    if corpus not in TOPIC_WORDS:
        raise ValueError(f"the topic rule needs corpus= one of {sorted(TOPIC_WORDS)}, got {corpus!r}")
    topic = frozenset(TOPIC_WORDS[corpus])
    return np.array([not topic.isdisjoint(text_words(t)) for t in items], dtype=np.int64)


def with_text_confounder(
    frame: pd.DataFrame, rule: str, corpus: str | None = None, max_words: int | None = 32
) -> pd.DataFrame:
    """``frame`` (columns ``text``, ``label``) with the texts cut to ``max_words`` words and ``label`` replaced by
    the rule's confounder; the review's own label moves to ``sentiment``.

    The result feeds :func:`hf_causal.data.text_benchmark.simulate_text_confounding`, which confounds
    treatment and outcome through ``label``. ``rule="label"`` keeps the label (and the full texts: the
    non-identifiable variant is unchanged).
    """
    if not {"text", "label"} <= set(frame.columns):
        raise ValueError("frame must have columns 'text' and 'label'")
    if rule == "label":
        return frame.assign(sentiment=frame["label"])
    texts = [truncate_words(t, max_words) for t in frame["text"]]
    out = frame.assign(text=texts, sentiment=frame["label"])
    out["label"] = text_confounder(texts, rule, corpus)
    return out
