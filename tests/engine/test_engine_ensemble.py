"""EngineEnsemble: a bootstrap over engines gives intervals that include the model's estimation error."""

import numpy as np
import pandas as pd
import pytest
import torch

from hf_causal.engine import CausalEngine, CausalGraph, EngineEnsemble
from hf_causal.engine.interventional import EXACT_INTERVAL

GRAPH = CausalGraph({"Z": "categorical", "A": "binary", "Y": "continuous"}, [("Z", "A"), ("Z", "Y"), ("A", "Y")])
TINY = {"model_type": "gpt2", "n_embd": 16, "n_layer": 1, "n_head": 2, "tie_word_embeddings": False}


def simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 3, n)
    a = (rng.random(n) < np.array([0.2, 0.5, 0.8])[z]).astype(int)
    return pd.DataFrame({"Z": z, "A": a, "Y": 1.0 + 2.0 * a + z + rng.normal(size=n)})


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return EngineEnsemble.bootstrap(
            simulate(1000, seed=0), GRAPH, n_engines=3, seed=0, backbone=TINY, n_bins=16, max_steps=300,
            learning_rate=3e-3, batch_size=64, progress=False, num_threads=1, output_dir=tmp_path_factory.mktemp("ensemble"),
        )
    finally:
        torch.set_num_threads(threads)


def test_the_bootstrap_interval_is_the_spread_of_the_engines_answers(ensemble):
    members = [engine.ate("A", "Y", n=2000) for engine in ensemble.engines]
    values = np.array([m.value for m in members])
    est = ensemble.ate("A", "Y", n=2000)
    assert est.value == pytest.approx(values.mean()) and est.std_error == pytest.approx(values.std(ddof=1))
    assert est.ci_high - est.ci_low == pytest.approx(2 * 1.959963984540054 * values.std(ddof=1))
    assert est.method == "engine-bootstrap" and est.estimand == "ate" and est.n == sum(m.n for m in members)
    assert "bootstrap over 3 engines" in est.interval and "estimation error" in est.summary()
    # each engine's answer is exact given its model (Z and A take one token): zero width, although the models differ
    assert all(m.interval == EXACT_INTERVAL and m.std_error == 0.0 for m in members)
    # the estimation error is what a single engine's Monte-Carlo interval leaves out: here it is far wider
    sampled = [engine.ate("A", "Y", n=20_000, exact=False) for engine in ensemble.engines]
    assert all("Monte-Carlo error of the draws only" in m.interval for m in sampled)
    assert est.std_error > 2 * max(m.std_error for m in sampled)
    assert est.ci_low < 2.0 < est.ci_high  # the simulated effect
    means = [e.interventional_mean("Y", do={"A": 1}).value for e in ensemble.engines]
    mean = ensemble.mean("Y", do={"A": 1}, n=500)
    assert mean.value == pytest.approx(np.mean(means)) and mean.std_error == pytest.approx(np.std(means, ddof=1))
    assert mean.estimand == "mean" and "bootstrap over 3 engines" in mean.interval


def test_each_engine_saw_its_own_resample(ensemble, tmp_path):
    edges = [tuple(e.tokenizer.codecs["Y"].edges) for e in ensemble.engines]
    assert len(set(edges)) == 3  # quantile edges fitted on different rows
    assert [e.seed for e in ensemble.engines] == [0, 1, 2]
    ensemble.save_pretrained(tmp_path)
    loaded = EngineEnsemble.from_pretrained(tmp_path, num_threads=1)
    assert loaded.cate("A", "Y", given={"Z": 1}, n=200).value == ensemble.cate("A", "Y", given={"Z": 1}, n=200).value


def test_ensemble_errors(ensemble):
    with pytest.raises(ValueError, match="at least 2 engines"):
        EngineEnsemble(ensemble.engines[:1])
    with pytest.raises(ValueError, match="n_engines"):
        EngineEnsemble.bootstrap(simulate(50, 1), GRAPH, n_engines=1)
    with pytest.raises(ValueError, match="confidence"):
        ensemble.ate("A", "Y", confidence=1.5)
    other = CausalGraph({"Z": "categorical", "A": "binary", "Y": "continuous"}, [("Z", "A"), ("A", "Y")])
    engine = ensemble.engines[0]
    stranger = CausalEngine(engine.model, type(engine.tokenizer).from_data(simulate(50, 2), other, n_bins=16))
    with pytest.raises(ValueError, match="share one causal graph"):
        EngineEnsemble([engine, stranger])
