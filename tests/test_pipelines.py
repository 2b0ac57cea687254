"""The "treatment-effect" pipeline task: registered with transformers, same numbers as model.estimate."""

from __future__ import annotations

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
