"""CausalBertModel with a tiny BERT built from a config and a word-level tokenizer (no Hub, no real backbone)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support import word_tokenizer

pytest.importorskip("tokenizers")
from harness.causal_bert import CausalBertConfig, CausalBertModel  # noqa: E402
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast  # noqa: E402

FILLER = ["the", "a", "movie", "film", "plot", "was", "and", "fun", "dull", "long", "short", "cast"]
CONFOUNDER = "great"  # its presence drives both treatment and outcome
TRUE_ATT = 1.0


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    return word_tokenizer([CONFOUNDER, *FILLER])


pytestmark = pytest.mark.usefixtures("single_thread")  # conftest: one torch thread per test


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    cfg = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=len(tok),
        max_position_embeddings=32,
    )
    folder = tmp_path_factory.mktemp("tiny_causal_bert")
    BertModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def simulate(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """C = 'great' in the text; P(T=1 | C) = 0.75 / 0.25; Y = 1.0 T + 3 C + N(0, 0.5^2); naive ≈ 2.5."""
    rng = np.random.default_rng(seed)
    c = rng.random(n) < 0.5
    texts = []
    for ci in c:
        words = list(rng.choice(FILLER, size=rng.integers(3, 8)))
        if ci:
            words.insert(int(rng.integers(0, len(words) + 1)), CONFOUNDER)
        texts.append(" ".join(words))
    t = (rng.random(n) < np.where(c, 0.75, 0.25)).astype(int)
    y = TRUE_ATT * t + 3.0 * c + rng.normal(0, 0.5, n)
    return texts, t, y


def test_cached_prefix_matches_full_forward(tiny_dir: str) -> None:
    model = CausalBertModel.from_pretrained(tiny_dir, config=CausalBertConfig(trainable_layers=1, max_length=16))
    model.eval()
    texts = ["great film", "the plot was dull and long", "fun"]
    model._fill_prefix_cache(texts)
    with torch.no_grad():
        cached = model._encode(texts)
        batch = model._tokenize(texts)
        full = model(**batch).pooled_output
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("trainable_layers", "num_epochs"), [(1, 15), (None, 8)])
def test_fit_recovers_att_better_than_naive(tiny_dir: str, trainable_layers: int | None, num_epochs: int) -> None:
    texts, t, y = simulate(400, seed=1)
    naive = y[t == 1].mean() - y[t == 0].mean()
    cfg = CausalBertConfig(
        trainable_layers=trainable_layers, max_length=16, num_epochs=num_epochs, batch_size=32, learning_rate=1e-3,
        head_learning_rate=3e-3, head_hidden_size=32, head_dropout=0.0, seed=0,
    )
    model = CausalBertModel.from_pretrained(tiny_dir, config=cfg).fit(texts, t, y)
    est = model.estimate_att()
    assert abs(naive - TRUE_ATT) > 1.0  # strongly confounded
    assert abs(est["aipw"].value - TRUE_ATT) < 0.25, est
    assert abs(est["plugin"].value - TRUE_ATT) < 0.25, est
    # the propensity head found the confounding token
    pred = model.predict(["great movie", "the movie"])
    assert pred.propensity[0] > 0.6 > 0.4 > pred.propensity[1]


def test_refit_restarts_from_pretrained_and_cross_fit(tiny_dir: str) -> None:
    texts, t, y = simulate(300, seed=2)
    cfg = CausalBertConfig(
        trainable_layers=None, max_length=16, num_epochs=12, learning_rate=1e-3, head_learning_rate=3e-3,
        head_dropout=0.0,
    )
    model = CausalBertModel.from_pretrained(tiny_dir, config=cfg)
    first = model.fit(texts, t, y).estimate_att()
    second = model.fit(texts, t, y).estimate_att()
    assert first["aipw"].value == pytest.approx(second["aipw"].value, abs=1e-6)  # deterministic, starts afresh
    est = model.cross_fit_att(texts, t, y, n_folds=2)
    assert "2-fold cross-fitted" in est["aipw"].method and est["aipw"].n == 300
    assert abs(est["aipw"].value - TRUE_ATT) < 0.35, est


@pytest.mark.parametrize(
    ("texts", "t", "y", "match"),
    [
        (["a", "b", "c", "d"], [0, 1, 2, 1], [1.0, 2.0, 3.0, 4.0], "binary"),
        (["a", "b", "c", "d"], [0, 1, 0.5, 1], [1.0, 2.0, 3.0, 4.0], "binary"),
        (["a", "b", "c", "d"], [0, 1, 0, 1], [1.0, np.nan, 3.0, 4.0], "NaN"),
        (["a", "b", "c"], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], "length mismatch"),
        (["a", "", "c", "d"], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], "empty"),
        (["a", None, "c", "d"], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], "missing"),
        (["a", "b", "c", "d"], [0, 0, 0, 1], [1.0, 2.0, 3.0, 4.0], "at least 2 treated"),
    ],
)
def test_bad_inputs_raise(tiny_dir: str, texts: list, t: list, y: list, match: str) -> None:
    model = CausalBertModel.from_pretrained(tiny_dir, config=CausalBertConfig(trainable_layers=1, num_epochs=1))
    with pytest.raises(ValueError, match=match):
        model.fit(texts, t, y)


def test_bad_config_and_estimate_before_fit(tiny_dir: str) -> None:
    with pytest.raises(ValueError, match="pooling"):
        CausalBertConfig(pooling="max")
    with pytest.raises(ValueError, match="trainable_layers"):
        CausalBertModel.from_pretrained(tiny_dir, config=CausalBertConfig(trainable_layers=5))
    model = CausalBertModel.from_pretrained(tiny_dir)
    with pytest.raises(ValueError, match="fit"):
        model.estimate_att()
    with pytest.raises(ValueError, match="together"):
        model.estimate_att(texts=["a", "b"])
    with pytest.raises(ValueError, match="n_folds"):
        model.cross_fit_att(["a b", "b", "c", "d"], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], n_folds=3)
    assert CausalBertConfig.from_dict(CausalBertConfig(seed=3).to_dict()).seed == 3
