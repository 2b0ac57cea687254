"""Random structural causal models (SCMs) with a binary treatment (docs/design.md §5.4).

Each call of :func:`generate_dataset` draws one observational dataset together with its truth:

1. **Graph.** ``n_covariates`` covariate nodes ``x0 .. x{d-1}`` (indexed in a topological order) get a
   random DAG: Erdős–Rényi (each earlier node is a parent with a fixed probability) or scale-free
   (preferential attachment: a new node picks earlier nodes with probability ∝ degree + 1). ``density`` is
   the expected number of covariate parents per covariate. The treatment ``T`` and the outcome ``Y`` are
   appended as sinks: each covariate is a parent of ``T`` with probability ``treatment_parent_prob`` and of
   ``Y`` with probability ``outcome_parent_prob``; at least one covariate is a parent of both (a confounder),
   and ``T -> Y``.
2. **Covariates.** Node ``j`` is ``v_j = sqrt(r) * f_j(parents) + sqrt(1 - r) * eps_j`` (``f_j`` standardised,
   ``r ~ U(0.3, 0.8)``, ``eps_j ~ N(0, 1)``), then typed: *gaussian* (``v``), *skewed* (log-normal
   ``exp(s v)``), *binary* (``v > c``) or *categorical* (3–4 ordered levels cut from ``v``, one-hot encoded
   in ``X`` with the first level dropped, columns ``xj=1``, ``xj=2`` ...). Children (covariates, ``T``,
   ``Y``) see only the *observed* value of a parent (a categorical parent through random level effects), so
   ignorability given ``X`` holds and the truth below is identified.
3. **Treatment.** ``e(x) = overlap + (1 - 2 overlap) * sigmoid(b + confounding_strength * s(x))`` where
   ``s = z(sqrt(1 - rho**2) g(x) + rho mu0(x))``, ``g`` a standardised random function of the treatment
   parents, ``rho = prognostic_alignment`` (T then also has the outcome parents as parents) and
   ``b = logit(treated_fraction)``;
   ``T ~ Bernoulli(e(x))``. ``confounding_strength = 0`` (or ``overlap = 0.5``) is a randomised trial;
   ``overlap`` is the smallest possible propensity (propensities lie in ``[overlap, 1 - overlap]``).
4. **Outcome.** ``mu0(x) = m(x)`` (a standardised random function of the outcome parents, sd 1),
   ``mu1(x) = mu0(x) + effect_mean + effect_heterogeneity * h(x)`` (``h`` another standardised random
   function of the outcome parents), ``Y = mu_T(x) + sigma(x) N(0, 1)`` with ``sigma = noise`` or, with
   ``noise_heteroscedasticity = gamma > 0``, ``sigma(x) ∝ exp(gamma v(x))`` scaled to root mean square ``noise``.
   With ``outcome_skew = k > 0`` the surfaces are bent before the noise: ``mu_a <- (exp(k mu_a) - 1) / k``,
   rescaled so that ``sd(mu0) = 1`` again (a right-skewed outcome such as earnings or costs, whose effect grows
   with the baseline); ``outcome_skew_arms = "control"`` bends ``mu0`` only (the treated surface keeps its
   shape, so the effect is the difference of two unlike shapes, as in IHDP's response surface B).

Random functions (``mechanism``): ``linear`` (``P w``), ``mlp`` (one tanh hidden layer of 16 units),
``rff`` (64 random Fourier features of an RBF kernel; periodic, rough) and ``interactions`` (linear plus
random pairwise products and squares). The truth kept per dataset: ``mu0``, ``mu1``, ``propensity`` per unit,
the sample ATE / ATT / ATC (computed from ``mu0``/``mu1``), the graph's edge list and the generator
parameters (JSON-serialisable).

The named families that randomise :class:`SCMConfig` are in :mod:`hf_causal.data.families`.

This module needs only numpy (and pandas for :meth:`SyntheticDataset.to_frame`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "COVARIATE_TYPES",
    "GRAPHS",
    "MECHANISMS",
    "SCMConfig",
    "SyntheticDataset",
    "generate_dataset",
]

GRAPHS: tuple[str, ...] = ("erdos_renyi", "scale_free")
MECHANISMS: tuple[str, ...] = ("linear", "mlp", "rff", "interactions")
COVARIATE_TYPES: tuple[str, ...] = ("gaussian", "skewed", "binary", "categorical")
#: which potential outcomes ``SCMConfig.outcome_skew`` bends
SKEW_ARMS: tuple[str, ...] = ("both", "control")
#: the largest bend: ``exp(3 u)`` of a standardised surface already spans orders of magnitude
MAX_OUTCOME_SKEW = 3.0

_MLP_HIDDEN = 16
_RFF_FEATURES = 64


# --------------------------------------------------------------------------------------------------- data


@dataclass
class SyntheticDataset:
    """One draw from a random SCM, with its ground truth.

    Attributes:
        X: ``(N, p)`` float64 covariate matrix (categoricals one-hot encoded, first level dropped).
        feature_names: names of the ``p`` columns of ``X``.
        T: ``(N,)`` int64 treatment in ``{0, 1}``.
        Y: ``(N,)`` float64 observed outcome.
        mu0: ``(N,)`` true ``E[Y(0) | X]``.
        mu1: ``(N,)`` true ``E[Y(1) | X]``.
        propensity: ``(N,)`` true ``P(T = 1 | X)``.
        graph: edge list ``[(parent, child), ...]`` over the nodes ``x0..``, ``T`` and ``Y``.
        params: JSON-serialisable generator parameters (the config, the seed, the node types ...).
    """

    X: np.ndarray
    feature_names: list[str]
    T: np.ndarray
    Y: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray
    propensity: np.ndarray
    graph: list[tuple[str, str]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        """Number of units ``N``."""
        return int(self.T.shape[0])

    @property
    def cate(self) -> np.ndarray:
        """Per-unit conditional effect ``mu1 - mu0``."""
        return self.mu1 - self.mu0

    @property
    def ate(self) -> float:
        """Sample average treatment effect ``mean(mu1 - mu0)``."""
        return float(np.mean(self.mu1 - self.mu0))

    @property
    def att(self) -> float:
        """Sample average effect on the treated ``mean(mu1 - mu0 | T = 1)``."""
        return float(np.mean((self.mu1 - self.mu0)[self.T == 1]))

    @property
    def atc(self) -> float:
        """Sample average effect on the controls ``mean(mu1 - mu0 | T = 0)``."""
        return float(np.mean((self.mu1 - self.mu0)[self.T == 0]))

    @property
    def naive_difference(self) -> float:
        """Unadjusted difference in means ``mean(Y | T=1) - mean(Y | T=0)`` (biased under confounding)."""
        return float(self.Y[self.T == 1].mean() - self.Y[self.T == 0].mean())

    def to_frame(self) -> Any:
        """Return a :class:`pandas.DataFrame` with the covariates, ``T``, ``Y``, ``mu0``, ``mu1``, ``propensity``."""
        import pandas as pd

        frame = pd.DataFrame(self.X, columns=list(self.feature_names))
        frame["T"] = self.T
        frame["Y"] = self.Y
        frame["mu0"] = self.mu0
        frame["mu1"] = self.mu1
        frame["propensity"] = self.propensity
        return frame


@dataclass
class SCMConfig:
    """Parameters of one random SCM (see the module docstring for the model).

    Attributes:
        n_units: number of units ``N`` (>= 4).
        n_covariates: number of covariate *nodes* ``d`` (>= 1); ``X`` has more columns when some are
            categorical.
        graph: ``"erdos_renyi"`` or ``"scale_free"``.
        density: expected number of covariate parents per covariate (>= 0).
        mechanism: ``"linear"``, ``"mlp"``, ``"rff"`` or ``"interactions"``; used for every random function.
        covariate_mix: non-negative weights over ``gaussian``, ``skewed``, ``binary``, ``categorical``; each
            node's type is drawn with these probabilities.
        treatment_parent_prob: probability that a covariate is a parent of ``T``.
        outcome_parent_prob: probability that a covariate is a parent of ``Y``.
        confounding_strength: logit slope of the treatment score (>= 0); 0 gives a randomised trial.
        prognostic_alignment: in ``[0, 1]``; weight ``rho`` of ``mu0`` in the treatment score
            ``s = z(sqrt(1 - rho**2) g(x_T) + rho mu0(x))``. 0 leaves confounding to the shared parents;
            larger values make the naive contrast more biased (T then has all outcome parents as parents).
        overlap: smallest propensity, in ``(0, 0.5]``; propensities lie in ``[overlap, 1 - overlap]``.
        treated_fraction: target share of treated units, in ``(0, 1)``.
        effect_mean: constant part of the treatment effect (outcome units; ``sd(mu0) = 1``).
        effect_heterogeneity: standard deviation of the varying part of the effect (>= 0).
        noise: standard deviation of the outcome noise (>= 0); with heteroscedasticity, its root mean square.
        noise_heteroscedasticity: ``gamma >= 0``; the noise's standard deviation at ``x`` is proportional to
            ``exp(gamma * v(x))`` with ``v`` a standardised random function of the outcome parents (0: constant).
        outcome_skew: ``k`` in ``[0, 3]``; the surfaces are bent by ``u -> (exp(k u) - 1) / k`` (0: unbent).
        outcome_skew_arms: ``"both"`` or ``"control"``: which potential outcomes ``outcome_skew`` bends.
    """

    n_units: int = 1000
    n_covariates: int = 10
    graph: str = "erdos_renyi"
    density: float = 1.0
    mechanism: str = "mlp"
    covariate_mix: dict[str, float] = field(
        default_factory=lambda: {"gaussian": 0.5, "skewed": 0.2, "binary": 0.2, "categorical": 0.1}
    )
    treatment_parent_prob: float = 0.5
    outcome_parent_prob: float = 0.6
    confounding_strength: float = 1.0
    prognostic_alignment: float = 0.0
    overlap: float = 0.02
    treated_fraction: float = 0.5
    effect_mean: float = 1.0
    effect_heterogeneity: float = 0.5
    noise: float = 0.5
    noise_heteroscedasticity: float = 0.0
    outcome_skew: float = 0.0
    outcome_skew_arms: str = "both"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``TypeError`` / ``ValueError`` when a field has the wrong type or an invalid value."""
        for name in ("n_units", "n_covariates"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"SCMConfig.{name} must be an int, got {type(value).__name__}")
        if self.n_units < 4:
            raise ValueError(f"SCMConfig.n_units must be >= 4, got {self.n_units}")
        if self.n_covariates < 1:
            raise ValueError(f"SCMConfig.n_covariates must be >= 1, got {self.n_covariates}")
        if self.graph not in GRAPHS:
            raise ValueError(f"SCMConfig.graph must be one of {GRAPHS}, got {self.graph!r}")
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"SCMConfig.mechanism must be one of {MECHANISMS}, got {self.mechanism!r}")
        for name in (
            "density",
            "treatment_parent_prob",
            "outcome_parent_prob",
            "confounding_strength",
            "prognostic_alignment",
            "overlap",
            "treated_fraction",
            "effect_mean",
            "effect_heterogeneity",
            "noise",
            "noise_heteroscedasticity",
            "outcome_skew",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"SCMConfig.{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(float(value)):
                raise ValueError(f"SCMConfig.{name} must be finite, got {value}")
        for name in ("density", "confounding_strength", "effect_heterogeneity", "noise", "noise_heteroscedasticity"):
            if getattr(self, name) < 0:
                raise ValueError(f"SCMConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("treatment_parent_prob", "outcome_parent_prob", "prognostic_alignment"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"SCMConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.outcome_skew <= MAX_OUTCOME_SKEW:
            raise ValueError(f"SCMConfig.outcome_skew must be in [0, {MAX_OUTCOME_SKEW}], got {self.outcome_skew}")
        if self.outcome_skew_arms not in SKEW_ARMS:
            raise ValueError(f"SCMConfig.outcome_skew_arms must be one of {SKEW_ARMS}, got {self.outcome_skew_arms!r}")
        if not 0.0 < self.overlap <= 0.5:
            raise ValueError(f"SCMConfig.overlap must be in (0, 0.5], got {self.overlap}")
        if not 0.0 < self.treated_fraction < 1.0:
            raise ValueError(f"SCMConfig.treated_fraction must be in (0, 1), got {self.treated_fraction}")
        if not isinstance(self.covariate_mix, dict):
            raise TypeError("SCMConfig.covariate_mix must be a dict {covariate type: weight}")
        unknown = set(self.covariate_mix) - set(COVARIATE_TYPES)
        if unknown:
            raise ValueError(
                f"SCMConfig.covariate_mix has unknown types {sorted(unknown)}; use {COVARIATE_TYPES}"
            )
        weights = [float(w) for w in self.covariate_mix.values()]
        if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("SCMConfig.covariate_mix weights must be finite, >= 0 and not all 0")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of the fields (floats and ints are plain Python numbers)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, (np.integer,)):
                out[key] = int(value)
            elif isinstance(value, (np.floating,)):
                out[key] = float(value)
        out["covariate_mix"] = {k: float(v) for k, v in self.covariate_mix.items()}
        return out


# ---------------------------------------------------------------------------------------------- helpers


def bend_surfaces(mu0: np.ndarray, mu1: np.ndarray, skew: float, arms: str = "both") -> tuple[np.ndarray, np.ndarray]:
    """``(mu0, mu1)`` bent by ``u -> (exp(skew u) - 1) / skew`` and divided by the bent ``mu0``'s standard
    deviation, so that ``sd(mu0) = 1`` stays the outcome unit; with ``arms="control"`` only ``mu0`` is bent and
    ``mu1`` is returned as it is (already in units of an ``sd``-1 control surface)."""
    bent0 = np.expm1(skew * mu0) / skew
    scale = float(np.std(bent0)) or 1.0
    if arms == "control":
        return bent0 / scale, mu1
    return bent0 / scale, np.expm1(skew * mu1) / skew / scale


def _standardise(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    if not sd > 1e-12:
        return np.zeros_like(v)
    return (v - v.mean()) / sd


def _random_function(mechanism: str, P: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A standardised random function of the columns of ``P`` (``(N, k)``, k >= 1)."""
    k = P.shape[1]
    if mechanism == "linear":
        out = P @ rng.standard_normal(k)
    elif mechanism == "mlp":
        W = rng.standard_normal((k, _MLP_HIDDEN)) * (1.5 / math.sqrt(k))
        H = P @ W
        H += rng.standard_normal(_MLP_HIDDEN) * 0.5
        out = np.tanh(H, out=H) @ rng.standard_normal(_MLP_HIDDEN)
    elif mechanism == "rff":
        lengthscale = math.sqrt(k) * rng.uniform(0.3, 1.0)
        W = rng.standard_normal((k, _RFF_FEATURES)) / lengthscale
        b = rng.uniform(0.0, 2.0 * math.pi, _RFF_FEATURES)
        # float32 cos is much faster than float64 in numpy's SIMD loops; in place to spare allocations
        H = (P @ W).astype(np.float32)
        H += b.astype(np.float32)
        out = np.cos(H, out=H) @ rng.standard_normal(_RFF_FEATURES).astype(np.float32)
        out = out.astype(np.float64)
    elif mechanism == "interactions":
        n_pairs = max(1, k)
        a = rng.integers(0, k, n_pairs)
        c = rng.integers(0, k, n_pairs)
        out = P @ (0.5 * rng.standard_normal(k)) + (P[:, a] * P[:, c]) @ rng.standard_normal(n_pairs)
    else:  # pragma: no cover - validated by SCMConfig
        raise ValueError(f"unknown mechanism {mechanism!r}")
    return _standardise(out)


def _sample_parents(config: SCMConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """Parent index arrays of each covariate node (parents always have a smaller index)."""
    d = config.n_covariates
    parents: list[np.ndarray] = [np.empty(0, dtype=np.int64) for _ in range(d)]
    if d == 1:
        return parents
    if config.graph == "erdos_renyi":
        p_edge = min(1.0, 2.0 * config.density / (d - 1))
        adj = np.triu(rng.random((d, d)) < p_edge, k=1)
        for j in range(d):
            parents[j] = np.flatnonzero(adj[:, j])
    else:  # scale_free: preferential attachment in topological order
        degree = np.zeros(d)
        base, frac = int(math.floor(config.density)), config.density - math.floor(config.density)
        for j in range(1, d):
            m = min(j, base + int(rng.random() < frac))
            if m == 0:
                continue
            w = degree[:j] + 1.0
            chosen = np.sort(rng.choice(j, size=m, replace=False, p=w / w.sum()))
            parents[j] = chosen
            degree[chosen] += 1
            degree[j] += m
    return parents


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


# ------------------------------------------------------------------------------------------- generator


def generate_dataset(config: SCMConfig, seed: int) -> SyntheticDataset:
    """Draw one dataset (and its truth) from a random SCM described by ``config``.

    Args:
        config: the SCM parameters.
        seed: non-negative integer; the same ``(config, seed)`` always gives the same dataset.

    Returns:
        A :class:`SyntheticDataset` with ``X``, ``T``, ``Y``, ``mu0``, ``mu1``, ``propensity``, the graph and
        ``params``. Both arms contain at least two units (the treatment vector is redrawn otherwise).

    Raises:
        TypeError: ``config`` is not an :class:`SCMConfig` or ``seed`` is not an int.
        ValueError: ``seed`` is negative, a config field is invalid, or no assignment with two units per
            arm could be drawn (extreme ``treated_fraction`` with tiny ``n_units``).
    """
    if not isinstance(config, SCMConfig):
        raise TypeError(f"config must be an SCMConfig, got {type(config).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    config.validate()
    rng = np.random.default_rng(int(seed))
    n, d, mech = int(config.n_units), int(config.n_covariates), config.mechanism

    # --- graph and node types
    parents = _sample_parents(config, rng)
    mix_types = [t for t in COVARIATE_TYPES if config.covariate_mix.get(t, 0.0) > 0]
    mix_w = np.array([float(config.covariate_mix[t]) for t in mix_types])
    types = [mix_types[i] for i in rng.choice(len(mix_types), size=d, p=mix_w / mix_w.sum())]

    # --- covariates; R holds each node's standardised observed representation seen by its children
    R = np.empty((n, d))
    columns: list[np.ndarray] = []
    names: list[str] = []
    levels: dict[str, int] = {}
    noise = rng.standard_normal((n, d))
    for j in range(d):
        pa = parents[j]
        if pa.size:
            r = rng.uniform(0.3, 0.8)
            v = math.sqrt(r) * _random_function(mech, R[:, pa], rng) + math.sqrt(1.0 - r) * noise[:, j]
        else:
            v = noise[:, j]
        kind = types[j]
        if kind == "gaussian":
            columns.append(v)
            names.append(f"x{j}")
            R[:, j] = _standardise(v)
        elif kind == "skewed":
            x = np.exp(rng.uniform(0.5, 1.0) * v)
            columns.append(x)
            names.append(f"x{j}")
            R[:, j] = _standardise(x)
        elif kind == "binary":
            x = (v > rng.uniform(-0.85, 0.85)).astype(np.float64)
            columns.append(x)
            names.append(f"x{j}")
            R[:, j] = _standardise(x)
        else:  # categorical, k ordered levels cut from v; children see random level effects
            k = int(rng.integers(3, 5))
            cuts = np.sort(rng.uniform(-1.2, 1.2, k - 1))
            code = np.searchsorted(cuts, v)
            for level in range(1, k):
                columns.append((code == level).astype(np.float64))
                names.append(f"x{j}={level}")
            levels[f"x{j}"] = k
            R[:, j] = _standardise(rng.standard_normal(k)[code])
    X = np.column_stack(columns)

    # --- treatment and outcome parents (at least one shared covariate: a confounder)
    in_t = rng.random(d) < config.treatment_parent_prob
    in_y = rng.random(d) < config.outcome_parent_prob
    confounder = int(rng.integers(d))
    in_t[confounder] = in_y[confounder] = True
    pa_t, pa_y = np.flatnonzero(in_t), np.flatnonzero(in_y)

    mu0 = _random_function(mech, R[:, pa_y], rng)
    tau = config.effect_mean + config.effect_heterogeneity * _random_function(mech, R[:, pa_y], rng)
    mu1 = mu0 + tau

    rho = float(config.prognostic_alignment)
    score = _random_function(mech, R[:, pa_t], rng)
    if rho > 0:  # T also reads the prognostic score mu0(x): its parents become pa_t | pa_y
        score = _standardise(math.sqrt(1.0 - rho * rho) * score + rho * mu0)
        pa_t = np.union1d(pa_t, pa_y)
    logits = _logit(config.treated_fraction) + config.confounding_strength * score
    e = config.overlap + (1.0 - 2.0 * config.overlap) / (1.0 + np.exp(-logits))

    for _ in range(100):
        T = (rng.random(n) < e).astype(np.int64)
        n1 = int(T.sum())
        if n1 >= 2 and n - n1 >= 2:
            break
    else:
        raise ValueError(
            f"could not draw >= 2 treated and >= 2 control units with n_units={n}, "
            f"treated_fraction={config.treated_fraction}; increase n_units"
        )
    if config.outcome_skew > 0:  # deterministic, after every draw above: unbent SCMs keep their random stream
        mu0, mu1 = bend_surfaces(mu0, mu1, config.outcome_skew, config.outcome_skew_arms)
    noise_sd = np.full(n, float(config.noise))
    if config.noise_heteroscedasticity > 0:  # drawn only then, so homoscedastic SCMs keep their random stream
        scale = np.exp(config.noise_heteroscedasticity * _random_function(mech, R[:, pa_y], rng))
        noise_sd = config.noise * scale / math.sqrt(np.mean(scale**2))
    Y = np.where(T == 1, mu1, mu0) + noise_sd * rng.standard_normal(n)

    node = [f"x{j}" for j in range(d)]
    graph = [(node[int(i)], node[j]) for j in range(d) for i in parents[j]]
    graph += [(node[int(i)], "T") for i in pa_t] + [(node[int(i)], "Y") for i in pa_y] + [("T", "Y")]
    params: dict[str, Any] = {
        "seed": int(seed),
        "config": config.to_dict(),
        "covariate_types": types,
        "categorical_levels": levels,
        "treatment_parents": [node[int(i)] for i in pa_t],
        "outcome_parents": [node[int(i)] for i in pa_y],
        "n_treated": n1,
    }
    return SyntheticDataset(
        X=X, feature_names=names, T=T, Y=Y, mu0=mu0, mu1=mu1, propensity=e, graph=graph, params=params
    )
