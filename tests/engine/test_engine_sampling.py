"""Constrained, KV-cached, batched sampling checked on an untrained model (any logits must work)."""

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from hf_causal.engine.configuration_causal_ar import CausalARConfig
from hf_causal.engine.engine import CausalEngine
from hf_causal.engine.graph import CausalGraph
from hf_causal.engine.modeling_causal_ar import CausalARModel
from hf_causal.engine.planning import OutOfRangeWarning, VariablePlan
from hf_causal.engine.sampling import sample_tokens
from hf_causal.engine.tokenization_causal import CausalSequenceTokenizer

MOVES = ["N", "S", "E", "W"]


@pytest.fixture(scope="module")
def engine():
    rng = np.random.default_rng(0)
    n = 300
    seqs = [list(rng.choice(MOVES, rng.integers(0, 6))) for _ in range(n)]
    seqs[0] = ["N", "S", "E", "W", "N", "S"]
    df = pd.DataFrame({"X": rng.choice(["a", "b", "c"], n), "S": seqs, "Y": rng.normal(size=n),
                       "D": rng.normal(size=n)})
    g = CausalGraph({"X": "categorical", "S": "sequence", "Y": "continuous", "D": {"type": "continuous"}},
                    [("X", "S"), ("S", "Y"), ("X", "Y"), ("Y", "D")])
    tok = CausalSequenceTokenizer.from_data(df, g, n_bins=16)
    # a second tokenizer view with digit codecs is exercised in test_digit_codec_sampling
    torch.manual_seed(0)
    cfg = CausalARConfig(
        backbone_config={"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2, "n_inner": 64,
                         "tie_word_embeddings": False},
        vocab_size=len(tok), max_positions=tok.max_sequence_length(),
    )
    model = CausalARModel(cfg)
    with torch.no_grad():  # make invalid tokens attractive: constraints must still hold
        model.backbone.lm_head.weight[: tok.offsets["X"]] += 0.5
    return CausalEngine(model, tok, seed=0, batch_size=64, num_threads=1), df


def test_samples_are_always_valid_values(engine):
    eng, df = engine
    s = eng.sample(300)
    assert set(s.X) <= {"a", "b", "c"}
    assert all(isinstance(v, list) and len(v) <= 6 and set(v) <= set(MOVES) for v in s.S)
    assert s.Y.between(df.Y.min(), df.Y.max()).all()
    assert len({len(v) for v in s.S}) > 1  # variable lengths within one batch


def _full_forward_argmax(model, tok, row_ids):
    """Greedy choices recomputed without any cache, from the compact token sequence."""
    seq = torch.tensor([row_ids])
    with torch.no_grad():
        return model(input_ids=seq).logits[0].float()


def test_kv_cache_with_ragged_rows_matches_uncached_forward(engine):
    eng, _ = engine
    tok, model = eng.tokenizer, eng.model
    plans = [VariablePlan(n) for n in tok.order]
    ids = sample_tokens(model, tok, plans, 24, batch_size=10, temperature=0.0)
    for r in range(24):
        row = [tok.bos_token_id]
        for name in tok.order:
            row.append(tok.start_ids[name])
            for pos, t in enumerate(ids[name][r]):
                logits = _full_forward_argmax(model, tok, row)[-1]
                allowed = tok.allowed_ids(name, pos)
                assert t == allowed[int(torch.argmax(logits[allowed]))], (r, name, pos)
                row.append(t)


def test_seeded_determinism_and_batch_size_independence_of_validity(engine):
    eng, _ = engine
    a = eng.sample(100, seed=7)
    b = eng.sample(100, seed=7)
    pd.testing.assert_frame_equal(a, b)


def test_do_clamps_and_partial_sequence_intervention(engine):
    eng, _ = engine
    s = eng.sample(200, do={"S": ["E", "E"]})
    assert all(v == ["E", "E"] for v in s.S)
    p = eng.sample(200, do={"S": {0: "N", 2: "W"}})
    assert all(len(v) >= 3 and v[0] == "N" and v[2] == "W" for v in p.S)
    assert len({tuple(v) for v in p.S}) > 5  # the free positions and the length are sampled
    with pytest.raises(ValueError, match="positions"):
        eng.sample(5, do={"S": {9: "N"}})
    with pytest.raises(ValueError, match="unknown value"):
        eng.sample(5, do={"S": {0: "up"}})


def test_shared_clamp_broadcast_equals_the_same_clamp_given_per_row(engine):
    """A do() value (one clamp for all rows) takes a broadcast path; it must sample exactly what the
    per-row path gives when every row carries that same value."""
    eng, _ = engine
    tok, model = eng.tokenizer, eng.model
    value = tok.encode_value("S", ["E", "N", "W"])
    n = 12

    def draw(clamp):
        plans = [VariablePlan(name, clamp=clamp if name == "S" else None) for name in tok.order]
        return sample_tokens(model, tok, plans, n, batch_size=5, temperature=1.0, seed=3)

    shared, per_row = draw([value]), draw([value] * n)
    assert shared.keys() == per_row.keys()
    for name in shared:
        assert [list(r) for r in shared[name]] == [list(r) for r in per_row[name]], name
    assert all(list(row) == list(value) for row in shared["S"])


def test_per_row_evidence_and_ancestral_truncation(engine):
    eng, _ = engine
    seqs = pd.Series([["N"], [], ["S", "S", "W"], ["E", "N", "S", "W", "E"]] * 5)
    xs = pd.Series(["a", "b", "c", "a"] * 5)
    s = eng.sample(20, given={"X": xs, "S": seqs})
    assert [list(v) for v in s.S] == list(seqs) and list(s.X) == list(xs)
    # D comes after Y: a query for Y never generates it
    assert list(eng.sample(5, variables=["Y"]).columns) == ["Y"]
    with pytest.raises(ValueError, match="ancestors"):
        eng.sample(5, given={"S": ["N"]})  # X (a cause of S) must be fixed too


def test_digit_codec_sampling(engine):
    _, df = engine
    g = CausalGraph({"X": "categorical", "Y": "continuous"}, [("X", "Y")])
    tok = CausalSequenceTokenizer.from_data(df, g, continuous_codec="digits", n_digits=3)
    cfg = CausalARConfig(backbone_config={"model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
                                          "num_hidden_layers": 1, "num_attention_heads": 2,
                                          "num_key_value_heads": 2},
                         vocab_size=len(tok), max_positions=tok.max_sequence_length())
    eng = CausalEngine(CausalARModel(cfg), tok, num_threads=1)
    s = eng.sample(100, do={"X": "b"})
    assert (s.X == "b").all() and s.Y.between(df.Y.min(), df.Y.max()).all()


def test_pretrained_backbone_path_is_pluggable(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50, n_positions=32)).save_pretrained(
        tmp_path / "backbone"
    )
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"A": rng.integers(0, 2, 50), "Y": rng.normal(size=50)})
    g = CausalGraph({"A": "binary", "Y": "continuous"}, [("A", "Y")])
    eng = CausalEngine.train(df, g, backbone=str(tmp_path / "backbone"), max_steps=2, progress=False, num_threads=1)
    assert eng.model.config.backbone_name_or_path == str(tmp_path / "backbone")
    assert eng.model.backbone.get_input_embeddings().weight.shape[0] == len(eng.tokenizer)
    eng.save_pretrained(tmp_path / "engine")
    again = CausalEngine.from_pretrained(tmp_path / "engine")
    pd.testing.assert_frame_equal(again.sample(20, seed=0), eng.sample(20, seed=0))


def test_values_outside_the_training_range_are_reported_not_silently_clamped(engine):
    """A quantile codec encodes Y=100 as its top bin, exactly as Y=max: the answer is the edge's, so say so."""
    eng, df = engine
    lo, hi = df.Y.min(), df.Y.max()
    given = {"X": "a", "S": ["N"]}
    edge = eng.predict_mean("D", given={**given, "Y": float(hi)})
    with pytest.warns(OutOfRangeWarning, match=rf"given 'Y': the value lies outside the range seen in training "
                                               rf"\[{lo:.6g}, {hi:.6g}\] \(e.g. 100\)"):
        far = eng.predict_mean("D", given={**given, "Y": 100.0})
    np.testing.assert_array_equal(far, edge)  # what the warning says: the edge's answer
    with pytest.warns(OutOfRangeWarning, match="2 of 3 values lie outside"):
        eng.sample(3, given={"X": ["a"] * 3, "S": pd.Series([["N"]] * 3), "Y": np.array([0.0, -1e9, 1e9])})
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)
        eng.sample(3, given={**given, "Y": float(lo)})  # the range's own edges are inside
    strict = CausalEngine(eng.model, eng.tokenizer, num_threads=1, out_of_range="raise")
    with pytest.raises(ValueError, match="given 'Y': the value lies outside the range seen in training"):
        strict.sample(3, given={**given, "Y": 1e9})
    with pytest.raises(ValueError, match="out_of_range must be one of"):
        CausalEngine(eng.model, eng.tokenizer, out_of_range="clip")
    # a trained or loaded engine is made strict in place
    relaxed = CausalEngine(eng.model, eng.tokenizer, num_threads=1)
    relaxed.out_of_range = "raise"
    assert relaxed.out_of_range == "raise"
    with pytest.raises(ValueError, match="given 'Y': the value lies outside the range seen in training"):
        relaxed.sample(3, given={**given, "Y": 1e9})
    with pytest.raises(ValueError, match="out_of_range must be one of"):
        relaxed.out_of_range = "clip"


def test_infinite_query_values_are_refused_like_nan(engine):
    """An infinite value would be clamped to the edge bin (and under do() reported back as inf): refused, with no
    out-of-range warning first."""
    eng, _ = engine
    given = {"X": "a", "S": ["N"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)
        for value in (np.inf, -np.inf):
            with pytest.raises(ValueError, match="variable 'Y': infinite values are not supported"):
                eng.sample(3, do={"Y": value})
            with pytest.raises(ValueError, match="variable 'Y': infinite values are not supported"):
                eng.predict_mean("D", given={**given, "Y": value})
        with pytest.raises(ValueError, match="variable 'Y' has infinite values"):
            eng.sample(3, given={"X": ["a"] * 3, "S": pd.Series([["N"]] * 3), "Y": np.array([0.0, np.inf, 1.0])})
    g = CausalGraph({"X": "categorical", "Y": "continuous"}, [("X", "Y")])
    digits = CausalSequenceTokenizer.from_data(engine[1], g, continuous_codec="digits", n_digits=2)
    with pytest.raises(ValueError, match="variable 'Y': infinite values are not supported"):
        digits.encode_value("Y", np.inf)


def test_digit_codecs_know_their_range_too(engine):
    _, df = engine
    g = CausalGraph({"X": "categorical", "Y": "continuous"}, [("X", "Y")])
    tok = CausalSequenceTokenizer.from_data(df, g, continuous_codec="digits", n_digits=3)
    codec = tok.codecs["Y"]
    assert codec.out_of_range([df.Y.min(), df.Y.max(), 0.0]) is None
    assert "outside the range seen in training" in codec.out_of_range([df.Y.max() + 1.0])
    assert tok.codecs["X"].out_of_range(["a", "zzz"]) is None  # unknown levels are encode()'s to refuse
    eng = CausalEngine(CausalARModel(CausalARConfig(
        backbone_config={"model_type": "gpt2", "n_embd": 16, "n_layer": 1, "n_head": 2},
        vocab_size=len(tok), max_positions=tok.max_sequence_length())), tok, num_threads=1)
    with pytest.warns(OutOfRangeWarning, match="do 'Y'"):
        eng.sample(2, do={"Y": df.Y.min() - 5.0})


def test_sampling_passes_the_kv_cache_under_the_backbones_own_name(engine):
    """transformers renamed ``past_key_values`` to ``cache`` and warns on every forward call that uses the old
    name; sampling (one call per sampled variable and batch) must not flood the output with FutureWarnings."""
    from hf_causal.engine.modeling_causal_ar import cache_keyword

    eng, _ = engine
    parameters = inspect.signature(type(eng.model.backbone).forward).parameters
    assert cache_keyword(eng.model.backbone) in parameters
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        draws = eng.sample(50, seed=0)
        eng.ate("S", "Y", treated=["N"], control=[], n=20)
    assert len(draws) == 50


def test_a_partial_sequence_intervention_samples_the_models_own_next_element(engine):
    """With ``do={"S": {0: "N"}}`` the second element (or the end) is drawn from the model's softmax after the
    fixed first element, restricted to the tokens valid there: the frequencies of 20,000 draws match it."""
    eng, _ = engine
    tok = eng.tokenizer
    prefix = [tok.bos_token_id, *tok.lead_ids("X"), *tok.encode_value("X", "a"), *tok.lead_ids("S"),
              tok.element_token_id("S", "N")]
    with torch.no_grad():
        logits = eng.model(input_ids=torch.tensor([prefix])).logits[0, -1].double()
    allowed = tok.allowed_ids("S", 1)
    probs = torch.softmax(logits[torch.as_tensor(allowed)], dim=0).numpy()
    draws = eng.sample(20_000, do={"X": "a", "S": {0: "N"}}, variables=["S"], seed=3)["S"]
    names = {tok.element_token_id("S", m): m for m in MOVES}
    observed = np.array([np.mean([len(s) > 1 and s[1] == names[i] for s in draws]) if i in names
                         else np.mean([len(s) == 1 for s in draws]) for i in allowed])
    assert observed.sum() == pytest.approx(1.0)
    se = np.sqrt(probs * (1 - probs) / len(draws))
    assert np.all(np.abs(observed - probs) < 4 * se + 1e-3), (observed, probs)
