"""``hf-causal train / evaluate / push / cards``: delegation, cards from results, help and one-line errors."""

from __future__ import annotations

import json

import pytest
import torch
from huggingface_hub import ModelCard

from hf_causal.cina import CInAConfig, CInAModel
from hf_causal.cli import build_parser, main
from hf_causal.hub import eval_results_from_dict

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
    torch.manual_seed(0)
    CInAModel(CInAConfig(hidden_size=8, num_layers=1, kernel_temperatures=[1.0], intermediate_size=16)).save_pretrained(
        tmp_path / "ckpt"
    )
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


def test_eval_results_shapes() -> None:
    rows = eval_results_from_dict([{"dataset": "d", "metric": "m", "value": 1, "split": "test", "config": "c"}])
    assert (rows[0].dataset_split, rows[0].dataset_config, rows[0].metric_value) == ("test", "c", 1.0)
    assert eval_results_from_dict({"results": {"d": {"m": 2.5}}})[0].metric_value == 2.5
    with pytest.raises(ValueError, match="'dataset', 'metric' and 'value'"):
        eval_results_from_dict([{"dataset": "d"}])
    with pytest.raises(ValueError, match="must map metric names"):
        eval_results_from_dict({"d": 3.0})


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
    from huggingface_hub import ModelCard

    from hf_causal.cina import CInAConfig, CInAModel

    ckpt = tmp_path / "ckpt"
    CInAModel(CInAConfig(hidden_size=8, num_layers=1, kernel_temperatures=[1.0], intermediate_size=16)).save_pretrained(ckpt)
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
    capsys.readouterr()
    assert main(["cards", "--from-records", str(records), "--method", "dowhy", "--checkpoint", str(ckpt)]) == 1
    assert "no successful records of method 'dowhy'" in capsys.readouterr().err
