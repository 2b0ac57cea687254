"""An engine's text variable: training texts that are missing, empty or not strings are errors naming the row,
with a pretrained backbone's vocabulary and with the engine's own word vocabulary alike."""

from __future__ import annotations

import pandas as pd
import pytest
from support import bpe_tokenizer

from hf_causal.engine import CausalGraph, CausalSequenceTokenizer
from hf_causal.engine.tokenization_causal_backbone import BackboneCausalTokenizer

GRAPH = CausalGraph({"review": "text", "T": "binary"}, [("review", "T")])


def frame(texts: list) -> pd.DataFrame:
    return pd.DataFrame({"review": pd.Series(texts, dtype=object), "T": [i % 2 for i in range(len(texts))]})


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [("", ValueError, "empty or blank text at row 2"), ("  ", ValueError, "row 2"), (7, TypeError, "row 2"),
     (None, ValueError, "missing")],
)
def test_bad_training_texts_name_the_row(bad, error, match) -> None:
    texts = ["a fine film", "a dull plot", bad, "more words"]
    backbone = bpe_tokenizer(["a fine film", "a dull plot"] * 5, vocab_size=300, special="<|endoftext|>")
    with pytest.raises(error, match=match):
        BackboneCausalTokenizer.from_data(frame(texts), GRAPH, backbone_tokenizer=backbone)
    with pytest.raises(error, match=match):
        CausalSequenceTokenizer.from_data(frame(texts), GRAPH)


def test_a_query_may_give_an_empty_text() -> None:
    """Only training texts must say something: a sampled text can be empty, and it encodes back."""
    backbone = bpe_tokenizer(["a fine film", "a dull plot"] * 5, vocab_size=300, special="<|endoftext|>")
    tok = BackboneCausalTokenizer.from_data(frame(["a fine film", "a dull plot"]), GRAPH, backbone_tokenizer=backbone)
    assert tok.encode_value("review", "") == [tok.end_ids["review"]]
