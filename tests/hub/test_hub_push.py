"""Upload path: what push_to_hub / push_dataset_folder / ``hf-causal push`` send to a loopback Hub."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import load
from support import tiny_cina_model

from hf_causal.cina import CInAModel
from hf_causal.cli import main
from hf_causal.hub import push_dataset_folder, push_to_hub, remote_code_files

pytestmark = pytest.mark.network


def tiny_model() -> CInAModel:
    return tiny_cina_model(seed=0).train()


def test_push_sends_weights_code_config_and_card(recording_hub, hub_online) -> None:
    model = tiny_model()
    info = push_to_hub(
        model, "org/tiny-cina", endpoint=recording_hub.url, token="hf_secret", private=True,
        results={"lalonde_nsw_cps": {"att_abs_error": 123.0}},
    )
    assert info.oid == recording_hub.commits[0]["oid"]
    created = recording_hub.created[0]
    assert (created["organization"], created["name"]) == ("org", "tiny-cina")
    assert created.get("visibility") == "private" or created.get("private") is True
    assert all(h == "Bearer hf_secret" for h in recording_hub.auth_headers)
    routes = [path for method, path in recording_hub.requests if method == "POST"]
    assert routes[0] == "/api/repos/create"
    assert "/api/models/org/tiny-cina/preupload/main" in routes
    assert routes[-1] == "/api/models/org/tiny-cina/commit/main"

    (commit,) = recording_hub.commits
    files = commit["files"]
    # weights: exactly the model's tensors
    state = load(files["model.safetensors"])
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    # code: the model's source files, byte for byte, and the auto_map pointing at them
    for f in remote_code_files(CInAModel):
        assert files[f.name] == f.read_bytes()
    config = json.loads(files["config.json"])
    assert config["auto_map"]["AutoModel"] == "modeling_cina.CInAModel"
    assert config["hidden_size"] == 8
    # card with eval results
    card = ModelCard(files["README.md"].decode())
    (result,) = card.data.eval_results
    assert (result.dataset_name, result.metric_type, result.metric_value) == ("lalonde_nsw_cps", "att_abs_error", 123.0)


def test_push_folder_keeps_existing_card_and_adds_code(tmp_path, recording_hub, hub_online) -> None:
    model = tiny_model()
    folder = tmp_path / "plain"
    model.save_pretrained(folder)
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# hand-written card\n")
    push_to_hub(folder, "org/plain", endpoint=recording_hub.url, token="t")
    files = recording_hub.commits[-1]["files"]
    assert files["README.md"].decode().strip().endswith("# hand-written card")
    assert "modeling_cina.py" in files and "auto_map" in json.loads(files["config.json"])


def test_push_dataset_folder(tmp_path, recording_hub, hub_online) -> None:
    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    frame = pd.DataFrame({"x": [0.5, 1.5, 2.5], "t": [0, 1, 1], "y": [1.0, 2.0, 3.5]})
    frame.to_parquet(folder / "data" / "train-00000-of-00001.parquet")
    (folder / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files: data/*.parquet\n---\n# ds\n")
    push_dataset_folder(folder, "org/ds", endpoint=recording_hub.url, token="t")
    commit = recording_hub.commits[-1]
    assert commit["repo_type"] == "dataset" and commit["repo_id"] == "org/ds"
    assert set(commit["files"]) == {"README.md", "data/train-00000-of-00001.parquet"}
    assert recording_hub.created[-1].get("type") == "dataset"
    restored = pd.read_parquet(__import__("io").BytesIO(commit["files"]["data/train-00000-of-00001.parquet"]))
    pd.testing.assert_frame_equal(restored, frame)

    with pytest.raises(ValueError, match="no parquet"):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "README.md").write_text("# empty\n")
        push_dataset_folder(tmp_path / "empty", "org/empty", endpoint=recording_hub.url)


def test_cli_push_prints_commit_and_reports_failures_in_one_line(tmp_path, recording_hub, hub_online, capsys) -> None:
    folder = tmp_path / "ckpt"
    tiny_model().save_pretrained(folder)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"results": {"synthetic": {"ate_abs_error": 0.25}}}))
    argv = ["push", str(folder), "org/cli-cina", "--endpoint", recording_hub.url, "--token", "t",
            "--results", str(results)]
    assert main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"{recording_hub.url}/org/cli-cina/commit/")
    card = ModelCard(recording_hub.commits[-1]["files"]["README.md"].decode())
    assert card.data.eval_results[0].metric_value == 0.25

    # nothing listens on the endpoint: one line on stderr, non-zero exit
    dead = "http://127.0.0.1:9"
    assert main(["push", str(folder), "org/x", "--endpoint", dead, "--token", "t"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]  # earlier lines: progress bars of the load
    assert err.startswith("hf-causal push: error: upload to org/x failed")


def test_transformers_push_to_hub_carries_the_code(default_endpoint, recording_hub) -> None:
    """``model.push_to_hub`` (transformers' own method) ships the code too: registration is in the model file."""
    model = tiny_model()
    model.push_to_hub("org/native-push", token="t")
    files = recording_hub.commits[-1]["files"]
    assert {"config.json", "model.safetensors", "modeling_cina.py", "configuration_cina.py", "README.md"} <= set(files)
    assert json.loads(files["config.json"])["auto_map"]["AutoConfig"] == "configuration_cina.CInAConfig"
    assert all(torch.equal(v, load(files["model.safetensors"])[k]) for k, v in model.state_dict().items())
