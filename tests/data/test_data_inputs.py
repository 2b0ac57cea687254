"""User tables: files that are not what their suffix says, duplicate column names, covariates that determine the
treatment. Each is a one-line ValueError naming the file or column, raised before any model code runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hf_causal.data.inputs import (
    check_arms_overlap,
    covariate_sources,
    encode_covariates,
    read_data_file,
    split_frame,
    validate_inputs,
)


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_a_repeated_csv_header_is_refused_not_renamed(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("x0,x0,t,y\n1,2,0,1.5\n3,4,1,2.5\n")
    assert list(pd.read_csv(path).columns) == ["x0", "x0.1", "t", "y"]  # what pandas alone would use
    with pytest.raises(ValueError, match=r"duplicate column names \['x0'\]") as err:
        read_data_file(path)
    assert str(path) in _one_line(err)
    frame = pd.DataFrame([[1, 2, 0, 1.5], [3, 4, 1, 2.5]], columns=["x0", "x0", "t", "y"])
    with pytest.raises(ValueError, match="duplicate column names"):
        split_frame(frame, "t", "y")
    with pytest.raises(ValueError, match="duplicate column names"):
        encode_covariates(frame[["x0"]])


@pytest.mark.parametrize(
    "name, content, kind",
    [
        ("random.csv", bytes(np.random.default_rng(0).integers(128, 256, 4000, dtype=np.uint8)), "CSV"),
        ("empty.csv", b"", "CSV"),
        ("random.parquet", bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)), "parquet"),
        ("broken.jsonl", b'{"t": 1, "y": 2}\n{"t": 0, "y": \n', "jsonl"),
    ],
)
def test_unreadable_files_are_named_with_their_format(tmp_path, name, content, kind):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"is not a readable {kind} file") as err:
        read_data_file(path)
    assert _one_line(err).startswith(str(path))


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_data_file(tmp_path / "missing.csv")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(ValueError, match="unsupported data format '.xlsx'"):
        read_data_file(tmp_path / "data.xlsx")
    rows = [{"x": 1.5, "t": 0, "y": 2.0}, {"x": 2.5, "t": 1, "y": 3.25}]
    (tmp_path / "ok.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    pd.testing.assert_frame_equal(read_data_file(tmp_path / "ok.jsonl"), pd.DataFrame(rows))


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.random(n) < 0.4).astype(int)
    return pd.DataFrame({"x": x, "t": t, "y": x + t + rng.normal(size=n)})


def test_a_label_of_the_treatment_is_named_as_determining_it():
    frame = _frame()
    label = frame.assign(group=np.where(frame.t == 1, "program", "survey"))  # a string column: one-hot encoded
    x, t, y = split_frame(label, "t", "y")
    with pytest.raises(ValueError, match=r"covariate 'group' \(one-hot \['group=program', 'group=survey'\]\) "
                                         r"determines the treatment") as err:
        validate_inputs(x, t, y)
    assert "treated all 1, controls all 0" in _one_line(err)
    indicator = frame.assign(flag=frame.t.astype(float))  # the same label as a numeric 0/1 column
    x, t, y = split_frame(indicator, "t", "y")
    with pytest.raises(ValueError, match="covariate 'flag' determines the treatment"):
        validate_inputs(x, t, y)


def test_a_threshold_on_a_continuous_covariate_separates_the_arms():
    frame = _frame()
    frame["t"] = (frame.x > 0.3).astype(int)
    x, t, y = split_frame(frame, "t", "y")
    with pytest.raises(ValueError, match="covariate 'x' determines the treatment") as err:
        validate_inputs(x, t, y)
    lo1 = frame.x[frame.t == 1].min()
    assert f"treated in [{lo1:.4g}," in _one_line(err)


def test_arms_that_share_a_value_overlap():
    frame = _frame()
    frame["flag"] = frame.t.astype(float)
    frame.loc[frame.index[frame.t == 0][0], "flag"] = 1.0  # one control with the treated value: they touch
    x, names = encode_covariates(frame[["x", "flag"]])
    check_arms_overlap(x, frame.t.to_numpy(), names)  # no error
    out = validate_inputs(frame[["x", "flag"]], frame.t, frame.y)
    assert out[1] == ["x", "flag"] and out[0].shape == (200, 2)


def test_covariate_sources_map_one_hot_columns_back():
    frame = pd.DataFrame({"a": [1.0, 2.0], "a=b": [0, 1], "color": ["red", "blue"]})
    _, names = encode_covariates(frame)
    assert names == ["a", "a=b", "color=blue", "color=red"]
    assert covariate_sources(frame, names) == ["a", "a=b", "color", "color"]
    assert covariate_sources(np.zeros((2, 2)), ["x0", "x1"]) == ["x0", "x1"]


def test_values_too_large_for_float64_arithmetic_are_named():
    from hf_causal.data.inputs import encode_covariates, validate_outcome

    y = np.array([1.0, 2.0, 3e200, 4.0])  # finite, but its variance overflows: every estimate would be NaN
    with pytest.raises(ValueError, match=r"outcome values up to 3e\+200 \(row 2\) are too large"):
        validate_outcome(y, 4)
    frame = pd.DataFrame({"ok": [1.0, 2.0, 3.0, 4.0], "huge": [0.0, 1e300, -1e300, 0.0]})
    with pytest.raises(ValueError, match=r"covariate columns \['huge'\] have values too large"):
        encode_covariates(frame)
    assert validate_outcome(y / 1e190, 4)[2] == pytest.approx(3e10)  # large but computable: kept
