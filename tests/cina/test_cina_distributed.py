"""The streamed estimate on a Dask cluster of two worker processes on the loopback interface (docs/design.md §4.9):
the in-memory answer, the weights written back per row by the workers, bad input named from a worker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from support import tiny_cina_model

from hf_causal.cina.streaming import estimate_stream

distributed = pytest.importorskip("dask.distributed")
pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    t = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] - x[:, 1])))).astype(np.int64)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(kind=np.where(x[:, 3] > 0, "u", "v"))
    return frame.assign(t=t, y=2 * x[:, 0] + x[:, 2] ** 2 + 1.5 * t + rng.normal(size=n))


def test_two_workers_give_the_in_memory_estimate_and_write_the_weights(client, tmp_path):
    torch.manual_seed(0)
    model = tiny_cina_model(seed=0, landmark_units=48, kernel_temperatures=[1.0, 2.0])
    frame = _table(12_000)
    data = tmp_path / "data"
    data.mkdir()
    for k, start in enumerate(range(0, len(frame), 2_500)):  # five files: partitions of uneven sizes
        frame.iloc[start : start + 2_500].to_parquet(data / f"part-{k}.parquet", index=False)
    reference = model.estimate(frame.drop(columns=["t", "y"]), frame["t"], frame["y"], estimand="att")
    result = estimate_stream(model, data, "t", "y", estimand="att", chunk_rows=1_024, client=client,
                             weights_path=tmp_path / "weights")
    for field in ("value", "std_error", "ess_treated", "ess_control"):
        assert getattr(result, field) == pytest.approx(getattr(reference, field), rel=1e-8), field
    np.testing.assert_allclose(result.balance.to_numpy(), reference.balance.to_numpy(), rtol=1e-8, atol=1e-12)
    written = pd.read_parquet(tmp_path / "weights").sort_values("row")
    assert len(list((tmp_path / "weights").glob("part-*.parquet"))) == 5  # one file per partition, by its worker
    np.testing.assert_allclose(written["weight"].to_numpy(), reference.weights, rtol=1e-8, atol=1e-15)

    frame.loc[6_666, "c"] = np.nan  # in the third file, read by a worker: the error still names chunk and row
    frame.iloc[5_000:7_500].to_parquet(data / "part-2.parquet", index=False)
    with pytest.raises(ValueError, match=r"chunk 7 \(rows 6,024-7,047 of the table: rows 1,024-2,047 of part-2.parquet\), "
                                         r"row 6,666 \(row 1,666 of part-2.parquet\): covariate 'c'"):
        estimate_stream(model, data, "t", "y", chunk_rows=1_024, client=client)
