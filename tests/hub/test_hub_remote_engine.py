"""The engine's model and tokenizer ship their code: they load with trust_remote_code where hf_causal cannot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from hf_causal import CausalEngine, CausalGraph
from hf_causal.hub import remote_code_files, save_for_hub

REMOTE_LOAD = r'''
import json, sys, torch
{prelude}
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained({folder!r}, trust_remote_code=True).eval()
tokenizer = AutoTokenizer.from_pretrained({folder!r}, trust_remote_code=True)
texts = json.load(open({texts!r}))
ids = tokenizer(texts)["input_ids"]
with torch.no_grad():
    logits = model(input_ids=torch.tensor(ids)).logits
torch.save({{"ids": ids, "logits": logits}}, {outputs!r})
print(json.dumps({{
    "model_class": type(model).__module__,
    "tokenizer_class": type(tokenizer).__module__,
    "hf_causal_imported": any(m.split(".")[0] == "hf_causal" for m in sys.modules),
}}))
'''


def _tiny_engine() -> CausalEngine:
    rng = np.random.default_rng(0)
    z = rng.integers(0, 3, 200)
    a = (rng.random(200) < 0.3 + 0.2 * z).astype(int)
    y = a + 0.5 * z + rng.normal(size=200)
    graph = CausalGraph({"Z": "categorical", "A": "binary", "Y": "continuous"}, [("Z", "A"), ("Z", "Y"), ("A", "Y")])
    backbone = {"model_type": "gpt2", "n_embd": 16, "n_layer": 1, "n_head": 2}
    return CausalEngine.train(
        pd.DataFrame({"Z": z, "A": a, "Y": y}), graph, backbone=backbone, max_steps=2, n_bins=8, progress=False
    )


def test_engine_code_closure_has_no_package_imports() -> None:
    engine = _tiny_engine()
    model_files = {f.name for f in remote_code_files(engine.model)}
    assert model_files == {"modeling_causal_ar.py", "configuration_causal_ar.py"}
    tokenizer_files = {f.name for f in remote_code_files(engine.tokenizer)}
    assert {"tokenization_causal.py", "codecs.py", "graph.py"} <= tokenizer_files


def test_engine_loads_where_hf_causal_cannot_be_imported(tmp_path, hubtools) -> None:
    import json

    engine = _tiny_engine()
    frame = engine.sample(4, seed=1, progress=False)
    texts = engine.tokenizer.frame_to_text(frame)
    expected_ids = engine.tokenizer(texts)["input_ids"]
    with torch.no_grad():
        expected = engine.model(input_ids=torch.tensor(expected_ids)).logits
    folder = save_for_hub(engine.model, tmp_path / "ckpt", tokenizer=engine.tokenizer)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    code = REMOTE_LOAD.format(
        prelude=hubtools.blocker_prelude(), folder=str(folder), texts=str(tmp_path / "texts.json"),
        outputs=str(tmp_path / "out.pt"),
    )
    report = hubtools.run_python(code, workdir, hubtools.fresh_env(tmp_path, HF_HUB_OFFLINE="1"))
    assert report["model_class"].startswith("transformers_modules.")
    assert report["tokenizer_class"].startswith("transformers_modules.")
    assert not report["hf_causal_imported"]
    got = torch.load(tmp_path / "out.pt")
    assert got["ids"] == expected_ids
    assert torch.equal(got["logits"], expected)
