"""The text-summary head (docs/design.md §6.9): untrained it is the plain model, trained it is causal, a KV-cached
sampler continues it exactly, and a LoRA engine saves and reloads it. Whether it helps is measured by the text
benchmark (benchmarks/results/text_identifiable.md), not here.

Backbones are tiny models built from configs next to a tiny byte-level BPE tokenizer; nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from support import bpe_tokenizer

pytest.importorskip("peft")

from transformers import DynamicCache, GPT2Config, GPT2LMHeadModel  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from hf_causal.engine import CausalEngine, CausalGraph  # noqa: E402
from hf_causal.engine.configuration_causal_ar import CausalARConfig  # noqa: E402
from hf_causal.engine.training import build_tokenizer_and_model, train_causal_model  # noqa: E402
from hf_causal.engine.training_args import EngineTrainingArguments  # noqa: E402

hf_logging.set_verbosity_error()
pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.usefixtures("single_thread")]  # conftest: one torch thread per test

WORDS = ["film", "plot", "cast", "scene", "story", "music", "pace", "ending", "actor", "script"]
GRAPH = CausalGraph({"text": "text", "T": "binary", "Y": "continuous"}, [("text", "T"), ("text", "Y"), ("T", "Y")])
SPECIAL = "<|endoftext|>"


def simulate(n: int, seed: int) -> pd.DataFrame:
    """C = the text mentions 'film'; P(T=1 | C) = 0.7 / 0.3; Y = T + 4 C + N(0, 0.3²)."""
    rng = np.random.default_rng(seed)
    c = rng.random(n) < 0.5
    texts = []
    for ci in c:
        words = list(rng.choice(WORDS[1:], size=rng.integers(3, 7)))
        if ci:
            words.insert(int(rng.integers(0, len(words) + 1)), "film")
        texts.append(" ".join(words))
    t = (rng.random(n) < np.where(c, 0.7, 0.3)).astype(int)
    return pd.DataFrame({"text": texts, "T": t, "Y": t + 4.0 * c + rng.normal(0, 0.3, n), "C": c.astype(int)})


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> str:
    tokenizer = bpe_tokenizer([" ".join(WORDS)] * 10, vocab_size=300, special=SPECIAL)
    path = tmp_path_factory.mktemp("summary_backbone")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=64)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def build(backbone: str, data: pd.DataFrame, head: bool, **settings) -> tuple:
    args = EngineTrainingArguments(backbone=backbone, lora={"r": 4, "lora_alpha": 8}, context_variables=["text"],
                                   n_bins=8, batch_size=64, progress=False, **settings)
    torch.manual_seed(0)
    tokenizer, model = build_tokenizer_and_model(data, GRAPH, args)
    if head:
        model.add_text_summary_head(tokenizer.backbone_vocab_size, size=16)
    return tokenizer, model, args


def test_zero_head_is_the_plain_model_and_config_checks(backbone):
    data = simulate(40, 0)
    tokenizer, plain, _ = build(backbone, data, head=False)
    _, with_head, _ = build(backbone, data, head=True)
    inputs = tokenizer.build_inputs(data)
    with torch.no_grad():
        a = plain(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        b = with_head(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="text_token_limit"):
        CausalARConfig(vocab_size=10, text_summary_size=8)
    with pytest.raises(ValueError, match="text_token_limit"):
        with_head.add_text_summary_head(0)


def test_head_is_causal_and_a_cached_continuation_matches_the_full_pass(backbone):
    data = simulate(8, 1)
    tokenizer, model, _ = build(backbone, data, head=True)
    torch.manual_seed(1)
    for p in model.text_summary_head.parameters():
        torch.nn.init.normal_(p, std=0.5)  # a trained (non-zero) head
    model.eval()
    ids = tokenizer.build_inputs(data)["input_ids"]
    ids = ids[:, : int((ids != tokenizer.pad_token_id).sum(1).min())]  # no padding: rows of equal length
    with torch.no_grad():
        full = model(input_ids=ids).logits
        cache = DynamicCache()
        cut = ids.size(1) - 3
        first = model(input_ids=ids[:, :cut], past_key_values=cache, use_cache=True).logits
        rest = model(input_ids=ids[:, cut:], past_key_values=cache, use_cache=True).logits
        # changing the last tokens leaves every earlier position's logits alone (the running mean is causal)
        changed = ids.clone()
        changed[:, -1] = tokenizer.backbone_vocab_size - 1
        prefix = model(input_ids=changed).logits
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(prefix[:, :-1], full[:, :-1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(full, model.backbone(input_ids=ids).logits)  # the head does contribute
    with torch.no_grad(), pytest.raises(RuntimeError, match="earlier tokens"):
        stranger = DynamicCache()
        model.backbone(input_ids=ids[:, :cut], past_key_values=stranger, use_cache=True)
        model(input_ids=ids[:, cut:], past_key_values=stranger, use_cache=True)


def test_lora_engine_with_head_saves_and_reloads_exactly(backbone, tmp_path):
    data = simulate(120, 2)
    tokenizer, model, args = build(backbone, data, head=True, max_steps=6, learning_rate=1e-2)
    train_causal_model(model, tokenizer, data, args)
    assert model.text_summary_head.out.weight.abs().sum() > 0  # trained: no longer zero
    engine = CausalEngine(model, tokenizer, context_variables=["text"])
    engine.save_pretrained(tmp_path)
    again = CausalEngine.from_pretrained(tmp_path, backbone=backbone)
    given = {"text": data["text"]}
    np.testing.assert_allclose(again.predict_mean("Y", given=given, do={"T": 0}),
                               engine.predict_mean("Y", given=given, do={"T": 0}), atol=1e-5)
    (tmp_path / "text_summary_head.safetensors").unlink()
    with pytest.raises(ValueError, match="text_summary_head.safetensors"):
        CausalEngine.from_pretrained(tmp_path, backbone=backbone)
