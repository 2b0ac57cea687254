"""The ``hf-causal`` command line: ``estimate`` end to end (files in, one JSON object out, one-line errors with a
non-zero exit), and ``train / evaluate / push / cards`` (delegation, cards from results, help)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from huggingface_hub import ModelCard
from support import tiny_cina_model

from hf_causal.cli import build_parser, main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt")
    tiny_cina_model(seed=0).save_pretrained(path)
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
    argv = ["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y", "--model", checkpoint,
            "--method", "cina"]
    for flag, shown in (("--progress", True), ("--no-progress", False)):  # the streamed estimate's rule
        assert main([*argv, flag]) == 0
        assert ("per-dataset CInA" in capsys.readouterr().err) is shown


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--treatment", "nope", "--outcome", "y"], "columns not found"),
        (["--treatment", "x1", "--outcome", "y"], "binary"),
        (["--treatment", "treated", "--outcome", "treated"], "the treatment and the outcome are the same column"),
        (["--treatment", "treated", "--outcome", "y", "--covariates", "y", "x1"],
         "the outcome column 'y' cannot also be a covariate"),
        (["--treatment", "treated", "--outcome", "y", "--estimand", "overlap", "--outcome-model", "kernel"],
         "never augmented"),
    ],
)
def test_errors_are_one_line_and_nonzero(checkpoint, data_files, capsys, argv, message):
    code = main(["estimate", str(data_files / "d.csv"), *argv, "--model", checkpoint])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("hf-causal estimate: error:") and message in err and len(err.splitlines()) == 1


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("hf-causal estimate: error: ")
    return err


def test_missing_file_and_format(checkpoint, tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    assert main(["estimate", str(missing), "--treatment", "t", "--outcome", "y"]) == 1
    assert _one_line_error(capsys) == f"hf-causal estimate: error: data file not found: {missing}"
    (tmp_path / "data.xlsx").write_text("x")
    assert main(["estimate", str(tmp_path / "data.xlsx"), "--treatment", "t", "--outcome", "y"]) == 1
    assert "unsupported data format '.xlsx'" in _one_line_error(capsys)


def test_random_bytes_and_repeated_headers_are_one_line_errors(data_files, tmp_path, capsys):
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes(np.random.default_rng(0).integers(128, 256, 4000, dtype=np.uint8)))
    assert main(["estimate", str(noise), "--treatment", "t", "--outcome", "y"]) == 1
    assert f"{noise} is not a readable CSV file" in _one_line_error(capsys)
    frame = pd.read_csv(data_files / "d.csv")
    dup = tmp_path / "dup.csv"
    frame.rename(columns={"x2": "x1"}).to_csv(dup, index=False)  # x1 twice: pandas would read x1, x1.1
    assert main(["estimate", str(dup), "--treatment", "treated", "--outcome", "y"]) == 1
    assert "duplicate column names ['x1']" in _one_line_error(capsys)


def test_malformed_arguments_are_one_line_errors(data_files, tmp_path, capsys):
    header = tmp_path / "header.csv"
    header.write_text("x1,treated,y\n")
    assert main(["estimate", str(header), "--treatment", "treated", "--outcome", "y"]) == 1
    assert _one_line_error(capsys) == f"hf-causal estimate: error: {header} has no rows"
    assert main(["estimate", "benchmark:lalonde_nsw_cps:abc"]) == 1
    assert "write benchmark:NAME or benchmark:NAME:REPLICATION" in _one_line_error(capsys)
    with pytest.raises(SystemExit):  # argparse's own usage error, before anything is read
        main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y", "--chunk-rows", "0"])
    assert "argument --chunk-rows: expected a number >= 1, got 0" in capsys.readouterr().err


def test_bad_input_fails_before_the_model_stack_is_imported(tmp_path):
    """The file is read and checked with pandas alone: torch and transformers load only to estimate."""
    code = (
        "import sys; from hf_causal.cli import main\n"
        f"rc = main(['estimate', {str(tmp_path / 'missing.csv')!r}, '--treatment', 't', '--outcome', 'y'])\n"
        "print(rc, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1", "False", "False"], out.stderr
    assert out.stderr.strip().endswith("missing.csv") and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(importlib.util.find_spec("causaldata") is None, reason="LaLonde ships in causaldata")
@pytest.mark.parametrize("numeric", [False, True])
def test_lalonde_with_its_sample_label_is_refused(tmp_path, capsys, numeric):
    """NSW+CPS exported with its ``sample`` column (nsw/cps, i.e. the treatment): an error, not ATT 718."""
    from hf_causal.data import load_benchmark_frame

    frame = load_benchmark_frame("lalonde_nsw_cps").frame
    if numeric:
        frame = frame.assign(sample=(frame["sample"] == "nsw").astype(int))
    frame.to_csv(tmp_path / "lalonde.csv", index=False)
    assert main(["estimate", str(tmp_path / "lalonde.csv"), "--treatment", "treat", "--outcome", "re78",
                 "--estimand", "att"]) == 1
    err = _one_line_error(capsys)
    assert "covariate 'sample'" in err and "determines the treatment" in err


@pytest.mark.parametrize("estimand", ["att", "cate"])  # per-unit effects carry their ATE's diagnosis
def test_unsupported_estimates_say_so_in_json_and_summary(checkpoint, tmp_path, capsys, estimand):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, 2))
    t = (x.sum(1) > 0).astype(int)  # separated by x1 + x2, by neither alone
    pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "t": t, "y": x[:, 0] + 2 * t + rng.normal(size=800)}).to_csv(
        tmp_path / "sep.csv", index=False)
    argv = ["estimate", str(tmp_path / "sep.csv"), "--treatment", "t", "--outcome", "y", "--model", checkpoint,
            "--estimand", estimand]
    assert main([*argv, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["supported"] is False and "imbalanced" in payload["support_issue"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"NOT SUPPORTED BY THE DATA: {payload['support_issue']}"


def test_a_saved_row_index_used_as_a_covariate_is_named(checkpoint, data_files, tmp_path, capsys):
    frame = pd.read_csv(data_files / "d.csv")
    frame.to_csv(tmp_path / "with_index.csv")  # pandas writes the row numbers as 'Unnamed: 0'
    argv = ["estimate", str(tmp_path / "with_index.csv"), "--treatment", "treated", "--outcome", "y",
            "--model", checkpoint, "--json"]
    assert main(argv) == 0
    assert "['Unnamed: 0'] look like a saved row index" in capsys.readouterr().err
    assert main([*argv, "--covariates", "x1", "x2", "group"]) == 0
    assert "saved row index" not in capsys.readouterr().err


def test_the_json_of_a_supported_estimate_says_so(checkpoint, data_files, capsys):
    assert main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y",
                 "--model", checkpoint, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["supported"] is True and "support_issue" not in payload


def _broken_checkpoint(path, what):
    tiny_cina_model(seed=0).save_pretrained(path)
    if what == "truncated":
        data = (path / "model.safetensors").read_bytes()
        (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif what == "garbage":
        (path / "model.safetensors").write_bytes(b"not a safetensors file at all")
    elif what == "config":
        (path / "config.json").write_text('{"model_type": "cina", "hidden_size": 8,,}')
    elif what == "pickled":
        (path / "model.safetensors").rename(path / "pytorch_model.bin")
    elif what == "model_type":
        config = json.loads((path / "config.json").read_text())
        (path / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    else:  # a tensor removed, or one made NaN: the file still reads, the model would not be the saved one
        from safetensors.torch import load_file, save_file

        tensors = load_file(path / "model.safetensors")
        if what == "missing_tensor":
            del tensors["embed.weight"]
        else:
            tensors["embed.weight"][0, 0] = float("nan")
        save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})


@pytest.mark.parametrize(
    "what, message",
    [
        ("truncated", "model.safetensors is not a readable safetensors file"),
        ("garbage", "model.safetensors is not a readable safetensors file"),
        ("config", "config.json is not valid JSON"),
        ("pickled", "holds pickled weights only (pytorch_model.bin)"),
        ("model_type", "is a 'bert' checkpoint, not a 'cina' one"),
        ("missing_tensor", "lacks the tensors ['embed.weight']"),
        ("nan_tensor", "the tensor 'embed.weight' holds NaN or infinite values"),
    ],
)
def test_a_broken_model_folder_is_one_line_naming_the_file(data_files, tmp_path, capsys, what, message):
    _broken_checkpoint(tmp_path / "ckpt", what)
    capsys.readouterr()  # what saving the folder printed
    assert main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y",
                 "--model", str(tmp_path / "ckpt")]) == 1
    err = _one_line_error(capsys)
    assert message in err and str(tmp_path / "ckpt") in err


@pytest.mark.parametrize(
    "name, message",
    [
        ("./no_such_folder", "model folder not found: ./no_such_folder"),
        ("no_such_folder", "'no_such_folder' is not a local folder or a bundled checkpoint (cina-zs-base), and "
                           "the Hub is offline"),
    ],
)
def test_an_unknown_model_fails_fast_in_one_line(data_files, capsys, name, message):
    import time

    start = time.perf_counter()
    assert main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y",
                 "--model", name]) == 1
    assert message in _one_line_error(capsys)
    assert time.perf_counter() - start < 20


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


def test_cross_moments_flag_reaches_the_calibration(checkpoint, tmp_path, capsys):
    """Treatment and outcome depend on x0 * x1 (effect 1): weights alone remove the bias only with --cross-moments
    (the pairwise products balanced too), not by default."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 2))
    inter = x[:, 0] * x[:, 1]
    t = (rng.random(3000) < 1 / (1 + np.exp(-1.5 * np.clip(inter, -2, 2)))).astype(int)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "t": t, "y": 2 * inter + t + rng.normal(scale=0.5, size=3000)})
    frame.to_csv(tmp_path / "i.csv", index=False)
    estimates = {}
    for flag in ([], ["--cross-moments"]):
        assert main(["estimate", str(tmp_path / "i.csv"), "--treatment", "t", "--outcome", "y", "--model", checkpoint,
                     "--outcome-model", "none", "--json", *flag]) == 0
        estimates[bool(flag)] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["estimate"]
    assert abs(estimates[True] - 1.0) < 0.15 and abs(estimates[False] - 1.0) > 0.4


# -- train / evaluate / push / cards ----------------------------------------------------------------------

FAKE_SCRIPT = """import json, sys
from pathlib import Path
Path(sys.argv[0]).with_suffix(".args.json").write_text(json.dumps(sys.argv[1:]))
sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
"""


@pytest.mark.parametrize("command", ["estimate", "train", "evaluate", "push", "cards"])
def test_every_command_has_help(command, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: hf-causal {command}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "script"),
    [(["train", "cina"], "train/pretrain_cina.py"), (["evaluate", "ate"], "benchmarks/ate_benchmark.py")],
)
def test_train_and_evaluate_delegate_to_scripts(argv, script, tmp_path, capsys) -> None:
    path = tmp_path / script
    path.parent.mkdir(parents=True)
    path.write_text(FAKE_SCRIPT)
    args = [argv[0], "--root", str(tmp_path), argv[1], "--quick", "--out-dir", "x"]
    assert main(args) == 0
    assert json.loads(path.with_suffix(".args.json").read_text()) == ["--quick", "--out-dir", "x"]
    # the script's failure becomes a non-zero exit with one line
    assert main([argv[0], "--root", str(tmp_path), argv[1], "--", "3"]) == 1
    assert json.loads(path.with_suffix(".args.json").read_text()) == ["3"]
    err = capsys.readouterr().err.strip()
    assert err == f"hf-causal {argv[0]}: error: {argv[0]} {argv[1]}: {script} exited with status 3"
    # a missing script: clear message
    assert main([argv[0], "--root", str(tmp_path / "nowhere"), argv[1]]) == 1
    assert "not found" in capsys.readouterr().err


def test_cards_from_results(tmp_path, capsys) -> None:
    tiny_cina_model(seed=0).save_pretrained(tmp_path / "ckpt")
    payload = {
        "checkpoint": "ckpt",
        "repo_id": "hf-causal/cina-zs-base",
        "description": "Zero-shot CInA for tests.",
        "datasets": ["hf-causal/lalonde"],
        "results": {"lalonde_nsw_cps": {"att_abs_error": 150.0, "ci_coverage": 1.0}, "ihdp_b": {"ate_rmse": 0.4}},
        "sections": {"Training": "Synthetic SCM corpora."},
    }
    (tmp_path / "results.json").write_text(json.dumps(payload))
    out = tmp_path / "cards" / "README.md"
    assert main(["cards", str(tmp_path / "results.json"), "--output", str(out)]) == 0
    card = ModelCard.load(out)
    values = {(e.dataset_name, e.metric_type): e.metric_value for e in card.data.eval_results}
    assert values == {
        ("lalonde_nsw_cps", "att_abs_error"): 150.0,
        ("lalonde_nsw_cps", "ci_coverage"): 1.0,
        ("ihdp_b", "ate_rmse"): 0.4,
    }
    assert card.data.datasets == ["hf-causal/lalonde"]
    assert "Zero-shot CInA for tests." in card.text and "## Training" in card.text
    assert 'from_pretrained("hf-causal/cina-zs-base", trust_remote_code=True)' in card.text
    capsys.readouterr()
    assert main(["cards", str(tmp_path / "results.json")]) == 0  # stdout
    assert capsys.readouterr().out.startswith("---\n")
    (tmp_path / "bad.json").write_text(json.dumps({"results": {"x": {"m": "high"}}, "checkpoint": "ckpt"}))
    assert main(["cards", str(tmp_path / "bad.json")]) == 1
    assert "must be a number" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{results: 1}")
    assert main(["cards", str(tmp_path / "broken.json")]) == 1
    assert f"{tmp_path / 'broken.json'} is not valid JSON" in capsys.readouterr().err


def test_train_under_accelerate_launch(tmp_path, monkeypatch) -> None:
    """--num-processes runs the script through `accelerate launch`, which sets up the distributed env."""
    script = tmp_path / "train" / "finetune_lora.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "import json, os, sys\nfrom pathlib import Path\n"
        "env = {k: v for k, v in os.environ.items() if k.startswith('ACCELERATE_') or k in ('RANK', 'WORLD_SIZE')}\n"
        "Path(sys.argv[0]).with_suffix('.env.json').write_text(json.dumps({'argv': sys.argv[1:], 'env': env}))\n"
    )
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no user accelerate config
    assert main(["train", "--root", str(tmp_path), "--num-processes", "1", "lora", "--config", "c.yaml"]) == 0
    report = json.loads(script.with_suffix(".env.json").read_text())
    assert report["argv"] == ["--config", "c.yaml"]
    assert any(k.startswith("ACCELERATE_") for k in report["env"])  # launched by accelerate, not plain python
    assert main(["train", "--root", str(tmp_path), "--num-processes", "0", "lora"]) == 1


def test_cards_from_benchmark_records(tmp_path, capsys) -> None:
    """Benchmark records become per-suite MAE / median / coverage in the card's model-index."""
    ckpt = tmp_path / "ckpt"
    tiny_cina_model().save_pretrained(ckpt)
    rows = [  # errors 1, 3, 2 on ihdp_b (MAE 2, median 2); the second interval misses the truth
        {"suite": "ihdp_b", "method": "cina_zs", "estimand": "ate", "status": "ok", "truth": 4.0, "estimate": 5.0,
         "ci_low": 3.0, "ci_high": 6.0},
        {"suite": "ihdp_b", "method": "cina_zs", "estimand": "ate", "status": "ok", "truth": 4.0, "estimate": 7.0,
         "ci_low": 6.5, "ci_high": 7.5},
        {"suite": "ihdp_b", "method": "cina_zs", "estimand": "ate", "status": "ok", "truth": 4.0, "estimate": 2.0,
         "ci_low": 1.0, "ci_high": 4.5},
        {"suite": "ihdp_b", "method": "cina_zs", "estimand": "ate", "status": "timeout", "truth": 4.0, "estimate": None},
        {"suite": "ihdp_b", "method": "ipw", "estimand": "ate", "status": "ok", "truth": 4.0, "estimate": 40.0},
        {"suite": "lalonde_nsw_cps", "method": "cina_zs", "estimand": "att", "status": "ok", "truth": 1794.0,
         "estimate": 1268.0, "ci_low": None, "ci_high": None},
    ]
    records = tmp_path / "run.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "README.md"
    assert main(["cards", "--from-records", str(records), "--checkpoint", str(ckpt), "-o", str(out)]) == 0
    evals = {(e.dataset_name, e.metric_type): e.metric_value for e in ModelCard.load(out).data.eval_results}
    assert evals[("ihdp_b", "ate_mae")] == pytest.approx(2.0)
    assert evals[("ihdp_b", "ate_median_abs_error")] == pytest.approx(2.0)
    assert evals[("ihdp_b", "coverage_95")] == pytest.approx(2 / 3)
    assert evals[("ihdp_b", "n_datasets")] == 3
    assert evals[("lalonde_nsw_cps", "att_mae")] == pytest.approx(526.0)
    assert ("lalonde_nsw_cps", "coverage_95") not in evals
    import gzip  # the benchmarks keep their records gzipped: the same card

    zipped = tmp_path / "run.jsonl.gz"
    zipped.write_bytes(gzip.compress(records.read_bytes()))
    assert main(["cards", "--from-records", str(zipped), "--checkpoint", str(ckpt), "-o", str(tmp_path / "z.md")]) == 0
    assert (tmp_path / "z.md").read_text() == out.read_text()
    capsys.readouterr()
    assert main(["cards", "--from-records", str(records), "--method", "dowhy", "--checkpoint", str(ckpt)]) == 1
    assert "no successful records of method 'dowhy'" in capsys.readouterr().err
    # a bundled checkpoint by name, as --model takes it; an unknown name says where it was looked for
    assert main(["cards", "--from-records", str(records), "--checkpoint", "cina-zs-base", "-o",
                 str(tmp_path / "b.md")]) == 0
    assert "| `outcome_spread_limit` | `2.757` |" in (tmp_path / "b.md").read_text()  # the bundled config's
    capsys.readouterr()
    assert main(["cards", "--from-records", str(records), "--checkpoint", "no-such-ckpt"]) == 1
    assert "checkpoint 'no-such-ckpt' not found: not a folder here, not a bundled checkpoint" in capsys.readouterr().err


def test_parquet_files_are_streamed_with_the_in_memory_answer(checkpoint, data_files, tmp_path, capsys):
    """``hf-causal estimate data/*.parquet``: several files read in chunks, the in-memory estimate of their
    concatenation, each row's weight written back (docs/design.md §4.9)."""
    frame = pd.read_parquet(data_files / "d.parquet")
    for k, start in enumerate(range(0, 300, 120)):
        frame.iloc[start : start + 120].to_parquet(tmp_path / f"part-{k}.parquet", index=False)
    files = sorted(str(p) for p in tmp_path.glob("part-*.parquet"))
    code = main(["estimate", *files, "--treatment", "treated", "--outcome", "y", "--model", checkpoint,
                 "--estimand", "att", "--chunk-rows", "50", "--weights-out", str(tmp_path / "w"), "--json"])
    assert code == 0
    streamed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y",
                 "--model", checkpoint, "--estimand", "att", "--json"]) == 0
    memory = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("estimate", "std_error", "ess_control", "max_abs_smd_after"):
        assert streamed[key] == pytest.approx(memory[key], rel=1e-8), key
    assert streamed["n"] == memory["n"] == 300
    assert pd.read_parquet(tmp_path / "w")["weight"].groupby(frame["treated"]).sum().to_numpy() == pytest.approx([1, 1])
    frame.loc[130, "x2"] = np.nan
    frame.iloc[120:240].to_parquet(tmp_path / "part-1.parquet", index=False)
    assert main(["estimate", *files, "--treatment", "treated", "--outcome", "y", "--model", checkpoint,
                 "--chunk-rows", "50"]) == 1
    assert ("chunk 3 (rows 120-169 of the table: rows 0-49 of part-1.parquet), row 130 (row 10 of part-1.parquet): "
            "covariate 'x2' is nan") in _one_line_error(capsys)


def test_auto_outcome_model_reads_one_small_parquet_file_in_memory(data_files, tmp_path, capsys):
    """With a checkpoint that has an in-context outcome network, ``--outcome-model auto`` gives a small parquet
    file the same estimate as the CSV (in memory, the network); a folder is streamed with the kernel model,
    and says so (docs/design.md §4.9)."""
    path = tmp_path / "with_network"
    tiny_cina_model(seed=0, hidden_size=16, outcome_hidden_size=8, outcome_num_layers=1,
                    outcome_intermediate_size=16).save_pretrained(path)
    payloads = {}
    for name, source in (("csv", data_files / "d.csv"), ("parquet", data_files / "d.parquet")):
        assert main(["estimate", str(source), "--treatment", "treated", "--outcome", "y", "--model", str(path),
                     "--outcome-model", "auto", "--json"]) == 0
        payloads[name] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payloads["csv"]["outcome_model"] == payloads["parquet"]["outcome_model"] == "pretrained"
    assert payloads["parquet"]["estimate"] == pytest.approx(payloads["csv"]["estimate"], rel=1e-10)
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.read_parquet(data_files / "d.parquet").to_parquet(folder / "part-0.parquet", index=False)
    assert main(["estimate", str(folder), "--treatment", "treated", "--outcome", "y", "--model", str(path),
                 "--outcome-model", "auto", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["outcome_model"] == "kernel"
    assert main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y", "--model",
                 str(path), "--json"]) == 0  # the default is auto: the network where the checkpoint has one
    default = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert default["outcome_model"] == "pretrained" and default["estimate"] == payloads["csv"]["estimate"]
    # --weights-out only adds output: the small file is still read in memory, with the network, and the weights
    # written are the estimate's (each arm's sum to one)
    for name, source in (("csv", data_files / "d.csv"), ("parquet", data_files / "d.parquet")):
        out = tmp_path / f"weights_{name}"
        assert main(["estimate", str(source), "--treatment", "treated", "--outcome", "y", "--model", str(path),
                     "--json", "--weights-out", str(out)]) == 0
        with_weights = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert with_weights["estimate"] == payloads["csv"]["estimate"] and with_weights["outcome_model"] == "pretrained"
        written = pd.read_parquet(out)
        assert list(written.columns) == ["row", "treatment", "weight"] and len(written) == 300
        assert written.groupby("treatment")["weight"].sum().to_numpy() == pytest.approx([1.0, 1.0])
    assert main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y", "--model",
                 str(path), "--weights-out", str(tmp_path / "weights_csv")]) == 1
    assert "already holds weights" in _one_line_error(capsys)
    assert main(["estimate", str(data_files / "d.csv"), "--treatment", "treated", "--outcome", "y", "--model",
                 str(path), "--estimand", "cate", "--weights-out", str(tmp_path / "w_cate")]) == 1
    assert "per-unit effects go to --output" in _one_line_error(capsys)


def test_a_parquet_folder_is_read_into_memory_for_options_the_stream_lacks(checkpoint, data_files, tmp_path, capsys):
    frame = pd.read_csv(data_files / "d.csv")
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate(range(0, len(frame), 120)):
        frame.iloc[start:start + 120].reset_index(drop=True).to_parquet(folder / f"part{i}.parquet")
    outputs = {}
    for name, data in (("folder", str(folder)), ("csv", str(data_files / "d.csv"))):
        assert main(["estimate", data, "--treatment", "treated", "--outcome", "y", "--model", checkpoint,
                     "--estimand", "cate", "--output", str(tmp_path / f"{name}.csv")]) == 0
        outputs[name] = pd.read_csv(tmp_path / f"{name}.csv")
    capsys.readouterr()
    pd.testing.assert_frame_equal(outputs["folder"], outputs["csv"])
    assert main(["estimate", str(folder / "*.parquet"), "--treatment", "treated", "--outcome", "y", "--model",
                 checkpoint, "--method", "cina", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == len(frame)
