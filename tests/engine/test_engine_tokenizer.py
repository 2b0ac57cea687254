"""CausalSequenceTokenizer: exact round-trips (hypothesis), bin resolution, errors, save/load."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from hf_causal.engine.codecs import DigitCodec, QuantileCodec
from hf_causal.engine.graph import CausalGraph
from hf_causal.engine.tokenization_causal import CausalSequenceTokenizer

LEVELS = ["red", "green", "blue", "dark red"]
MOVES = ["N", "S", "E", "W"]


def _fit() -> tuple[CausalSequenceTokenizer, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 400
    seqs = [list(rng.choice(MOVES, rng.integers(0, 7))) for _ in range(n)]
    seqs[0] = list(MOVES) + ["N", "N"]  # max_length 6 reached and every element seen
    df = pd.DataFrame({
        "C": rng.choice(LEVELS, n),
        "B": rng.integers(0, 2, n),
        "K": rng.integers(-3, 4, n),
        "X": rng.normal(size=n) * 10,
        "S": seqs,
        "T": [" ".join(rng.choice(["the", "cat", "sat"], rng.integers(1, 4))) for _ in range(n)],
    })
    g = CausalGraph(
        {"C": "categorical", "B": "binary", "K": "integer", "X": "continuous", "S": "sequence", "T": "text"},
        [("C", "B"), ("B", "X"), ("K", "X"), ("X", "S"), ("S", "T")],
    )
    return CausalSequenceTokenizer.from_data(df, g, n_bins=20), df


TOK, DF = _fit()

rows = st.fixed_dictionaries({
    "C": st.sampled_from(LEVELS),
    "B": st.sampled_from([0, 1]),
    "K": st.integers(-3, 3),
    "X": st.floats(float(DF.X.min()), float(DF.X.max())),
    "S": st.lists(st.sampled_from(MOVES), max_size=6),
    "T": st.lists(st.sampled_from(["the", "cat", "sat"]), min_size=0, max_size=3).map(" ".join),
})


@settings(max_examples=100, deadline=None)
@given(rows)
def test_round_trip_exact_for_discrete_and_within_bin_for_continuous(row):
    ids = TOK.encode_row_ids(row)
    back = TOK.decode_ids(ids, rng=np.random.default_rng(1))
    for name in ("C", "B", "K", "S", "T"):
        assert back[name] == row[name]
    codec = TOK.codecs["X"]
    assert isinstance(codec, QuantileCodec)
    b = codec.bin_of(np.array([row["X"]]))[0]
    assert codec.edges[b] <= back["X"] <= codec.edges[b + 1]
    # the string form goes through the `tokenizers` backend to the same ids
    text = " ".join(TOK.convert_ids_to_tokens(ids))
    assert TOK(text)["input_ids"] == ids


@settings(max_examples=100, deadline=None)
@given(st.floats(-50, 50), st.integers(1, 4))
def test_digit_codec_round_trip_within_cell(x, digits):
    codec = DigitCodec(-50.0, 50.0, digits)
    local = codec.encode(x)
    assert len(local) == digits and all(0 <= d <= 9 for d in local)
    assert abs(codec.decode(local, np.random.default_rng(0)) - x) <= 100.0 / 10**digits + 1e-9


def test_layout_start_tokens_in_topological_order_and_contiguous_value_blocks():
    starts = [TOK.start_ids[n] for n in TOK.order]
    assert starts == sorted(starts)
    assert TOK.convert_ids_to_tokens(starts) == [f"<start_{n}>" for n in TOK.order]
    assert set(TOK.all_special_tokens) >= {f"<start_{n}>" for n in TOK.order}
    blocks = [set(TOK.value_ids(n)) for n in TOK.order]
    assert sum(len(b) for b in blocks) == len(set().union(*blocks))
    assert len(TOK.codecs["S"].token_names()) == len(MOVES) + 1  # elements + end token
    # sequences are forced to end at max_length
    assert list(TOK.allowed_ids("S", 6)) == [TOK.offsets["S"] + TOK.codecs["S"].end]


def test_labels_only_on_value_tokens():
    batch = TOK.build_inputs(DF.head(5))
    ids, labels = batch["input_ids"].numpy(), batch["labels"].numpy()
    structural = np.isin(ids, [TOK.bos_token_id, TOK.pad_token_id, *TOK.start_ids.values()])
    assert np.all(labels[structural] == -100)
    assert np.all(labels[~structural] == ids[~structural])


def test_loss_groups_are_each_variables_value_block():
    groups = TOK.loss_groups()
    assert len(groups) == len(TOK)
    for i, name in enumerate(TOK.order):
        assert set(np.flatnonzero(groups == i)) == set(TOK.value_ids(name))  # end tokens included
    structural = [TOK.bos_token_id, TOK.pad_token_id, *TOK.start_ids.values()]
    assert np.all(groups[structural] == -1)


def test_bad_values_raise():
    row = {"C": "red", "B": 1, "K": 0, "X": 0.0, "S": ["N"], "T": "cat"}
    with pytest.raises(ValueError, match="unknown value"):
        TOK.encode_row_ids({**row, "C": "purple"})
    with pytest.raises(ValueError, match="unknown value"):
        TOK.encode_row_ids({**row, "S": ["up"]})
    with pytest.raises(ValueError, match="NaN"):
        TOK.encode_row_ids({**row, "X": float("nan")})
    with pytest.raises(TypeError):
        TOK.encode_row_ids({**row, "X": "high"})
    with pytest.raises(TypeError):
        TOK.encode_row_ids({**row, "S": "NSEW"})
    with pytest.raises(ValueError, match="max_length"):
        TOK.encode_row_ids({**row, "S": ["N"] * 7})
    with pytest.raises(ValueError, match="lacks"):
        TOK.encode_row_ids({"C": "red"})
    g = CausalGraph({"A": "binary", "Y": "continuous"}, [("A", "Y")])
    with pytest.raises(ValueError, match="missing"):
        CausalSequenceTokenizer.from_data(pd.DataFrame({"A": [0, 1, None], "Y": [0.0, 1.0, 2.0]}), g)
    with pytest.raises(ValueError, match="distinct"):
        CausalSequenceTokenizer.from_data(pd.DataFrame({"A": [0, 1, 2], "Y": [0.0, 1.0, 2.0]}), g)
    with pytest.raises(TypeError, match="numbers"):
        CausalSequenceTokenizer.from_data(pd.DataFrame({"A": [0, 1, 1], "Y": ["a", "b", "c"]}), g)
    with pytest.raises(ValueError, match="lacks"):
        CausalSequenceTokenizer.from_data(pd.DataFrame({"A": [0, 1]}), g)
    with pytest.raises(ValueError, match=r"more than one column named \['Y'\]"):
        CausalSequenceTokenizer.from_data(pd.DataFrame([[0, 1.0, 2.0], [1, 0.0, 1.0]], columns=["A", "Y", "Y"]), g)
    with pytest.raises(ValueError, match="binary variable 'A' takes the single value 1"):
        CausalSequenceTokenizer.from_data(pd.DataFrame({"A": [1, 1, 1], "Y": [0.0, 1.0, 2.0]}), g)
    with pytest.raises(TypeError, match="must hold numbers, got dtype complex128"):
        CausalSequenceTokenizer.from_data(pd.DataFrame({"A": [0, 1, 1], "Y": [1j, 2.0, 3.0]}), g)


def test_a_continuous_variable_needs_two_bins():
    """One bin holds every value: the model could only answer the variable's mean, every effect on it 0."""
    g = CausalGraph({"A": "binary", "Y": "continuous"}, [("A", "Y")])
    df = pd.DataFrame({"A": [0, 1, 0, 1], "Y": [0.0, 1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="variable 'Y': n_bins must be >= 2, got 1: .* every effect on it would be 0"):
        CausalSequenceTokenizer.from_data(df, g, n_bins=1)
    own = CausalGraph({"A": "binary", "Y": {"type": "continuous", "n_bins": 1}}, [("A", "Y")])
    with pytest.raises(ValueError, match="variable 'Y': n_bins must be >= 2"):
        CausalSequenceTokenizer.from_data(df, own)
    with pytest.raises(TypeError, match="variable 'Y': n_bins must be an integer >= 2, got 2.5"):
        CausalSequenceTokenizer.from_data(df, g, n_bins=2.5)
    assert CausalSequenceTokenizer.from_data(df, g, n_bins=1, continuous_codec="digits")  # bins are not used


def test_values_whose_variance_overflows_float64_are_refused():
    """Bin means, effects and their intervals of such values come out inf or NaN: name the variable and the row."""
    g = CausalGraph({"A": "binary", "Y": "continuous"}, [("A", "Y")])
    y = np.random.default_rng(0).normal(size=20)
    df = pd.DataFrame({"A": np.arange(20) % 2, "Y": y})
    big = int(np.abs(y).argmax())
    with pytest.raises(ValueError, match=rf"continuous variable 'Y': values up to .*e\+300 \(row {big}\) are too "
                                         r"large to compute with in float64 \(their variance overflows\); rescale"):
        CausalSequenceTokenizer.from_data(df.assign(Y=y * 1e300), g)
    with pytest.raises(ValueError, match=r"values up to 1e\+308 \(row 5\)"):
        CausalSequenceTokenizer.from_data(df.assign(Y=np.where(np.arange(20) == 5, 1e308, y)), g)
    with pytest.raises(ValueError, match="variance overflows"):
        CausalSequenceTokenizer.from_data(df.assign(Y=y * 1e300), g, continuous_codec="digits")
    assert CausalSequenceTokenizer.from_data(df.assign(Y=y * 1e150), g)  # large, but its variance is finite


def test_save_and_reload_with_auto_tokenizer(tmp_path):
    TOK.save_pretrained(tmp_path)
    for loaded in (CausalSequenceTokenizer.from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path)):
        assert isinstance(loaded, CausalSequenceTokenizer)
        assert loaded.get_vocab() == TOK.get_vocab()
        assert loaded.encode_frame(DF.head(20)) == TOK.encode_frame(DF.head(20))
        assert loaded.graph == TOK.graph


def test_codecs_answer_what_queries_may_do_with_their_values():
    """Each codec says itself whether it is one token, discrete, numeric, binary, or partly intervenable;
    the vectorised encode/decode equal the per-value ones."""
    from hf_causal.engine.codecs import CategoricalCodec, DigitCodec, QuantileCodec, SequenceCodec

    binary, colour = CategoricalCodec([0, 1], name="A"), CategoricalCodec(["red", "blue"], name="C")
    bins = QuantileCodec([0.0, 1.0, 3.0], name="Y")
    digits, seq = DigitCodec(0.0, 10.0, 2, name="D"), SequenceCodec(["N", "E"], max_length=3, name="S")
    assert [c.single_token for c in (binary, bins, digits, seq)] == [True, True, False, False]
    assert [c.discrete for c in (binary, bins, digits, seq)] == [True, False, False, False]
    assert [c.decodes_exactly for c in (binary, bins, digits, seq)] == [True, False, False, True]
    assert binary.binary_levels() == (0, 1) and bins.binary_levels() is None
    assert binary.non_numeric_reason() is None and "non-numeric" in colour.non_numeric_reason()
    assert "sequence" in seq.non_numeric_reason() and digits.non_numeric_reason() is None
    assert seq.partial_positions({0: "N"}) and not seq.partial_positions(["N"]) and not binary.partial_positions({})
    assert seq.list_is_one_value and not binary.list_is_one_value
    assert bins.score_columns() == [0.5, 2.0] and colour.score_columns() == ["red", "blue"]
    with pytest.raises(ValueError, match="one-token"):
        digits.score_columns()
    values = [0.2, 2.5, 1.0, 2.9]
    assert bins.encode_many(values).tolist() == [bins.encode(v)[0] for v in values]
    assert bins.decode_many(np.array([0, 1])).tolist() == [bins.decode([0]), bins.decode([1])]
    assert colour.decode_many(np.array([1, 0])).tolist() == ["blue", "red"]
    assert seq.encode_many(["N"]) is None and seq.decode_many(np.array([0])) is None
