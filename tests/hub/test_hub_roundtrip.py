"""Done-criterion of the Hub integration: save -> push (recorded on loopback) -> pull through olah -> load
with and without hf-causal installed, with identical outputs."""

from __future__ import annotations

import pytest
import torch
from support import tiny_cina_model

from hf_causal.hub import push_to_hub

REPO_ID = "hf-causal-tests/tiny-cina"

LOAD_BOTH = r'''
import json, sys, torch
_orig_meta, _orig_path = list(sys.meta_path), list(sys.path)
{prelude}
from transformers import AutoModel
inputs = torch.load({inputs!r})
remote = AutoModel.from_pretrained({repo!r}, trust_remote_code=True).eval()
with torch.no_grad():
    out_remote = remote(**inputs)
report = {{
    "remote_class": type(remote).__module__ + "." + type(remote).__name__,
    "hf_causal_imported": any(m == "hf_causal" or m.startswith("hf_causal.") for m in sys.modules),
}}
# now the same interpreter with hf-causal importable again, pulling into a separate cache
sys.meta_path[:] = _orig_meta
sys.path[:] = _orig_path
from hf_causal.cina import CInAModel
from hf_causal.hub import pull
folder = pull({repo!r}, endpoint={olah!r}, cache_dir={cache!r} + "-snapshot")
library = CInAModel.from_pretrained({repo!r}, cache_dir={cache!r}).eval()
with torch.no_grad():
    out_library = library(**inputs)
torch.save({{"remote": out_remote.weights, "remote_loss": out_remote.loss, "remote_effect": out_remote.effect,
             "library": out_library.weights, "library_effect": out_library.effect}}, {outputs!r})
report["library_class"] = type(library).__module__ + "." + type(library).__name__
report["pulled_files"] = sorted(p.name for p in folder.iterdir())
print(json.dumps(report))
'''


@pytest.mark.network
def test_save_push_pull_load_identical_outputs(tmp_path, recording_hub, hub_online, hubtools) -> None:
    model = tiny_cina_model(seed=0)
    gen = torch.Generator().manual_seed(1)
    inputs = {
        "covariates": torch.randn(2, 30, 3, generator=gen),
        "treatment": (torch.rand(2, 30, generator=gen) < 0.5).float(),
        "outcome": torch.randn(2, 30, generator=gen),
    }
    with torch.no_grad():
        expected = model(**inputs)

    # save -> push: what the upload sends is recorded by the loopback Hub
    commit = push_to_hub(model, REPO_ID, endpoint=recording_hub.url, token="hf_test_token",
                         results={"synthetic": {"ate_abs_error": 0.5}})
    assert commit.oid and recording_hub.commits[-1]["repo_id"] == REPO_ID
    files = recording_hub.commits[-1]["files"]
    assert {"config.json", "model.safetensors", "modeling_cina.py", "README.md"} <= set(files)

    # pull through a real Hub-compatible server (olah) serving a git repo of exactly the pushed files
    mirrors = hubtools.git_mirror(tmp_path / "mirrors", "model", REPO_ID, files)
    assert mirrors.is_dir()
    torch.save(inputs, tmp_path / "inputs.pt")
    with hubtools.olah_server(tmp_path / "mirrors", tmp_path) as url, hubtools.entry_not_found_shim(url) as shim:
        code = LOAD_BOTH.format(
            prelude=hubtools.blocker_prelude(),
            inputs=str(tmp_path / "inputs.pt"),
            outputs=str(tmp_path / "outputs.pt"),
            repo=REPO_ID,
            cache=str(tmp_path / "second-cache"),
            olah=url,
        )
        workdir = tmp_path / "elsewhere"
        workdir.mkdir()
        report = hubtools.run_python(code, workdir, hubtools.fresh_env(tmp_path, HF_ENDPOINT=shim.url), timeout=180)

    # the shim only turned olah's "repository not found" for absent optional files into the Hub's 404
    assert set(shim.rewritten) <= {"adapter_config.json", "model.safetensors.index.json", "generation_config.json"}
    assert report["remote_class"].startswith("transformers_modules.")
    assert not report["hf_causal_imported"]
    assert report["library_class"] == "hf_causal.cina.modeling_cina.CInAModel"
    assert "model.safetensors" in report["pulled_files"]
    got = torch.load(tmp_path / "outputs.pt")
    assert torch.equal(got["remote"], expected.weights)
    assert torch.equal(got["library"], expected.weights)
    assert torch.equal(got["remote_effect"], expected.effect)
    assert torch.equal(got["library_effect"], expected.effect)
    assert torch.equal(got["remote_loss"], expected.loss)
