"""The compact row layout (no ``<start_VAR>`` tokens when every variable takes one token): the tokenizer, the
KV-cached sampler against an uncached forward pass, the tables against one-pass conditionals, and training."""

import numpy as np
import pandas as pd
import pytest
import torch

from hf_causal.engine.configuration_causal_ar import CausalARConfig
from hf_causal.engine.engine import CausalEngine
from hf_causal.engine.exact import conditional_tables
from hf_causal.engine.graph import CausalGraph
from hf_causal.engine.modeling_causal_ar import CausalARModel
from hf_causal.engine.planning import Query, VariablePlan
from hf_causal.engine.sampling import sample_tokens
from hf_causal.engine.tokenization_causal import CausalSequenceTokenizer

GRAPH = CausalGraph({"X": "categorical", "A": "binary", "Y": "continuous"}, [("X", "A"), ("X", "Y"), ("A", "Y")])


def _frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"X": rng.choice(["a", "b", "c"], n), "A": rng.integers(0, 2, n), "Y": rng.normal(size=n)})


@pytest.fixture(scope="module")
def compact_engine():
    tok = CausalSequenceTokenizer.from_data(_frame(), GRAPH, n_bins=8, layout="compact")
    torch.manual_seed(0)
    cfg = CausalARConfig(
        backbone_config={"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2, "n_inner": 64},
        vocab_size=len(tok), max_positions=tok.max_sequence_length(),
    )
    model = CausalARModel(cfg)
    with torch.no_grad():
        model.backbone.lm_head.weight.mul_(20.0)
    return CausalEngine(model, tok, seed=0, batch_size=64, num_threads=1)


def test_compact_rows_are_bos_then_one_token_per_variable(tmp_path):
    df = _frame(5)
    compact = CausalSequenceTokenizer.from_data(df, GRAPH, n_bins=8, layout="auto")
    marked = CausalSequenceTokenizer.from_data(df, GRAPH, n_bins=8)
    assert compact.compact and not marked.compact
    assert compact.max_sequence_length() == 4 and marked.max_sequence_length() == 7
    ids = compact.build_inputs(df)["input_ids"]
    marked_ids = marked.build_inputs(df)["input_ids"]
    assert torch.equal(ids, marked_ids[:, [0, 2, 4, 6]])  # the same values, without the start tokens
    assert torch.equal(ids[0], torch.tensor(compact.encode_row_ids(df.iloc[0].to_dict())))
    row = compact.decode_ids(ids[1].tolist())
    assert row["X"] == df.X[1] and row["A"] == df.A[1] and compact.codecs["Y"].bin_of([row["Y"]]) == \
        compact.codecs["Y"].bin_of([df.Y[1]])
    compact.save_pretrained(tmp_path)
    assert CausalSequenceTokenizer.from_pretrained(tmp_path).compact
    seq_graph = CausalGraph({"S": "sequence", "Y": "continuous"}, [("S", "Y")])
    seq_df = pd.DataFrame({"S": [["u"], ["u", "v"]] * 5, "Y": np.arange(10.0)})
    assert not CausalSequenceTokenizer.from_data(seq_df, seq_graph, layout="auto").compact
    with pytest.raises(ValueError, match="compact layout needs every variable to take one token"):
        CausalSequenceTokenizer.from_data(seq_df, seq_graph, layout="compact")


def test_compact_kv_cached_sampler_matches_an_uncached_forward_pass(compact_engine):
    tok, model = compact_engine.tokenizer, compact_engine.model
    plans = [VariablePlan(n) for n in tok.order]
    ids = sample_tokens(model, tok, plans, 16, batch_size=5, temperature=0.0)
    for r in range(16):
        row = [tok.bos_token_id]
        for name in tok.order:
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([row])).logits[0, -1]
            allowed = tok.allowed_ids(name, 0)
            assert ids[name][r, 0] == allowed[int(torch.argmax(logits[allowed]))], (r, name)
            row.append(int(ids[name][r, 0]))


def test_compact_tables_and_exact_means_are_the_one_pass_conditionals(compact_engine):
    eng = compact_engine
    tables = conditional_tables(eng.model, eng.tokenizer, eng.planner.plans(Query({"A": 1}), 1, ["Y"]))
    np.testing.assert_allclose(tables.tables[0][0], eng.predict_proba("X").iloc[0], atol=1e-6)
    for i, x in enumerate(["a", "b", "c"]):
        expected = eng.predict_proba("Y", given={"X": x}, do={"A": 1}).iloc[0]
        np.testing.assert_allclose(tables.tables[1][i], expected, atol=1e-6)
    p_x = eng.predict_proba("X").iloc[0]
    by_hand = sum(p_x[x] * eng.predict_mean("Y", given={"X": x}, do={"A": 1})[0] for x in ["a", "b", "c"])
    assert eng.interventional_mean("Y", do={"A": 1}).value == pytest.approx(by_hand, abs=1e-6)


def test_training_picks_the_compact_layout_for_a_table():
    engine = CausalEngine.train(_frame(400), GRAPH, seed=0, max_steps=4, batch_size=100, progress=False,
                                num_threads=1)
    assert engine.tokenizer.compact and engine.model.config.max_positions == 4
    marked = CausalEngine.train(_frame(400), GRAPH, seed=0, max_steps=4, batch_size=100, progress=False,
                                num_threads=1, layout="marked")
    assert not marked.tokenizer.compact
