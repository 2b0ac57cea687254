"""EngineTrainingArguments: one dataclass holds every training setting; keywords and ``args=`` agree."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hf_causal import CausalEngine, CausalGraph, EngineTrainingArguments

GRAPH = CausalGraph({"Z": "categorical", "A": "binary", "Y": "continuous"}, [("Z", "A"), ("Z", "Y"), ("A", "Y")])
TINY = {"model_type": "gpt2", "n_embd": 16, "n_layer": 1, "n_head": 2, "n_inner": 32}


def frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    z = rng.integers(0, 3, n)
    a = (rng.random(n) < 0.3 + 0.2 * z).astype(int)
    return pd.DataFrame({"Z": z, "A": a, "Y": a + 0.5 * z + rng.normal(size=n)})


def test_keywords_and_an_arguments_object_train_the_same_engine():
    settings = {"seed": 3, "backbone": TINY, "max_steps": 6, "n_bins": 8, "progress": False, "num_threads": 1}
    by_keywords = CausalEngine.train(frame(), GRAPH, **settings)
    args = EngineTrainingArguments(**{**settings, "max_steps": 2})
    by_object = CausalEngine.train(frame(), GRAPH, args, max_steps=6)  # keywords override the object's fields
    assert by_object.training_summary == by_keywords.training_summary
    assert by_keywords.training_summary["steps"] == 6 and args.max_steps == 2


def test_unknown_and_inconsistent_settings_are_errors():
    with pytest.raises(TypeError, match=r"unknown settings \['max_step'\]"):
        CausalEngine.train(frame(), GRAPH, max_step=5)
    with pytest.raises(ValueError, match="lora= needs a pretrained backbone"):
        EngineTrainingArguments(lora=True)
    with pytest.raises(ValueError, match="vocabulary"):
        EngineTrainingArguments(vocabulary="words")
    with pytest.raises(ValueError, match="continuous_codec"):
        EngineTrainingArguments(continuous_codec="splines")
    with pytest.raises(ValueError, match="val_fraction"):
        EngineTrainingArguments(val_fraction=1.0)
    with pytest.raises(ValueError, match="needs context_variables"):
        EngineTrainingArguments(bidirectional_context=True)
    with pytest.raises(TypeError, match="backbone"):
        EngineTrainingArguments(backbone=3)
    assert EngineTrainingArguments(context_variables="text").context_variables == ("text",)
    assert EngineTrainingArguments(lora=False).lora is None


def test_default_steps_and_learning_rates():
    args = EngineTrainingArguments(batch_size=256)
    per_epoch = math.ceil(9000 / 256)
    assert args.resolve_steps(9000) == per_epoch * round(min(3000, max(300, int(20 * math.sqrt(9000)))) / per_epoch)
    assert args.resolve_steps(100) == 300 and EngineTrainingArguments(max_steps=7).resolve_steps(10**6) == 7
    assert args.resolved_learning_rate() == 2e-3
    assert EngineTrainingArguments(backbone="smollm2").resolved_learning_rate() == 1e-4
    assert EngineTrainingArguments(backbone="smollm2", lora=True).resolved_learning_rate() == 1e-3
    assert "context_variables" in EngineTrainingArguments.field_names()


def test_settings_that_would_give_silent_wrong_numbers_are_refused():
    with pytest.raises(ValueError, match="n_bins must be >= 2, got 1: .* every effect on it would be 0"):
        EngineTrainingArguments(n_bins=1)
    with pytest.raises(TypeError, match="n_bins must be an integer >= 2, got '8'"):
        EngineTrainingArguments(n_bins="8")
    with pytest.raises(TypeError, match="seed must be a non-negative integer, got 'a'"):
        EngineTrainingArguments(seed="a")
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        EngineTrainingArguments(seed=-1)
    kw = {"backbone": TINY, "max_steps": 1, "progress": False, "num_threads": 1}
    with pytest.raises(ValueError, match="n_bins must be >= 2"):
        CausalEngine.train(frame(), GRAPH, n_bins=1, **kw)
    data = frame()
    with pytest.raises(ValueError, match=r"continuous variable 'Y': values up to .* \(row \d+\) are too large to "
                                         r"compute with in float64 \(their variance overflows\)"):
        CausalEngine.train(data.assign(Y=data.Y * 1e307), GRAPH, **kw)


def test_an_unknown_backbone_is_named_with_the_aliases():
    with pytest.raises(ValueError, match=r"backbone 'nosuchbackbone' cannot be loaded: it is not an alias "
                                         r"\['all-MiniLM-L6-v2', .*'smollm2'\], a local model folder, nor a Hub id"):
        CausalEngine.train(frame(), GRAPH, backbone="nosuchbackbone", max_steps=1, progress=False)
