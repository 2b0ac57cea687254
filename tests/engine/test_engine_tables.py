"""Sampling from the model's conditional tables, the Gumbel-max draw, the right-sized default model and the
stop on a stalled held-out NLL, checked against the model's own one-pass conditionals and closed forms."""

import numpy as np
import pandas as pd
import pytest
import torch
from support import random_engine

from hf_causal.engine.configuration_causal_ar import DEFAULT_BACKBONE, sized_backbone
from hf_causal.engine.engine import CausalEngine
from hf_causal.engine.exact import conditional_tables, tabulation_size
from hf_causal.engine.graph import CausalGraph
from hf_causal.engine.planning import Query
from hf_causal.engine.sampling import _draw
from hf_causal.engine.training_args import EngineTrainingArguments

GRAPH = CausalGraph({"X": "categorical", "M": "binary", "A": "binary", "Y": "continuous"},
                    [("X", "M"), ("M", "A"), ("X", "A"), ("A", "Y"), ("X", "Y")])


@pytest.fixture(scope="module")
def engine():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"X": rng.choice(["a", "b", "c"], n), "M": rng.integers(0, 2, n),
                       "A": rng.integers(0, 2, n), "Y": rng.gamma(2.0, 1.0, n)})
    return random_engine(df, GRAPH, n_bins=6, sharpen=20.0, batch_size=512)


def test_tables_are_the_models_one_pass_conditionals(engine):
    plans = engine.planner.plans(Query({"A": 1}), 1, ["Y"])
    assert tabulation_size(engine.tokenizer, plans) == 1 + 3 + 3 * 2  # X; M per X; Y per (X, M)
    tables = conditional_tables(engine.model, engine.tokenizer, plans)
    assert tables.names == ["X", "M", "Y"]
    np.testing.assert_allclose(tables.tables[0][0], engine.predict_proba("X").iloc[0], atol=1e-6)
    for i, x in enumerate(["a", "b", "c"]):
        np.testing.assert_allclose(tables.tables[1][i], engine.predict_proba("M", given={"X": x}).iloc[0], atol=1e-6)
        for m in (0, 1):
            expected = engine.predict_proba("Y", given={"X": x, "M": m}, do={"A": 1}).iloc[0]
            np.testing.assert_allclose(tables.tables[2][2 * i + m], expected, atol=1e-6)


def test_table_draws_follow_the_tables_and_the_network_sampler(engine):
    n = 30_000
    tabled = engine.sample(n, do={"A": 1}, seed=4)
    saved = engine.max_exact_support
    engine.max_exact_support = 0  # force the network sampler
    try:
        network = engine.sample(n, do={"A": 1}, seed=4)
    finally:
        engine.max_exact_support = saved
    assert not tabled.equals(network)  # different paths, different random numbers ...
    assert (tabled.A == 1).all() and (network.A == 1).all()
    # ... the same law: joint frequencies of (X, M) within 4 standard errors
    joint_t = tabled.groupby(["X", "M"]).size() / n
    joint_n = network.groupby(["X", "M"]).size() / n
    se = np.sqrt(joint_t * (1 - joint_t) * 2 / n)
    assert (np.abs(joint_t - joint_n) < 4 * se + 1e-3).all()
    p_x = engine.predict_proba("X").iloc[0]
    freq = tabled.X.value_counts(normalize=True)
    for level in ("a", "b", "c"):
        assert abs(freq.get(level, 0.0) - p_x[level]) < 4 * np.sqrt(p_x[level] * (1 - p_x[level]) / n) + 1e-3
    pd.testing.assert_frame_equal(tabled, engine.sample(n, do={"A": 1}, seed=4))  # seeded


def test_tables_keep_fixed_draws_and_refuse_per_row_clamps(engine):
    plans = engine.planner.plans(Query({"A": 0}), 5, ["Y"])
    tables = conditional_tables(engine.model, engine.tokenizer, plans)
    x_ids = np.asarray(engine.tokenizer.encode_column("X", ["c", "a", "b", "c", "a"]))
    drawn = tables.sample(5, np.random.default_rng(0), fixed={"X": x_ids})
    np.testing.assert_array_equal(drawn["X"], x_ids)
    per_row = engine.planner.plans(Query(given={"X": np.array(["a", "b", "c", "a", "b"])}), 5, ["Y"])
    assert tabulation_size(engine.tokenizer, per_row) is None  # the network samples per-row evidence


def test_gumbel_max_draws_follow_the_restricted_softmax():
    logits = torch.tensor([[2.0, 0.5, -1.0, 3.0, 0.0]]).repeat(40_000, 1)
    allowed = torch.tensor([0, 1, 2])
    generator = torch.Generator().manual_seed(0)
    draws = _draw(logits[:, allowed], allowed, 1.0, generator)  # the logits of the allowed ids only
    expected = torch.softmax(torch.tensor([2.0, 0.5, -1.0]), 0).numpy()
    freq = np.bincount(draws.numpy(), minlength=5)[:3] / len(draws)
    assert set(draws.tolist()) <= {0, 1, 2}
    np.testing.assert_allclose(freq, expected, atol=4 * np.sqrt(expected * (1 - expected) / len(draws)).max())
    assert set(_draw(logits[:3, allowed], allowed, 0.0, generator).tolist()) == {0}  # temperature 0: argmax of the allowed


def test_default_model_and_bins_are_sized_to_the_table():
    small = sized_backbone(n_variables=4, max_tokens=9)
    assert (small["n_embd"], small["n_layer"]) == (64, 2)
    wide = sized_backbone(n_variables=20, max_tokens=41)  # many one-token variables
    assert (wide["n_embd"], wide["n_layer"], wide["n_inner"]) == (64, 1, 128)
    assert sized_backbone(n_variables=3, max_tokens=12) == DEFAULT_BACKBONE  # a sequence or a text
    args = EngineTrainingArguments()
    # a validation pass once per epoch, at most 40 steps apart
    assert [args.resolved_eval_every(n) for n in (2_000, 9_000, 18_000)] == [8, 36, 40]
    # Rice rule 2 n^(1/3), clipped to 16-64
    assert [args.resolved_bins(n) for n in (100, 1000, 10_000, 10**6)] == [16, 20, 43, 64]
    assert EngineTrainingArguments(n_bins=7).resolved_bins(10**6) == 7
    with pytest.raises(ValueError, match="n_bins"):
        EngineTrainingArguments(n_bins=0)
    with pytest.raises(ValueError, match="patience"):
        EngineTrainingArguments(patience=0)


def test_training_stops_when_the_held_out_nll_stalls():
    rng = np.random.default_rng(0)
    n = 1000
    df = pd.DataFrame({"A": rng.integers(0, 2, n), "Y": rng.normal(size=n)})  # nothing to learn beyond marginals
    graph = CausalGraph({"A": "binary", "Y": "continuous"}, [("A", "Y")])
    engine = CausalEngine.train(df, graph, seed=0, max_steps=3000, batch_size=100, patience=2, progress=False,
                                num_threads=1)
    summary = engine.training_summary
    assert summary["stopped_early"] and summary["steps"] < summary["max_steps"] == 3000
    assert engine.model.config.backbone_config["n_embd"] == 64  # sized to a two-variable table
    assert len(engine.tokenizer.codecs["Y"].edges) - 1 == 20  # Rice bins for 1,000 rows


def test_a_table_without_padding_is_laid_out_once_with_the_same_batches(engine):
    from hf_causal.engine.training import compact_batch

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"X": rng.choice(["a", "b", "c"], 50), "M": rng.integers(0, 2, 50),
                       "A": rng.integers(0, 2, 50), "Y": rng.gamma(2.0, 1.0, 50)})
    inputs = engine.tokenizer.build_inputs(df)
    assert bool(inputs["attention_mask"].all())
    whole = compact_batch(inputs)
    idx = torch.tensor([7, 3, 41, 0])
    per_batch = compact_batch({k: v[idx] for k, v in inputs.items()})
    assert whole["logits_to_keep"] == per_batch["logits_to_keep"]
    for key in ("input_ids", "attention_mask", "position_ids", "labels"):
        assert torch.equal(whole[key][idx], per_batch[key]), key


def test_binned_numbers_start_with_ordered_embeddings():
    from hf_causal.engine.training import build_tokenizer_and_model

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"A": rng.integers(0, 2, 500), "Y": rng.normal(size=500)})
    graph = CausalGraph({"A": "binary", "Y": "continuous"}, [("A", "Y")])
    torch.manual_seed(0)
    tok, model = build_tokenizer_and_model(df, graph, EngineTrainingArguments(n_bins=32, seed=0))
    torch.manual_seed(0)  # the same initialisation otherwise
    random_tok, random_model = build_tokenizer_and_model(df, graph, EngineTrainingArguments(n_bins=32, seed=0,
                                                                                            ordered_bins=False))
    ids = torch.arange(32) + tok.offsets["Y"]
    pairs = ((model.backbone.get_input_embeddings().weight, random_model.backbone.get_input_embeddings().weight),
             (model.backbone.lm_head.weight, random_model.backbone.lm_head.weight))
    for table, plain in ((t.detach(), p.detach()) for t, p in pairs):
        rows = torch.nn.functional.normalize(table[ids], dim=1)
        cosine = rows @ rows.T
        neighbours = torch.diagonal(cosine, 1).mean()
        far = cosine[:8, -8:].mean()
        assert neighbours > 0.8 and far < 0.3  # bin b starts near bin b+1, far from the other end
        assert table[ids].std() == pytest.approx(plain.std().item(), rel=0.2)  # the backbone's own scale
        other = torch.tensor(tok.offsets["A"])  # a binary variable's rows are left as initialised
        assert torch.equal(table[other], plain[other])
        plain_rows = torch.nn.functional.normalize(plain[ids], dim=1)
        assert torch.diagonal(plain_rows @ plain_rows.T, 1).abs().mean() < 0.3  # without: unrelated
