"""Exact effects by enumeration, checked against the model's own conditionals chained by hand and
against paired Monte Carlo on the same (untrained: any logits must work) model."""

import numpy as np
import pandas as pd
import pytest
from support import random_engine

from hf_causal.engine.codecs import QuantileCodec, ValueCodec
from hf_causal.engine.graph import CausalGraph
from hf_causal.engine.interventional import EXACT_INTERVAL, MONTE_CARLO_INTERVAL


def _engine(df, graph, seed=0):
    return random_engine(df, graph, n_bins=8, sharpen=40.0, seed=seed)


@pytest.fixture(scope="module")
def chain():
    """X (3 levels) -> M (binary) -> A (binary) -> Y (binned continuous), plus X -> A, X -> Y."""
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"X": rng.choice(["a", "b", "c"], n), "M": rng.integers(0, 2, n),
                       "A": rng.integers(0, 2, n), "Y": rng.gamma(2.0, 1.0, n)})
    graph = CausalGraph({"X": "categorical", "M": "binary", "A": "binary", "Y": "continuous"},
                        [("X", "M"), ("M", "A"), ("X", "A"), ("A", "Y"), ("X", "Y")])
    return _engine(df, graph)


def _chained_mean(eng, arm, given=None):
    """sum_{x, m} p(x) p(m | x) E[Y | x, m, do(A=arm)], each factor a one-pass exact conditional."""
    given = dict(given or {})
    xs = [given["X"]] if "X" in given else ["a", "b", "c"]
    p_x = {x: 1.0 for x in xs} if "X" in given else eng.predict_proba("X").iloc[0].to_dict()
    total = 0.0
    for x in xs:
        p_m = eng.predict_proba("M", given={"X": x}).iloc[0].to_dict()
        for m in (0, 1):
            y = eng.predict_mean("Y", given={"X": x, "M": m}, do={"A": arm})[0]
            total += p_x[x] * p_m[m] * y
    return total


def test_exact_ate_equals_hand_chained_conditionals(chain):
    ate = chain.ate("A", "Y")
    expected = _chained_mean(chain, 1) - _chained_mean(chain, 0)
    assert ate.interval == EXACT_INTERVAL and ate.std_error == 0.0 and ate.ci_low == ate.ci_high == ate.value
    assert ate.n == 3 * 2  # configurations of the free variables X and M
    assert ate.value == pytest.approx(expected, abs=1e-6)  # float32 forward passes
    assert abs(expected) > 1e-3  # the sharpened random model has a non-trivial effect to get right


def test_exact_cate_and_interventional_mean_equal_hand_chained_conditionals(chain):
    cate = chain.cate("A", "Y", given={"X": "b"})
    expected = _chained_mean(chain, 1, {"X": "b"}) - _chained_mean(chain, 0, {"X": "b"})
    assert cate.estimand == "cate" and cate.value == pytest.approx(expected, abs=1e-6)  # float32 forward passes
    mean = chain.interventional_mean("Y", do={"A": 1})
    assert mean.interval == EXACT_INTERVAL
    assert mean.value == pytest.approx(_chained_mean(chain, 1), abs=1e-6)


def test_per_row_evidence_is_answered_by_paired_draws_and_averages_the_exact_cates(chain):
    levels = np.repeat(["a", "b", "c"], 2000)  # one evidence value per row: one query per row
    per_row = chain.cate("A", "Y", given={"X": levels}, n=len(levels), seed=2)
    assert per_row.interval == MONTE_CARLO_INTERVAL and per_row.std_error > 0
    assert "X=<6,000 values, one per row>" in per_row.query  # not the array's repr
    expected = np.mean([chain.cate("A", "Y", given={"X": x}).value for x in "abc"])  # each by enumeration
    assert abs(per_row.value - expected) < 4 * per_row.std_error
    with pytest.raises(ValueError, match="cannot be enumerated here: the evidence varies per row"):
        chain.cate("A", "Y", given={"X": levels}, n=len(levels), exact=True)
    with pytest.raises(ValueError, match="'X': got 6000 per-row values for n=10"):
        chain.cate("A", "Y", given={"X": levels}, n=10)


def test_an_exact_answer_checks_its_confidence_level(chain):
    for level in (1.5, -1, 0):
        with pytest.raises(ValueError, match="confidence must be in"):
            chain.ate("A", "Y", confidence=level)


def test_enumeration_is_independent_of_batch_size(chain):
    value = chain.ate("A", "Y").value
    old = chain.batch_size
    try:
        chain.batch_size = 1
        assert chain.ate("A", "Y").value == pytest.approx(value, abs=1e-6)
    finally:
        chain.batch_size = old


def test_exact_agrees_with_paired_monte_carlo_on_a_binary_outcome():
    rng = np.random.default_rng(1)
    n = 300
    df = pd.DataFrame({"X": rng.choice(["a", "b", "c", "d"], n), "A": rng.integers(0, 2, n),
                       "Y": rng.integers(0, 2, n)})
    graph = CausalGraph({"X": "categorical", "A": "binary", "Y": "binary"}, [("X", "A"), ("X", "Y"), ("A", "Y")])
    eng = _engine(df, graph, seed=3)
    exact = eng.ate("A", "Y")
    sampled = eng.ate("A", "Y", exact=False, n=40_000, seed=5)
    assert sampled.interval == MONTE_CARLO_INTERVAL and sampled.std_error > 0
    assert abs(sampled.value - exact.value) < 4 * sampled.std_error


def test_support_limit_and_non_enumerable_queries_fall_back_to_sampling(chain):
    old = chain.max_exact_support
    try:
        chain.max_exact_support = 5  # the ATE needs 6 configurations
        assert chain.ate("A", "Y", n=200).interval == MONTE_CARLO_INTERVAL
        assert chain.ate("A", "Y", exact=True).interval == EXACT_INTERVAL  # insisting overrides the size limit
    finally:
        chain.max_exact_support = old
    rng = np.random.default_rng(2)
    n = 200
    df = pd.DataFrame({"S": [list(rng.choice(["u", "v"], rng.integers(1, 4))) for _ in range(n)],
                       "A": rng.integers(0, 2, n), "Y": rng.normal(size=n)})
    graph = CausalGraph({"S": "sequence", "A": "binary", "Y": "continuous"}, [("S", "A"), ("S", "Y"), ("A", "Y")])
    eng = _engine(df, graph)
    assert eng.ate("A", "Y", n=100).interval == MONTE_CARLO_INTERVAL
    with pytest.raises(ValueError, match="exact=True.*'Y' cannot be enumerated"):
        eng.ate("A", "Y", exact=True)
    # evidence fixing the sequence makes the query enumerable
    assert eng.cate("A", "Y", given={"S": ["u", "v"]}, exact=True).interval == EXACT_INTERVAL


def test_quantile_codec_stands_each_bin_for_its_mean_training_value():
    values = np.random.default_rng(0).lognormal(0.0, 1.5, 5000)  # skewed: the top bin's midpoint is far off
    codec = QuantileCodec.fit(values, n_bins=4)
    bins = np.searchsorted(codec.edges[1:-1], values, side="right")
    for b in range(4):
        assert codec.score_columns()[b] == pytest.approx(values[bins == b].mean(), rel=1e-12)
    top_midpoint = 0.5 * (codec.edges[-2] + codec.edges[-1])
    assert abs(codec.score_columns()[-1] - values[bins == 3].mean()) < 0.5 * abs(top_midpoint - values[bins == 3].mean())
    restored = ValueCodec.from_dict(codec.to_dict())
    assert np.array_equal(restored.score_columns(), codec.score_columns())
    legacy = {k: v for k, v in codec.to_dict().items() if k != "means"}  # saved before bins had means
    assert np.allclose(ValueCodec.from_dict(legacy).score_columns(), 0.5 * (codec.edges[:-1] + codec.edges[1:]))
    with pytest.raises(ValueError, match="one number per bin"):
        QuantileCodec(codec.edges, means=[1.0])


def test_an_effect_of_a_variable_on_itself_is_refused_on_every_path(chain):
    """The enumeration would clamp the treatment and answer 0 where the truth is treated - control: every entry
    point refuses before choosing a path, the exact one included."""
    for call in (lambda: chain.ate("A", "A"), lambda: chain.ate("A", "A", exact=True),
                 lambda: chain.ate("A", "A", exact=False, n=100), lambda: chain.cate("A", "A", given={"X": "b"}),
                 lambda: chain.att("A", "A", n=100)):
        with pytest.raises(ValueError, match="treatment and outcome must differ, got 'A' for both"):
            call()


def test_query_settings_of_the_wrong_type_are_named(chain):
    for level in ("0.95", None, True):
        with pytest.raises(TypeError, match=rf"confidence must be a number in \(0, 1\), got {level!r}"):
            chain.ate("A", "Y", confidence=level)
    with pytest.raises(TypeError, match="exact must be True, False or None, got 'yes'"):
        chain.ate("A", "Y", exact="yes")
    with pytest.raises(TypeError, match="exact must be True, False or None, got 1"):
        chain.interventional_mean("Y", do={"A": 1}, exact=1)
    for call in (lambda s: chain.sample(5, seed=s), lambda s: chain.ate("A", "Y", seed=s, exact=False, n=10),
                 lambda s: chain.att("A", "Y", seed=s, n=10),
                 lambda s: chain.interventional_distribution("Y", do={"A": 1}, n=5, seed=s)):
        with pytest.raises(TypeError, match="seed must be a non-negative integer or None, got 'a'"):
            call("a")
        with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
            call(-1)
    assert len(chain.sample(5, seed=np.int64(3))) == 5
