"""Tables read in chunks (docs/design.md §4.9): exact chunk boundaries whatever the files' row groups, iterators
read once and replayed from their spill, one schema checked on every chunk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hf_causal.data.sources import as_table_source, parquet_files
from hf_causal.data.stream_checks import ChunkPlace, StreamSchema


def _frame(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(start, start + n, dtype=np.float64), "t": np.arange(n) % 2, "y": 1.0})


def _sizes(source, chunk_rows):
    return [[len(c) for c in p.chunks(chunk_rows)] for p in source.partitions]


def test_parquet_chunks_are_exact_across_row_groups(tmp_path):
    _frame(1_000).to_parquet(tmp_path / "a.parquet", row_group_size=137)
    _frame(250, 1_000).to_parquet(tmp_path / "b.parquet", row_group_size=100)
    source = as_table_source(tmp_path)
    assert [p.rows for p in source.partitions] == [1_000, 250] and source.rows == 1_250
    assert _sizes(source, 300) == [[300, 300, 300, 100], [250]]
    rows = np.concatenate([c["a"].to_numpy() for p in source.partitions for c in p.chunks(300)])
    np.testing.assert_array_equal(rows, np.arange(1_250))
    assert parquet_files(str(tmp_path / "*.parquet")) == parquet_files([tmp_path / "a.parquet", tmp_path / "b.parquet"])


def test_a_file_of_another_table_in_the_folder_is_named(tmp_path):
    _frame(100).to_parquet(tmp_path / "a.parquet")
    _frame(50, 100).set_index(pd.Index(np.arange(50) * 3)).to_parquet(tmp_path / "b.parquet")  # a stored index: fine
    assert as_table_source(tmp_path).rows == 150
    _frame(100).assign(cate=0.0).to_parquet(tmp_path / "effects.parquet")  # written back into the data folder
    with pytest.raises(ValueError, match=r"effects.parquet has columns \['cate'\] that the first file .*a.parquet"):
        as_table_source(tmp_path)


def test_an_iterator_is_spilled_on_its_first_pass_and_replayed(tmp_path):
    frames = [_frame(70, s) for s in range(0, 350, 70)]
    source = as_table_source(iter(frames))
    assert len(source.head()) == 70
    first = [c["a"].to_numpy() for c in source.partitions[0].chunks(100)]
    second = [c["a"].to_numpy() for c in source.partitions[0].chunks(100)]
    assert [len(c) for c in first] == [100, 100, 100, 50]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    source.cleanup()
    called = as_table_source(lambda: iter(frames))  # a callable is read afresh every pass, nothing is spilled
    assert _sizes(called, 100) == _sizes(called, 100) == [[100, 100, 100, 50]]


def test_dataframes_and_datasets_are_split_into_partitions():
    import datasets

    frame = _frame(2_500)
    assert _sizes(as_table_source(frame, partition_rows=1_000), 400) == [[400, 400, 200], [400, 400, 200], [400, 100]]
    dataset = datasets.Dataset.from_pandas(frame, preserve_index=False)
    assert _sizes(as_table_source(dataset, partition_rows=2_000), 1_000) == [[1_000, 1_000], [500]]
    with pytest.raises(TypeError, match="cannot stream a dict"):
        as_table_source({"a": [1]})


def test_the_schema_encodes_as_in_memory_and_names_bad_chunks():
    head = pd.DataFrame({"x": [1.0, 2.0], "g": ["b", "a"], "ok": [True, False], "t": [0, 1], "y": [0.5, 1.5]})
    schema = StreamSchema(head, "t", "y")
    schema.set_levels({"g": {"b", "a"}})
    assert schema.names == ["x", "g=a", "g=b", "ok"] and schema.sources == ["x", "g", "g", "ok"]
    x, t, y = schema.encode(head, ChunkPlace(0, 0, 2))
    np.testing.assert_array_equal(x, [[1, 0, 1, 1], [2, 1, 0, 0]])
    place = ChunkPlace(4, 8_000, 2, "part-3.parquet")
    with pytest.raises(ValueError, match=r"chunk 4 \(rows 8,000-8,001 of part-3.parquet\), row 8,001: covariate 'g' has "
                                         r"the level 'c'"):
        schema.encode(head.assign(g=["a", "c"]), place)
    with pytest.raises(ValueError, match=r"chunk 4 .*: column 'x' changed dtype from float64 \(first chunk\) to object"):
        schema.encode(head.assign(x=["1", "2"]), place)
    in_file = ChunkPlace(4, 8_000, 2, "part-3.parquet", 1_000)  # a later file of the table: both numberings
    assert in_file.row(1) == "chunk 4 (rows 8,000-8,001 of the table: rows 1,000-1,001 of part-3.parquet), row 8,001 (row 1,001 of part-3.parquet)"
    with pytest.raises(TypeError, match="covariate column 'when'"):
        StreamSchema(head.assign(when=pd.Timestamp("2020-01-01")), "t", "y")
