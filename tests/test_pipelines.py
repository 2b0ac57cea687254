"""The "treatment-effect" pipeline task: registered with transformers, same numbers as model.estimate."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from support import tiny_cina_model
from transformers import pipeline as hf_pipeline

import hf_causal.pipelines as pipelines
from hf_causal import EffectEstimate
from hf_causal.cina import CInAModel


@pytest.fixture(scope="module")
def model() -> CInAModel:
    return tiny_cina_model(seed=0)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 120
    df = pd.DataFrame({"age": rng.normal(40, 10, n), "score": rng.normal(size=n)})
    df["treat"] = (rng.random(n) < 1 / (1 + np.exp(-df["score"]))).astype(int)
    df["outcome"] = 0.1 * df["age"] + 2.0 * df["treat"] + df["score"] + rng.normal(size=n)
    return df


def test_task_is_registered_with_transformers(model, frame) -> None:
    from transformers.pipelines import PIPELINE_REGISTRY

    assert pipelines.TASK in PIPELINE_REGISTRY.get_supported_tasks()
    estimator = hf_pipeline("treatment-effect", model=model)
    assert isinstance(estimator, pipelines.TreatmentEffectPipeline)
    result = estimator(frame, treatment="treat", outcome="outcome", estimand="att")
    expected = model.estimate(frame[["age", "score"]], frame["treat"], frame["outcome"], estimand="att")
    assert isinstance(result, EffectEstimate)
    assert result.estimand == "att" and result.value == expected.value
    np.testing.assert_array_equal(result.weights, expected.weights)


def test_input_forms_agree(model, frame) -> None:
    estimator = pipelines.pipeline(model=model)
    x, t, y = frame[["age", "score"]].to_numpy(), frame["treat"].to_numpy(), frame["outcome"].to_numpy()
    reference = estimator(frame, treatment="treat", outcome="outcome").value
    assert estimator((x, t, y)).value == reference
    assert estimator({"X": x, "T": t, "Y": y}).value == reference
    assert estimator({"data": frame, "treatment": "treat", "outcome": "outcome"}).value == reference
    subset = estimator(frame, treatment="treat", outcome="outcome", covariates=["score"])
    assert subset.value == model.estimate(frame[["score"]], t, y).value
    as_dict = estimator((x, t, y), return_dict=True)
    assert as_dict["estimate"] == reference and as_dict["estimand"] == "ate" and as_dict["n"] == len(frame)
    batch = estimator([frame, frame.iloc[:80]], treatment="treat", outcome="outcome")
    assert [r.n for r in batch] == [120, 80] and batch[0].value == reference


def test_loads_checkpoint_folder(model, frame, tmp_path) -> None:
    model.save_pretrained(tmp_path / "ckpt")
    estimator = pipelines.pipeline("treatment-effect", model=str(tmp_path / "ckpt"))
    assert type(estimator.model) is CInAModel
    got = estimator(frame, treatment="treat", outcome="outcome", estimand="atc").value
    assert got == model.estimate(frame[["age", "score"]], frame["treat"], frame["outcome"], estimand="atc").value


def test_clear_errors(model, frame) -> None:
    estimator = pipelines.pipeline(model=model)
    with pytest.raises(ValueError, match="treatment= and outcome="):
        estimator(frame)
    with pytest.raises(ValueError, match="columns not found"):
        estimator(frame, treatment="nope", outcome="outcome")
    with pytest.raises(ValueError, match="DataFrame"):
        estimator("not data")
    with pytest.raises(ValueError, match="'X', 'T' and 'Y'"):
        estimator({"X": frame[["age"]]})
    with pytest.raises(TypeError, match="unexpected arguments"):
        estimator(frame, treatment="treat", outcome="outcome", alpha=0.1)
    with pytest.raises(ValueError, match="treatment-effect"):
        pipelines.pipeline("text-generation", model=model)
    with pytest.raises(TypeError, match="estimate"):
        pipelines.TreatmentEffectPipeline(torch.nn.Linear(2, 2))


def test_the_bundled_name_loads_offline(frame) -> None:
    estimator = pipelines.pipeline("treatment-effect", model="cina-zs-base")
    bundled = CInAModel.from_pretrained("cina-zs-base")
    got = estimator(frame, treatment="treat", outcome="outcome").value
    assert got == bundled.estimate(frame[["age", "score"]], frame["treat"], frame["outcome"]).value


def test_transformers_pipeline_without_a_model_gets_the_bundled_checkpoint(frame) -> None:
    import transformers

    estimator = transformers.pipeline("treatment-effect")  # no model: the bundled one's folder, offline
    expected = CInAModel.from_pretrained("cina-zs-base").estimate(frame[["age", "score"]], frame["treat"],
                                                                  frame["outcome"]).value
    assert estimator(frame, treatment="treat", outcome="outcome").value == expected


def _fresh_python(code: str, offline: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env,
                          stdin=subprocess.DEVNULL)


def test_transformers_pipeline_loads_a_folder_without_a_trust_remote_code_prompt() -> None:
    """The bundled folder's config.json names remote code (auto_map); importing hf_causal.pipelines registers the
    library's classes, so transformers uses them instead of asking (a prompt that blocks a script)."""
    from hf_causal.hub import bundled_checkpoints

    folder = str(bundled_checkpoints()["cina-zs-base"])
    code = ("import hf_causal.pipelines\nfrom transformers import pipeline\n"
            f"print(type(pipeline('treatment-effect', model={folder!r}).model).__name__)")
    out = _fresh_python(code, offline=True)
    assert out.returncode == 0 and out.stdout.split()[-1] == "CInAModel", out.stderr[-2000:]
    assert "trust_remote_code" not in out.stderr and "custom code" not in out.stderr


def test_hf_causal_pipeline_never_asks_the_hub_for_the_bundled_name() -> None:
    code = ("import time; t = time.perf_counter()\nimport hf_causal\n"
            "p = hf_causal.pipeline('treatment-effect', model='cina-zs-base')\n"
            "print(type(p.model).__name__, round(time.perf_counter() - t, 1))")
    out = _fresh_python(code, offline=False)  # online mode: a Hub lookup would retry for a minute here
    assert out.returncode == 0 and out.stdout.split()[-2] == "CInAModel", out.stderr[-2000:]
    assert float(out.stdout.split()[-1]) < 30
