"""Train on a confounded SCM, then check do() queries against its closed-form interventional law.

SCM:  Z ~ Cat(0.5, 0.3, 0.2);  A | Z ~ Bern(0.2, 0.45, 0.8);
      Y = 1 + 2A + 1.5Z + 0.5AZ + N(0, 1);  B | Z, A ~ Bern(expit(-1 + A - 1.2Z)).
Confounding by Z makes the naive contrasts far from the interventional ones.
"""

import numpy as np
import pandas as pd
import pytest

from hf_causal import CausalEngine, CausalGraph
from hf_causal.engine.interventional import EXACT_INTERVAL

PZ = np.array([0.5, 0.3, 0.2])
PA = np.array([0.2, 0.45, 0.8])
ZS = np.arange(3)


def expit(x):
    return 1 / (1 + np.exp(-x))


def simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=n, p=PZ)
    a = (rng.random(n) < PA[z]).astype(int)
    y = 1 + 2 * a + 1.5 * z + 0.5 * a * z + rng.normal(size=n)
    b = (rng.random(n) < expit(-1 + a - 1.2 * z)).astype(int)
    return pd.DataFrame({"Z": z, "A": a, "Y": y, "B": b})


def true_mean_y(a: int, z=None) -> float:
    if z is not None:
        return 1 + 2 * a + 1.5 * z + 0.5 * a * z
    return float((PZ * (1 + 2 * a + 1.5 * ZS + 0.5 * a * ZS)).sum())


def true_p_b(a: int) -> float:
    return float((PZ * expit(-1 + a - 1.2 * ZS)).sum())


GRAPH = CausalGraph(
    {"Z": "categorical", "A": "binary", "Y": "continuous", "B": "binary"},
    [("Z", "A"), ("Z", "Y"), ("A", "Y"), ("Z", "B"), ("A", "B")],
)
SMALL = {"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "n_inner": 128,
         "activation_function": "gelu", "tie_word_embeddings": False,
         "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}
N_MC = 8000


@pytest.fixture(scope="module")
def data():
    return simulate(4000, seed=0)


@pytest.fixture(scope="module")
def engine(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("engine_run")
    return CausalEngine.train(  # a fixed length (no stop on a stall), so that step 300 is checkpointed
        data, GRAPH, seed=0, backbone=SMALL, n_bins=32, max_steps=400, learning_rate=3e-3, patience=None,
        progress=False, num_threads=1, output_dir=str(out), save_steps=300,
    )


def test_ate_matches_closed_form_and_not_the_naive_contrast(engine, data):
    truth = true_mean_y(1) - true_mean_y(0)  # 2.35
    naive = data.Y[data.A == 1].mean() - data.Y[data.A == 0].mean()  # ~3.7
    est = engine.ate(treatment="A", outcome="Y")  # Z and A take one token each: enumerated exactly
    assert est.interval == EXACT_INTERVAL and est.n == 3
    sampled = engine.ate(treatment="A", outcome="Y", n=N_MC, exact=False)
    assert sampled.ci_low < sampled.value < sampled.ci_high and sampled.std_error < 0.05
    # tolerance: the estimation error of 4k training rows (plus Monte-Carlo error for the sampled one)
    assert abs(est.value - truth) < 0.2, est
    assert abs(sampled.value - truth) < 0.2, sampled
    # draws are uniform within a bin while enumeration stands a bin for its mean: nearly the same number
    assert abs(sampled.value - est.value) < 4 * sampled.std_error + 0.05
    assert abs(naive - truth) > 1.0


def test_interventional_distribution_of_binary_and_continuous_outcomes(engine, data):
    for a in (0, 1):
        p = engine.interventional_distribution("B", do={"A": a}, n=N_MC).probability(1)
        assert abs(p.value - true_p_b(a)) < 0.05, (a, p)
        mean_y = engine.interventional_distribution("Y", do={"A": a}, n=N_MC).mean()
        assert abs(mean_y.value - true_mean_y(a)) < 0.2, (a, mean_y)
    naive_b1 = data.B[data.A == 1].mean()
    assert abs(naive_b1 - true_p_b(1)) > 0.08  # confounding visible in the binary outcome too
    # the law of Y | do(A=1) is a 3-component Gaussian mixture: compare a quantile too
    dist = engine.interventional_distribution("Y", do={"A": 1}, n=N_MC)
    rng = np.random.default_rng(5)
    z = rng.choice(3, size=200_000, p=PZ)
    truth_q = np.quantile(1 + 2 + 2.0 * z + rng.normal(size=z.size), 0.5)
    assert abs(dist.quantiles([0.5]).iloc[0] - truth_q) < 0.25
    ax = dist.plot(bins=30)  # a density histogram of the draws, titled by the query
    assert ax.get_title() == "Y | do(A=1)" and ax.get_xlabel() == "Y"
    binary = engine.interventional_distribution("B", do={"A": 1}, n=2000)
    bars = [p.get_height() for p in binary.plot().containers[0]]
    assert bars == pytest.approx(binary.probabilities()["probability"].tolist())


def test_cate_and_att(engine):
    cate = engine.cate("A", "Y", given={"Z": 2}, n=N_MC)
    assert abs(cate.value - (true_mean_y(1, 2) - true_mean_y(0, 2))) < 0.3, cate
    att = engine.att("A", "Y", n=N_MC)
    w = PZ * PA / (PZ * PA).sum()
    assert abs(att.value - (2 + 0.5 * (w * ZS).sum())) < 0.2, att


def test_sampling_is_deterministic_and_in_value_space(engine):
    s1 = engine.sample(500, do={"A": 1}, seed=3)
    s2 = engine.sample(500, do={"A": 1}, seed=3)
    pd.testing.assert_frame_equal(s1, s2)
    assert list(s1.columns) == ["Z", "A", "Y", "B"]
    assert set(s1.Z.unique()) <= {0, 1, 2} and (s1.A == 1).all() and s1.Y.dtype == float
    assert not s1.equals(engine.sample(500, do={"A": 1}, seed=4))
    # only what is needed: Y's query never generates B (after Y in the order)
    assert list(engine.sample(10, do={"A": 0}, variables=["Y"]).columns) == ["Y"]


def test_save_load_round_trip_gives_identical_answers(engine, tmp_path):
    engine.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = CausalEngine.from_pretrained(tmp_path, num_threads=1)
    pd.testing.assert_frame_equal(loaded.sample(300, do={"A": 0}, seed=1), engine.sample(300, do={"A": 0}, seed=1))
    assert loaded.ate("A", "Y", n=500).value == engine.ate("A", "Y", n=500).value


def test_checkpoints_are_loadable_engines_and_resume(engine, data, tmp_path_factory):
    out = tmp_path_factory.getbasetemp()
    ckpts = sorted(out.glob("engine_run*/checkpoint-300"))
    assert ckpts, "no checkpoint written"
    CausalEngine.from_pretrained(ckpts[0])
    resumed = CausalEngine.train(
        data, GRAPH, seed=0, backbone=SMALL, n_bins=32, max_steps=400, learning_rate=3e-3, patience=None,
        progress=False, num_threads=1, resume_from_checkpoint=str(ckpts[0]),
    )
    assert resumed.training_summary["steps"] == 400
    assert abs(resumed.ate("A", "Y", n=2000).value - 2.35) < 0.25


def test_query_errors(engine):
    with pytest.raises(ValueError, match="unknown variable"):
        engine.sample(10, do={"Q": 1})
    with pytest.raises(ValueError, match="unknown value"):
        engine.sample(10, do={"A": 7})
    with pytest.raises(ValueError, match="both"):
        engine.sample(10, do={"A": 1}, given={"A": 1})
    with pytest.raises(ValueError, match="ancestors"):
        engine.sample(10, given={"Y": 3.0})  # posterior over Z and A is not supported
    with pytest.raises(ValueError, match="positive"):
        engine.sample(0)
    with pytest.raises(ValueError, match="not binary"):
        engine.ate("Z", "Y")
    with pytest.raises(TypeError):
        engine.sample(10, do=[("A", 1)])


def test_predict_proba_and_mean_match_the_closed_form_mechanisms(engine):
    z = np.array([0, 1, 2, 2, 0])
    propensity = engine.predict_proba("A", given={"Z": z})
    assert list(propensity.columns) == [0, 1] and propensity.shape == (5, 2)
    np.testing.assert_allclose(propensity.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(propensity[1], PA[z], atol=0.06)
    for a in (0, 1):
        mean = engine.predict_mean("Y", given={"Z": z}, do={"A": a})
        np.testing.assert_allclose(mean, [true_mean_y(a, zi) for zi in z], atol=0.25)
    # exact probabilities agree with Monte-Carlo draws of the same conditional
    draws = engine.sample(4000, given={"Z": 1}, variables=["A"], seed=2)["A"].mean()
    assert abs(engine.predict_proba("A", given={"Z": 1})[1].iloc[0] - draws) < 0.03


def test_att_over_observed_treated_rows(engine, data):
    treated_z = data.Z[data.A == 1].to_numpy()
    truth = float((2 + 0.5 * treated_z).mean())  # the sample ATT of these rows under the true SCM
    est = engine.att("A", "Y", data=data, n=N_MC)
    assert abs(est.value - truth) < 0.2, est
    assert est.estimand == "att" and "observed treated rows" in est.query
    # a treatment column read back as strings picks the same treated rows
    as_text = engine.att("A", "Y", data=data.assign(A=data.A.astype(str)), n=N_MC)
    assert as_text.value == est.value


def test_predict_errors(engine, data):
    with pytest.raises(ValueError, match="fixed by given= or do="):
        engine.predict_proba("Y", given={"Z": 1})  # A, before Y, would have to be marginalised
    with pytest.raises(ValueError, match="different lengths"):
        engine.predict_proba("B", given={"Z": np.array([0, 1]), "Y": np.array([1.0, 2.0, 3.0])}, do={"A": 1})
    with pytest.raises(ValueError, match="both the target"):
        engine.predict_proba("A", given={"Z": 1}, do={"A": 1})
    with pytest.raises(ValueError, match="unknown variable"):
        engine.predict_mean("Q", given={"Z": 1})
    with pytest.raises(ValueError, match="lacks the columns"):
        engine.att("A", "Y", data=data.drop(columns="Z"))
    with pytest.raises(ValueError, match="no rows"):
        engine.att("A", "Y", data=data[data.A == 0])
    holed = data.assign(A=data.A.astype(float).where(data.index != data.index[3]))
    with pytest.raises(ValueError, match=f"treatment column 'A' has missing values \\(first at row {data.index[3]}\\)"):
        engine.att("A", "Y", data=holed)  # not dropped in silence
    with pytest.raises(ValueError, match="'A'"):
        engine.att("A", "Y", data=data.assign(A=data.A + 2))  # values the engine never saw are named


def test_constrained_loss_flag_reaches_training(data):
    """Same seed and steps: the constrained loss is a softmax over a subset containing every label, so its
    validation loss is below the full-vocabulary one in the first steps, where the unconstrained model still
    puts mass on other variables' tokens."""
    losses = {}
    for flag in (True, False):
        engine = CausalEngine.train(data.head(600), GRAPH, seed=0, backbone=SMALL, n_bins=16, max_steps=6,
                                    batch_size=100, progress=False, num_threads=1, constrained_loss=flag)
        losses[flag] = engine.training_summary["best_val_loss"]
    assert losses[True] < losses[False]


def test_cate_holds_evidence_after_the_treatment_in_both_arms():
    """A -> W -> Y and A -> Y, all binary: E[Y | do(A=1), W=1] - E[Y | do(A=0), W=1] is the direct effect 0.3.

    Evidence that comes after the treatment in the order must be clamped in the control arm too; sampling W
    there instead would give 0.3 + 0.5 (1 - P(W=1 | A=0)) = 0.6.
    """
    rng = np.random.default_rng(1)
    n = 4000
    a = (rng.random(n) < 0.5).astype(int)
    w = (rng.random(n) < np.where(a == 1, 0.8, 0.4)).astype(int)
    y = (rng.random(n) < 0.1 + 0.3 * a + 0.5 * w).astype(int)
    graph = CausalGraph({"A": "binary", "W": "binary", "Y": "binary"}, [("A", "W"), ("W", "Y"), ("A", "Y")])
    assert graph.topological_order == ["A", "W", "Y"]
    engine = CausalEngine.train(pd.DataFrame({"A": a, "W": w, "Y": y}), graph, seed=0, backbone=SMALL,
                                max_steps=500, learning_rate=3e-3, progress=False, num_threads=1)
    est = engine.cate("A", "Y", given={"W": 1}, n=N_MC)
    assert est.estimand == "cate" and abs(est.value - 0.3) < 0.08, est
