"""Checkpoint names and folders fail at once, in one line naming the file: missing folders, unknown names while
offline or without a network, truncated or garbage weights, bad config.json, pickled weights."""

from __future__ import annotations

import json
import time

import pytest
from support import tiny_cina_model

from hf_causal.cina import CInAModel
from hf_causal.hub import load_checkpoint, resolve_checkpoint
from hf_causal.hub.checkpoints import check_checkpoint_folder


@pytest.fixture
def folder(tmp_path):
    tiny_cina_model(seed=0).save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def _one_line(err: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("name", ["./no_such_folder", "/no/such/folder", "~/no_such_folder", "a/b/c"])
def test_a_missing_folder_is_not_mistaken_for_a_hub_id(name):
    with pytest.raises(FileNotFoundError, match="model folder not found") as err:
        CInAModel.from_pretrained(name)
    assert _one_line(err).endswith(name)


def test_unknown_names_fail_fast_offline_and_invalid_ids_are_named():
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match=r"'no_such_folder' is not a local folder or a bundled checkpoint "
                                                r"\(cina-zs-base\), and the Hub is offline"):
        CInAModel.from_pretrained("no_such_folder")
    assert time.perf_counter() - start < 5
    with pytest.raises(ValueError, match="nor a valid Hub id"):
        resolve_checkpoint("not a name!")


def test_a_cached_hub_model_resolves_offline(tmp_path, monkeypatch):
    from huggingface_hub import constants

    snapshot = tmp_path / "models--org--cached" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "cina"}))
    (tmp_path / "models--org--cached" / "refs").mkdir()
    (tmp_path / "models--org--cached" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert resolve_checkpoint("org/cached") == "org/cached"
    with pytest.raises(FileNotFoundError, match="no cached copy"):
        resolve_checkpoint("org/not-cached")


def test_no_network_fails_in_seconds_not_after_retries(hub_online, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="the Hub cannot be reached") as err:
        resolve_checkpoint("org/some-model")
    assert time.perf_counter() - start < 15 and "HF_HUB_OFFLINE=1" in _one_line(err)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS = {
    "truncated weights": (lambda f: _truncate(f / "model.safetensors"), "model.safetensors is not a readable "
                          "safetensors file .*incomplete metadata"),
    "garbage weights": (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 64 + b"not a tensor" * 50),
                        "model.safetensors is not a readable safetensors file"),
    "config not JSON": (lambda f: (f / "config.json").write_text('{"model_type": "cina",'),
                        r"config.json is not valid JSON \(Expecting"),
    "config without model_type": (lambda f: (f / "config.json").write_text("{}"), "config.json names no model_type"),
    "config value out of range": (
        lambda f: (f / "config.json").write_text(json.dumps(
            {**json.loads((f / "config.json").read_text()), "landmark_units": -5})),
        r"ckpt.*config.json.* landmark_units must be None or >= 0, got -5"),
    "pickled weights only": (lambda f: ((f / "model.safetensors").rename(f / "pytorch_model.bin")),
                             r"holds pickled weights only \(pytorch_model.bin\); hf-causal loads safetensors only"),
    "no weights": (lambda f: (f / "model.safetensors").unlink(), "holds no weights"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_broken_folder_is_one_line_naming_the_file(folder, case):
    corrupt, message = CORRUPTIONS[case]
    corrupt(folder)
    for load in (CInAModel.from_pretrained, load_checkpoint):
        with pytest.raises(ValueError, match=message) as err:
            load(folder)
        assert str(folder) in _one_line(err)


def test_a_sharded_checkpoint_checks_every_shard(folder):
    (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
    index = {"metadata": {}, "weight_map": {"embed.weight": "model-00001-of-00001.safetensors",
                                            "other": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="lists shards missing from the folder"):
        check_checkpoint_folder(folder)
    index["weight_map"].pop("other")
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    check_checkpoint_folder(folder)
    _truncate(folder / "model-00001-of-00001.safetensors")
    with pytest.raises(ValueError, match="model-00001-of-00001.safetensors is not a readable"):
        check_checkpoint_folder(folder)
