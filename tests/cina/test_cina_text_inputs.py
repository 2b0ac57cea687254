"""A user's own texts through ``CInAModel.estimate(..., text_encoder=)``: the same estimate as embedding them by
hand, and clear errors (naming the row) for missing, empty or non-string texts and for too few texts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import REVIEW_WORDS

from hf_causal.backbones import TextEncoder, embed_text_columns
from hf_causal.cina import CInAModel


@pytest.fixture(scope="module")
def setup(tiny_bert_dir: str) -> tuple:
    rng = np.random.default_rng(0)
    n = 120
    c = rng.random(n) < 0.5
    texts = [" ".join(rng.choice(REVIEW_WORDS, 4)) + (" great" if ci else " awful") for ci in c]
    t = (rng.random(n) < np.where(c, 0.7, 0.3)).astype(int)
    y = t + 3.0 * c + rng.normal(0, 0.5, n)
    frame = pd.DataFrame({"age": rng.normal(size=n), "review": texts})
    return TextEncoder.from_pretrained(tiny_bert_dir), CInAModel.from_pretrained("cina-zs-base"), frame, t, y


def test_text_encoder_path_equals_embedding_by_hand(setup) -> None:
    encoder, model, frame, t, y = setup
    by_hand = model.estimate(embed_text_columns(frame, encoder, n_components=4, progress=False), t, y, estimand="att")
    direct = model.estimate(frame, t, y, estimand="att", text_encoder=encoder, text_components=4)
    assert direct.value == pytest.approx(by_hand.value, rel=1e-9)
    assert list(direct.balance.index) == ["age", *(f"review_pc{j}" for j in range(4))]
    texts_only = model.estimate(frame["review"].tolist(), t, y, estimand="att", text_encoder=encoder, text_components=4)
    assert list(texts_only.balance.index) == [f"text_pc{j}" for j in range(4)]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [("", ValueError, "empty/blank strings, first at index 7"), ("   ", ValueError, "first at index 7"),
     (None, ValueError, "missing"), (3, TypeError, r"\[7\] is int")],
)
def test_bad_texts_are_errors_naming_the_row(setup, bad, error, match) -> None:
    encoder, model, frame, t, y = setup
    texts = frame["review"].astype(object).tolist()
    texts[7] = bad
    with pytest.raises(error, match=match):
        model.estimate(frame.assign(review=pd.Series(texts, dtype=object)), t, y, estimand="att", text_encoder=encoder)


def test_too_few_texts_and_misuse(setup) -> None:
    encoder, model, frame, t, y = setup
    small = frame.iloc[:12]
    with pytest.raises(ValueError, match="12 texts are too few to fit 16 PCA components"):
        model.estimate(small, t[:12], y[:12], text_encoder=encoder)
    with pytest.raises(TypeError, match="single string"):
        model.estimate("a review", t, y, text_encoder=encoder)
    with pytest.raises(ValueError, match="text_columns= needs text_features=.scores. or text_encoder="):
        model.estimate(frame[["age"]], t, y, text_columns=["review"])
