"""Tests of the random SCM generator (hf_causal.data.scm) and the named families (hf_causal.data.families)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hf_causal.data.families import FAMILIES, dataset_seed, random_config, sample_family
from hf_causal.data.scm import COVARIATE_TYPES, GRAPHS, MECHANISMS, SCMConfig, generate_dataset


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("graph", GRAPHS)
def test_shapes_types_and_truth_columns(mechanism: str, graph: str) -> None:
    cfg = SCMConfig(n_units=300, n_covariates=8, mechanism=mechanism, graph=graph, noise=0.3)
    ds = generate_dataset(cfg, seed=3)
    n, p = ds.X.shape
    assert n == 300 and p >= 8 and p == len(ds.feature_names) == len(set(ds.feature_names))
    assert ds.X.dtype == np.float64 and np.isfinite(ds.X).all()
    assert ds.T.dtype == np.int64 and set(np.unique(ds.T)) == {0, 1}
    for arr in (ds.Y, ds.mu0, ds.mu1, ds.propensity):
        assert arr.shape == (n,) and np.isfinite(arr).all()
    # independent recomputation of the estimands from the per-unit truth
    tau = ds.mu1 - ds.mu0
    assert ds.ate == pytest.approx(tau.sum() / n)
    assert ds.att == pytest.approx(tau[ds.T == 1].sum() / (ds.T == 1).sum())
    assert ds.atc == pytest.approx(tau[ds.T == 0].sum() / (ds.T == 0).sum())
    # residuals of Y around its true conditional mean are the outcome noise (sd = config.noise)
    resid = ds.Y - np.where(ds.T == 1, ds.mu1, ds.mu0)
    assert abs(resid.mean()) < 4 * 0.3 / np.sqrt(n)
    assert resid.std() == pytest.approx(0.3, rel=0.2)
    # params are JSON-serialisable and round-trip
    assert json.loads(json.dumps(ds.params))["config"]["mechanism"] == mechanism
    frame = ds.to_frame()
    assert list(frame.columns[:p]) == ds.feature_names and frame["T"].sum() == ds.T.sum()


def test_noise_free_outcome_equals_potential_outcome_mean() -> None:
    ds = generate_dataset(SCMConfig(n_units=200, n_covariates=5, noise=0.0), seed=0)
    np.testing.assert_array_equal(ds.Y, np.where(ds.T == 1, ds.mu1, ds.mu0))


def test_graph_is_a_dag_over_named_nodes() -> None:
    for seed in range(5):
        ds = generate_dataset(SCMConfig(n_units=100, n_covariates=12, graph="scale_free", density=2.0), seed)
        d = ds.params["config"]["n_covariates"]
        order = {f"x{j}": j for j in range(d)} | {"T": d, "Y": d + 1}
        assert ("T", "Y") in ds.graph
        for parent, child in ds.graph:
            assert order[parent] < order[child]
        assert {p for p, c in ds.graph if c == "T"} == set(ds.params["treatment_parents"])
        assert set(ds.params["treatment_parents"]) & set(ds.params["outcome_parents"])  # a confounder


def test_density_controls_number_of_covariate_edges() -> None:
    def mean_edges(graph: str, density: float) -> float:
        counts = []
        for seed in range(20):
            ds = generate_dataset(SCMConfig(n_units=50, n_covariates=20, graph=graph, density=density), seed)
            counts.append(sum(1 for _, c in ds.graph if c.startswith("x")))
        return float(np.mean(counts))

    # Erdős–Rényi: expected edges = density * (number of nodes) (p_edge = 2 density / (d - 1))
    assert mean_edges("erdos_renyi", 1.0) == pytest.approx(20.0, rel=0.2)
    assert mean_edges("erdos_renyi", 4.0) == pytest.approx(80.0, rel=0.2)
    # scale-free: each later node attaches to `density` earlier nodes
    assert mean_edges("scale_free", 2.0) == pytest.approx(2 * 19 - 1, abs=1.0)


def test_covariate_types() -> None:
    only = {
        t: generate_dataset(SCMConfig(n_units=400, n_covariates=6, covariate_mix={t: 1.0}), 1)
        for t in COVARIATE_TYPES
    }
    assert only["gaussian"].X.shape[1] == 6 and abs(np.mean(only["gaussian"].X)) < 0.3
    assert (only["skewed"].X > 0).all()
    skew = ((only["skewed"].X - only["skewed"].X.mean(0)) ** 3).mean(0) / only["skewed"].X.std(0) ** 3
    assert (skew > 0.5).all()
    assert set(np.unique(only["binary"].X)) == {0.0, 1.0}
    cat = only["categorical"]
    assert set(np.unique(cat.X)) == {0.0, 1.0}
    for j, k in cat.params["categorical_levels"].items():
        cols = [i for i, name in enumerate(cat.feature_names) if name.startswith(f"{j}=")]
        assert len(cols) == k - 1 and cat.X[:, cols].sum(1).max() <= 1.0


def test_reproducible_and_seed_sensitive() -> None:
    cfg = SCMConfig(n_units=150, n_covariates=7, mechanism="interactions")
    a, b, c = generate_dataset(cfg, 11), generate_dataset(cfg, 11), generate_dataset(cfg, 12)
    for name in ("X", "T", "Y", "mu0", "mu1", "propensity"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.graph == b.graph and a.params == b.params
    assert not np.array_equal(a.Y, c.Y)


def test_randomised_when_no_confounding_and_biased_otherwise() -> None:
    rct_err, conf_err = [], []
    for seed in range(40):
        rct = generate_dataset(SCMConfig(n_units=400, n_covariates=6, confounding_strength=0.0), seed)
        assert np.allclose(rct.propensity, 0.5)
        rct_err.append(rct.naive_difference - rct.ate)
        conf = generate_dataset(
            SCMConfig(n_units=400, n_covariates=6, confounding_strength=3.0, prognostic_alignment=0.8), seed
        )
        conf_err.append(conf.naive_difference - conf.ate)
    rct_err, conf_err = np.array(rct_err), np.array(conf_err)
    # randomised: the naive contrast is unbiased (mean error within 4 standard errors of zero)
    assert abs(rct_err.mean()) < 4 * rct_err.std() / np.sqrt(len(rct_err))
    # confounded (treatment score aligned with mu0): large positive bias in every dataset
    assert conf_err.mean() > 0.5 and (conf_err > 0).all()
    assert np.abs(conf_err).mean() > 5 * np.abs(rct_err).mean()


def test_stored_propensity_is_the_assignment_probability() -> None:
    """Horvitz-Thompson with the stored propensity is unbiased for the sample ATE; T is calibrated."""
    errs, t_all, e_all = [], [], []
    for seed in range(30):
        ds = generate_dataset(
            SCMConfig(n_units=1000, n_covariates=5, confounding_strength=2.0, overlap=0.05), seed
        )
        e, T, Y = ds.propensity, ds.T, ds.Y
        errs.append(np.mean(T * Y / e - (1 - T) * Y / (1 - e)) - np.mean(ds.mu1 - ds.mu0))
        t_all.append(T)
        e_all.append(e)
    errs = np.array(errs)
    assert abs(errs.mean()) < 4 * errs.std() / np.sqrt(len(errs))
    T, e = np.concatenate(t_all), np.concatenate(e_all)
    bins = np.digitize(e, [0.2, 0.4, 0.6, 0.8])
    for b in np.unique(bins):
        m = bins == b
        assert abs(T[m].mean() - e[m].mean()) < 4 * np.sqrt(0.25 / m.sum()) + 0.01


def test_linear_model_recovers_constant_effect() -> None:
    """With linear mechanisms, Gaussian covariates and a constant effect, OLS of Y on (1, X, T) is unbiased."""
    ests = []
    for seed in range(10):
        cfg = SCMConfig(
            n_units=2000,
            n_covariates=6,
            mechanism="linear",
            covariate_mix={"gaussian": 1.0},
            confounding_strength=2.0,
            prognostic_alignment=0.7,
            effect_mean=1.5,
            effect_heterogeneity=0.0,
        )
        ds = generate_dataset(cfg, seed)
        A = np.column_stack([np.ones(ds.n_units), ds.X, ds.T])
        coef = np.linalg.lstsq(A, ds.Y, rcond=None)[0]
        ests.append(coef[-1])
        assert ds.ate == pytest.approx(1.5) and ds.naive_difference - 1.5 > 0.2
    assert np.mean(ests) == pytest.approx(1.5, abs=0.05)


def test_overlap_bounds_propensities() -> None:
    weak = generate_dataset(
        SCMConfig(n_units=2000, n_covariates=5, confounding_strength=6.0, overlap=0.002), 0
    )
    good = generate_dataset(
        SCMConfig(n_units=2000, n_covariates=5, confounding_strength=6.0, overlap=0.15), 0
    )
    assert weak.propensity.min() >= 0.002 and weak.propensity.max() <= 0.998
    assert weak.propensity.min() < 0.01 and weak.propensity.max() > 0.99
    assert good.propensity.min() >= 0.15 - 1e-12 and good.propensity.max() <= 0.85 + 1e-12
    half = generate_dataset(SCMConfig(n_units=500, n_covariates=5, confounding_strength=6.0, overlap=0.5), 0)
    assert np.allclose(half.propensity, 0.5)


def test_heterogeneity_controls_effect_spread() -> None:
    flat = generate_dataset(SCMConfig(n_units=500, effect_heterogeneity=0.0, effect_mean=0.7), 4)
    het = generate_dataset(SCMConfig(n_units=500, effect_heterogeneity=2.0, effect_mean=0.7), 4)
    assert np.allclose(flat.cate, 0.7)
    assert het.cate.std() == pytest.approx(2.0, rel=1e-6) and het.ate == pytest.approx(0.7)


def test_families_ranges_and_reproducibility() -> None:
    expected = {
        "train",
        "validation",
        "test",
        "ood_mechanism",
        "ood_dense_graph",
        "ood_strong_confounding",
        "ood_weak_overlap",
        "ood_large_n",
    }
    assert expected <= set(FAMILIES)
    for name, spec in FAMILIES.items():
        dss = list(sample_family(name, 6, seed=1))
        assert len(dss) == 6
        for ds in dss:
            cfg = ds.params["config"]
            assert spec.n_units[0] <= ds.n_units <= spec.n_units[1]
            assert spec.n_covariates[0] <= cfg["n_covariates"] <= spec.n_covariates[1]
            assert cfg["mechanism"] in spec.mechanisms
            assert spec.overlap[0] <= cfg["overlap"] <= spec.overlap[1]
            assert ds.params["family"] == name
    a = next(sample_family("train", 1, seed=5))
    b = next(sample_family("train", 1, seed=5))
    np.testing.assert_array_equal(a.Y, b.Y)
    assert FAMILIES["ood_large_n"].n_units[0] > FAMILIES["train"].n_units[1]
    assert set(FAMILIES["ood_mechanism"].mechanisms).isdisjoint(FAMILIES["train"].mechanisms)


def test_random_config_covers_family_ranges() -> None:
    rng = np.random.default_rng(0)
    cfgs = [random_config("train", rng) for _ in range(300)]
    ns = np.array([c.n_units for c in cfgs])
    ds = np.array([c.n_covariates for c in cfgs])
    assert ns.min() < 200 and ns.max() > 2000 and ds.min() <= 3 and ds.max() >= 48
    assert {c.mechanism for c in cfgs} == set(FAMILIES["train"].mechanisms)
    assert {c.graph for c in cfgs} == set(GRAPHS)


def test_family_seeds_are_disjoint() -> None:
    seeds = {name: {dataset_seed(name, s, i) for s in range(3) for i in range(500)} for name in FAMILIES}
    names = list(seeds)
    for i, a in enumerate(names):
        assert len(seeds[a]) == 1500
        for b in names[i + 1 :]:
            assert seeds[a].isdisjoint(seeds[b])
    train = next(sample_family("train", 1, seed=0))
    val = next(sample_family("validation", 1, seed=0))
    assert train.params["seed"] != val.params["seed"]
    assert train.X.shape != val.X.shape or not np.array_equal(train.X, val.X)


def test_overrides_and_endless_stream() -> None:
    stream = sample_family("ood_large_n", None, seed=2, n_units=120)
    for _ in range(3):
        ds = next(stream)
        assert ds.n_units == 120


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"graph": "small_world"}, ValueError),
        ({"mechanism": "gp"}, ValueError),
        ({"n_units": 2}, ValueError),
        ({"n_units": 10.0}, TypeError),
        ({"n_covariates": 0}, ValueError),
        ({"overlap": 0.7}, ValueError),
        ({"overlap": 0.0}, ValueError),
        ({"confounding_strength": -1.0}, ValueError),
        ({"treated_fraction": 1.0}, ValueError),
        ({"prognostic_alignment": 1.5}, ValueError),
        ({"covariate_mix": {"poisson": 1.0}}, ValueError),
        ({"covariate_mix": {"gaussian": 0.0}}, ValueError),
        ({"noise": "0.1"}, TypeError),
    ],
)
def test_bad_config_raises(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        SCMConfig(**kwargs)


def test_bad_arguments_raise() -> None:
    with pytest.raises(TypeError, match="SCMConfig"):
        generate_dataset({"n_units": 10}, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        generate_dataset(SCMConfig(), -1)
    with pytest.raises(ValueError, match="unknown family"):
        sample_family("nope", 3)
    with pytest.raises(ValueError, match="n_datasets"):
        sample_family("train", -1)
    with pytest.raises(ValueError, match="unknown SCMConfig fields"):
        sample_family("train", 1, n_unit=5)
    with pytest.raises(ValueError, match="seed"):
        sample_family("train", 1, seed=2**20)
    with pytest.raises(TypeError):
        random_config("train", 0)  # type: ignore[arg-type]


def test_scm_imports_without_datasets_or_pandas() -> None:
    code = (
        "import sys; sys.modules['datasets'] = None; sys.modules['pandas'] = None\n"
        "from hf_causal.data.scm import SCMConfig, generate_dataset\n"
        "ds = generate_dataset(SCMConfig(n_units=50, n_covariates=3), 0)\n"
        "assert 'datasets' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print(ds.X.shape[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "50"


def test_heteroscedastic_noise_keeps_its_rms_and_is_a_scale_mixture():
    """Noise sd ∝ exp(gamma v(x)) scaled to RMS `noise`: RMS unchanged, kurtosis above the normal's 3."""
    base = SCMConfig(n_units=40_000, n_covariates=4, noise=0.5, mechanism="linear", outcome_parent_prob=1.0)
    for gamma, kurtosis_range in ((0.0, (2.9, 3.1)), (1.0, (4.0, 30.0))):
        d = generate_dataset(SCMConfig(**{**base.to_dict(), "noise_heteroscedasticity": gamma}), seed=4)
        e = d.Y - np.where(d.T == 1, d.mu1, d.mu0)
        assert np.sqrt(np.mean(e**2)) == pytest.approx(0.5, rel=0.03)
        kurtosis = np.mean(e**4) / np.mean(e**2) ** 2
        assert kurtosis_range[0] < kurtosis < kurtosis_range[1], (gamma, kurtosis)
    with pytest.raises(ValueError, match="noise_heteroscedasticity"):
        SCMConfig(noise_heteroscedasticity=-0.1)


def test_the_wide_prior_has_few_relevant_covariates_among_many():
    data = list(sample_family("outcome_train", 40, seed=0, n_units=60))
    d = np.array([len(x.params["covariate_types"]) for x in data])
    relevant = np.array([len(x.params["outcome_parents"]) for x in data])
    assert d.max() > 60 and relevant.mean() < 12  # expected 1-10 parents of Y (+ the forced confounder)
    assert np.mean(relevant[d > 50] / d[d > 50]) < 0.25
    assert any(x.params["config"]["noise_heteroscedasticity"] > 0.5 for x in data)
    assert {f for f in FAMILIES if f.startswith("outcome_")} == {"outcome_train", "outcome_validation",
                                                                "outcome_train_wide", "outcome_validation_wide"}
    assert all(x.params["config"]["outcome_skew"] == 0.0 for x in data)  # the bundled network's prior: unbent


def test_bent_surfaces_are_the_closed_form_of_the_unbent_ones_with_the_same_noise():
    """``outcome_skew = k`` maps the unbent SCM's surfaces (same seed, same draws) through
    ``(exp(k u) - 1) / k`` divided by the bent ``mu0``'s SD; ``"control"`` leaves ``mu1`` as it was; the noise
    (``Y - mu_T``) is the same draw."""
    base = SCMConfig(n_units=3000, n_covariates=5, noise=0.3, mechanism="mlp")
    flat = generate_dataset(base, seed=11)
    for k, arms in ((0.8, "both"), (1.5, "control")):
        bent = generate_dataset(SCMConfig(**{**base.to_dict(), "outcome_skew": k, "outcome_skew_arms": arms}), 11)
        scale = np.std(np.expm1(k * flat.mu0) / k)
        np.testing.assert_allclose(bent.mu0, np.expm1(k * flat.mu0) / k / scale, rtol=1e-12)
        expected1 = np.expm1(k * flat.mu1) / k / scale if arms == "both" else flat.mu1
        np.testing.assert_allclose(bent.mu1, expected1, rtol=1e-12)
        assert np.std(bent.mu0) == pytest.approx(1.0)
        assert np.mean((bent.mu0 - bent.mu0.mean()) ** 3) > 0.5  # right-skewed
        np.testing.assert_array_equal(bent.T, flat.T)
        np.testing.assert_allclose(bent.Y - np.where(bent.T == 1, bent.mu1, bent.mu0),
                                   flat.Y - np.where(flat.T == 1, flat.mu1, flat.mu0), atol=1e-12)
    for bad, message in (({"outcome_skew": -0.1}, "outcome_skew must be in"), ({"outcome_skew": 3.5}, "outcome_skew"),
                         ({"outcome_skew_arms": "treated"}, "outcome_skew_arms")):
        with pytest.raises(ValueError, match=message):
            SCMConfig(**bad)


def test_the_wider_outcome_prior_has_large_effects_and_bent_surfaces():
    """``outcome_train_wide``: average effects beyond the bundled prior's 1 SD, bends in [0, 1.5] on both arms or
    the control one; ``outcome_train`` draws the same datasets as before the wider family existed."""
    data = list(sample_family("outcome_train_wide", 60, seed=0, n_units=60))
    configs = [x.params["config"] for x in data]
    assert all(-4 <= c["effect_mean"] <= 4 for c in configs) and max(abs(c["effect_mean"]) for c in configs) > 3
    assert all(0 <= c["outcome_skew"] <= 1.5 for c in configs)
    assert {c["outcome_skew_arms"] for c in configs} == {"both", "control"}
    narrow = [x.params["config"]["effect_mean"] for x in sample_family("outcome_train", 60, seed=0, n_units=60)]
    assert max(abs(e) for e in narrow) <= 1
