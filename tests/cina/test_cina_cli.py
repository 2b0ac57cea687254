"""`hf-causal estimate` end to end: files in, one JSON object out, one-line errors with non-zero exit."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from hf_causal.cina import CInAConfig, CInAModel
from hf_causal.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt")
    CInAModel(CInAConfig(hidden_size=8, num_layers=1, kernel_temperatures=[1.0], intermediate_size=16)).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=(n, 2))
    t = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "group": np.where(x[:, 1] > 0, "a", "b"), "treated": t,
                          "y": 2 * x[:, 0] + 1.5 * t + rng.normal(size=n)})
    folder = tmp_path_factory.mktemp("data")
    frame.to_csv(folder / "d.csv", index=False)
    frame.to_parquet(folder / "d.parquet")
    frame.to_json(folder / "d.jsonl", orient="records", lines=True)
    return folder


@pytest.mark.parametrize("name", ["d.csv", "d.parquet", "d.jsonl"])
def test_estimate_json(checkpoint, data_files, capsys, name):
    code = main(["estimate", str(data_files / name), "--treatment", "treated", "--outcome", "y",
                 "--model", checkpoint, "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("estimate", "ci_low", "ci_high", "estimand", "method", "n", "ess_treated", "ess_control", "seconds"):
        assert key in payload
    assert payload["n"] == 300 and payload["method"] == "cina-zs" and payload["estimand"] == "ate"
    assert payload["ci_low"] < payload["estimate"] < payload["ci_high"]


def test_estimate_per_dataset_method_and_covariate_subset(checkpoint, data_files, capsys):
    code = main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y",
                 "--covariates", "x1", "x2", "--model", checkpoint, "--method", "cina", "--estimand", "att", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["method"] == "cina" and payload["estimand"] == "att"
    assert abs(payload["estimate"] - 1.5) < 0.5  # simulated effect 1.5, confounded through x1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--treatment", "nope", "--outcome", "y"], "columns not found"),
        (["--treatment", "x1", "--outcome", "y"], "binary"),
    ],
)
def test_errors_are_one_line_and_nonzero(checkpoint, data_files, capsys, argv, message):
    code = main(["estimate", str(data_files / "d.csv"), *argv, "--model", checkpoint])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("hf-causal estimate: error:") and message in err and len(err.splitlines()) == 1


def test_missing_file_and_format(checkpoint, tmp_path, capsys):
    assert main(["estimate", str(tmp_path / "missing.csv"), "--treatment", "t", "--outcome", "y"]) != 0
    (tmp_path / "data.xlsx").write_text("x")
    assert main(["estimate", str(tmp_path / "data.xlsx"), "--treatment", "t", "--outcome", "y"]) != 0
    assert "unsupported data format" in capsys.readouterr().err


def test_moments_flag_reaches_the_calibration(checkpoint, tmp_path, capsys):
    """Treatment depends on |x|, outcome on x**2 (effect 1): without an outcome model only --moments 2 removes
    the bias; the default kernel outcome model removes it with either."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=3000)
    t = (rng.random(3000) < 1 / (1 + np.exp(-(1.5 * np.abs(x) - 1.2)))).astype(int)
    pd.DataFrame({"x": x, "t": t, "y": 2 * x**2 + t + rng.normal(size=3000)}).to_csv(tmp_path / "q.csv", index=False)
    estimates = {}
    for moments in ("1", "2"):
        code = main(["estimate", str(tmp_path / "q.csv"), "--treatment", "t", "--outcome", "y", "--model", checkpoint,
                     "--moments", moments, "--outcome-model", "none", "--json"])
        assert code == 0
        estimates[moments] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["estimate"]
    assert abs(estimates["1"] - 1.0) > 0.5 and abs(estimates["2"] - 1.0) < 0.15
    assert main(["estimate", str(tmp_path / "q.csv"), "--treatment", "t", "--outcome", "y", "--model", checkpoint,
                 "--moments", "1", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["outcome_model"] == "kernel" and abs(payload["estimate"] - 1.0) < 0.15
