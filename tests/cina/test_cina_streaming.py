"""Streamed estimates (docs/design.md §4.9): the same estimate as in memory from parquet, datasets and chunk
iterators; the value network against fixed landmarks is the model's own forward pass; bad chunks are named;
memory does not grow with the table; weights come back per row."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
import torch
from support import tiny_cina_model

from hf_causal.cina.stream_forward import LandmarkForward
from hf_causal.cina.streaming import estimate_stream

RTOL = 1e-8


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Blocks of a few hundred units: a second intra-op thread only waits (the cluster test runs processes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    # landmarks below N, three bandwidths (whole multiples, the fast path) and two layers: every code path
    return tiny_cina_model(seed=0, landmark_units=64, kernel_temperatures=[0.5, 1.0, 2.0], num_layers=2)


def table(n: int, seed: int = 0) -> pd.DataFrame:
    """Confounded data with a binary, a categorical and a constant covariate; the effect is 2."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-(1.2 * x[:, 0] - 0.8 * x[:, 1])))).astype(np.int64)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["flag"] = (rng.random(n) < 0.3).astype(np.int64)
    frame["region"] = np.where(x[:, 2] > 0.5, "north", np.where(x[:, 2] < -0.5, "south", "west"))
    frame["const"] = 1.0
    frame["t"] = t
    frame["y"] = 3 * x[:, 0] - 2 * x[:, 1] + x[:, 0] * x[:, 2] + frame["flag"] + 2 * t + rng.normal(size=n)
    return frame


def write_parts(frame: pd.DataFrame, folder, sizes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    start = 0
    for k, size in enumerate(sizes):
        frame.iloc[start : start + size].to_parquet(folder / f"part-{k}.parquet", index=False)
        start += size
    assert start == len(frame)


def in_memory(model, frame: pd.DataFrame, **options):
    covariates = frame.drop(columns=["t", "y"])
    return model.estimate(covariates, frame["t"], frame["y"], **options)


def assert_same(streamed, reference) -> None:
    for field in ("value", "std_error", "ess_treated", "ess_control"):
        a, b = getattr(streamed, field), getattr(reference, field)
        assert abs(a - b) <= RTOL * abs(b), (field, a, b)
    assert streamed.n == reference.n and streamed.supported == reference.supported
    assert list(streamed.balance.index) == list(reference.balance.index)
    np.testing.assert_allclose(streamed.balance.to_numpy(), reference.balance.to_numpy(), rtol=RTOL, atol=1e-12)
    assert streamed.max_residual_imbalance == pytest.approx(reference.max_residual_imbalance, rel=1e-6, abs=1e-12)


def test_a_parquet_folder_of_1e5_rows_gives_the_in_memory_estimate(model, tmp_path):
    """Uneven files, chunks that straddle them, above the outcome model's landmark sample: exact to 1e-8."""
    frame = table(100_000)
    write_parts(frame, tmp_path / "data", [31_000, 50_000, 19_000])
    weights = tmp_path / "weights"
    streamed = estimate_stream(model, tmp_path / "data", "t", "y", chunk_rows=16_384, weights_path=weights)
    reference = in_memory(model, frame)
    assert_same(streamed, reference)
    assert abs(reference.value - 2.0) < 0.1  # and it is a good estimate
    written = pd.read_parquet(weights).sort_values("row")
    np.testing.assert_array_equal(written["row"].to_numpy(), np.arange(len(frame)))
    np.testing.assert_array_equal(written["treatment"].to_numpy(), frame["t"].to_numpy())
    np.testing.assert_allclose(written["weight"].to_numpy(), reference.weights, rtol=RTOL, atol=1e-15)


def test_a_parquet_folder_of_1e6_rows_gives_the_in_memory_estimate(model, tmp_path):
    """The same at 10^6 rows (the size the streamed passes exist for; ~1 minute): exact to 1e-8."""
    frame = table(1_000_000, seed=2)
    write_parts(frame, tmp_path / "data", [400_000, 350_000, 250_000])
    streamed = estimate_stream(model, tmp_path / "data", "t", "y", chunk_rows=131_072)
    reference = in_memory(model, frame)
    assert_same(streamed, reference)
    assert abs(reference.value - 2.0) < 0.05


@pytest.mark.parametrize(
    "estimand, outcome_model, moments",
    [("att", "none", 2), ("atc", "kernel", 1), ("overlap", "none", 2), ("ate", "none", 1)],
)
def test_every_estimand_and_outcome_model_streams_exactly(model, estimand, outcome_model, moments):
    frame = table(6_000, seed=1)
    options = {"estimand": estimand, "outcome_model": outcome_model, "moments": moments}
    streamed = estimate_stream(model, frame, "t", "y", chunk_rows=1_000, **options)
    assert_same(streamed, in_memory(model, frame, **options))


def test_iterators_datasets_and_iterable_datasets_are_sources(model):
    import datasets

    frame = table(4_000, seed=2)
    reference = in_memory(model, frame, estimand="att")
    chunks = (frame.iloc[s : s + 700] for s in range(0, len(frame), 700))  # read once: spilled to disk
    dataset = datasets.Dataset.from_pandas(frame, preserve_index=False)
    for source in (chunks, dataset, dataset.to_iterable_dataset(num_shards=2)):
        assert_same(model.estimate(source, "t", "y", estimand="att", chunk_rows=900), reference)


def test_the_value_network_against_fixed_landmarks_is_the_models_forward(model, monkeypatch):
    """Same landmarks, float64: the chunked forward pass equals CInAModel.forward's duals."""
    import hf_causal.cina.modeling_cina as modeling

    net = tiny_cina_model(seed=3, kernel_temperatures=[0.5, 1.5], num_layers=2).double()  # not whole multiples
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4)) * [1.0, 3.0, 0.1, 9.0] + 2.0
    x[:, 2] = 1.0  # a constant column counts in d and standardises to 0
    t = (rng.random(500) < 0.4).astype(float)
    chosen = np.sort(rng.choice(500, 40, replace=False))
    monkeypatch.setattr(modeling, "landmark_indices", lambda *a, **k: torch.as_tensor(chosen).unsqueeze(0))
    with torch.no_grad():
        expected = net(torch.tensor(x)[None], torch.tensor(t)[None], return_objective=False, landmark_units=40).dual[0]
    sd = x.std(0)
    z = np.clip(np.where(sd > 1e-12, (x - x.mean(0)) / np.where(sd > 1e-12, sd, 1.0), 0.0), -5, 5)
    forward = LandmarkForward(net, z[chosen], 2 * t[chosen] - 1)
    forward.fix_density(np.concatenate([forward.log_normalisers(z[:123]), forward.log_normalisers(z[123:])]).mean(0))
    duals = np.concatenate([forward.duals(z[:77], 2 * t[:77] - 1), forward.duals(z[77:], 2 * t[77:] - 1)])
    np.testing.assert_allclose(duals, expected.numpy(), rtol=1e-12, atol=1e-14)


def _bad(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    frame = frame.copy()
    if kind == "nan":
        frame.loc[2_345, "b"] = np.nan
    elif kind == "treatment":
        frame.loc[2_345, "t"] = 2
    elif kind == "outcome":
        frame.loc[2_345, "y"] = np.inf
    return frame


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nan", r"chunk 2 \(rows 2,000-2,999 of the chunk iterator\), row 2,345: covariate 'b' is nan"),
        ("treatment", r"chunk 2 \(rows 2,000-2,999 of the chunk iterator\), row 2,345: treatment 't' is 2, not 0 or 1"),
        ("outcome", r"chunk 2 \(rows 2,000-2,999 of the chunk iterator\), row 2,345: outcome 'y' is inf"),
        ("missing", r"chunk 2 \(rows 2,000-2,999 of the chunk iterator\): column \['c'\] missing"),
        ("dtype", r"chunk 3 \(rows 3,000-3,999 of the chunk iterator\): column 'flag' changed dtype from int64 "
                  r"\(first chunk\) to float64"),
    ],
)
def test_a_bad_chunk_stops_the_estimate_naming_chunk_and_row(model, kind, message):
    frame = _bad(table(5_000, seed=4), kind)
    chunks = [frame.iloc[s : s + 1_000] for s in range(0, 5_000, 1_000)]
    if kind == "missing":
        chunks[2] = chunks[2].drop(columns=["c"])
    if kind == "dtype":
        chunks[3] = chunks[3].astype({"flag": "float64"})
    with pytest.raises(ValueError, match=message):
        estimate_stream(model, iter(chunks), "t", "y", chunk_rows=1_000)


def test_bad_input_in_a_parquet_file_names_the_file(model, tmp_path):
    frame = table(3_000, seed=5)
    frame.loc[2_100, "a"] = np.nan
    write_parts(frame, tmp_path, [2_000, 1_000])
    with pytest.raises(ValueError, match=r"chunk 4 \(rows 2,000-2,499 of the table: rows 0-499 of part-1.parquet\), "
                                         r"row 2,100 \(row 100 of part-1.parquet\): covariate 'a'"):
        estimate_stream(model, tmp_path, "t", "y", chunk_rows=500)


def test_options_that_need_the_table_in_memory_are_refused(model):
    frame = table(500)
    with pytest.raises(ValueError, match="pretrained"):
        estimate_stream(model, frame, "t", "y", outcome_model="pretrained")
    with pytest.raises(ValueError, match="method='cina-zs'"):
        estimate_stream(model, frame, "t", "y", method="cina")
    with pytest.raises(ValueError, match="columns not found"):
        estimate_stream(model, frame, "treated", "y")


def _peak_bytes(model, frame: pd.DataFrame, tmp_path, name: str) -> int:
    write_parts(frame, tmp_path / name, [len(frame) // 2, len(frame) - len(frame) // 2])
    tracemalloc.start()
    try:
        estimate_stream(model, tmp_path / name, "t", "y", chunk_rows=1_000, outcome_model="none")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_the_chunk_not_the_table(model, tmp_path):
    """Peak numpy allocations of a streamed estimate: the same at 4,000 and 32,000 rows (chunks of 1,000); an
    in-memory estimate of the larger table needs more for its covariates alone."""
    small = _peak_bytes(model, table(4_000, seed=6), tmp_path, "small")
    large = _peak_bytes(model, table(32_000, seed=6), tmp_path, "large")
    covariates = 32_000 * 7 * 8
    assert large < 1.5 * small + 2**20, (small, large)
    assert large < covariates, (large, covariates)
