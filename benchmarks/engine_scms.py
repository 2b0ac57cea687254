"""Synthetic SCMs with closed-form interventional laws, for the engine benchmark and example.

Each SCM has ``simulate(n, seed) -> DataFrame``, a :class:`~hf_causal.CausalGraph` and the exact
``E[Y | do(A=a)]`` for ``a in {0, 1}`` (so the ATE is exact, not simulated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hf_causal.engine.graph import CausalGraph


def expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class SCM:
    name: str
    description: str
    graph: CausalGraph
    simulate: Callable[[int, int], pd.DataFrame]
    mean_do: Callable[[int], float]  # exact E[Y | do(A=a)]

    @property
    def ate(self) -> float:
        return self.mean_do(1) - self.mean_do(0)


# --- 1. categorical confounder, continuous outcome ---------------------------------------------------
_PZ = np.array([0.5, 0.3, 0.2])
_PA = np.array([0.2, 0.45, 0.8])


def _mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=n, p=_PZ)
    a = (rng.random(n) < _PA[z]).astype(int)
    y = 1 + 2 * a + 1.5 * z + 0.5 * a * z + rng.normal(size=n)
    return pd.DataFrame({"Z": z, "A": a, "Y": y})


MIXED = SCM(
    "mixed",
    "Z~Cat(.5,.3,.2); A~Bern(.2/.45/.8 by Z); Y=1+2A+1.5Z+.5AZ+N(0,1)",
    CausalGraph({"Z": "categorical", "A": "binary", "Y": "continuous"}, [("Z", "A"), ("Z", "Y"), ("A", "Y")]),
    _mixed,
    lambda a: float((_PZ * (1 + 2 * a + 1.5 * np.arange(3) + 0.5 * a * np.arange(3))).sum()),
)


# --- 2. all discrete ------------------------------------------------------------------------------------
_P1 = 0.4
_P2 = np.array([0.3, 0.4, 0.3])


def _py(a: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    return expit(-0.5 + 1.2 * a - 0.8 * z1 + 0.6 * z2 - 0.7 * a * z1)


def _discrete(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z1 = (rng.random(n) < _P1).astype(int)
    z2 = rng.choice(3, size=n, p=_P2)
    a = (rng.random(n) < expit(-1 + 2 * z1 + 0.8 * (z2 - 1))).astype(int)
    y = (rng.random(n) < _py(a, z1, z2)).astype(int)
    return pd.DataFrame({"Z1": z1, "Z2": z2, "A": a, "Y": y})


def _discrete_mean(a: int) -> float:
    total = 0.0
    for z1, p1 in ((0, 1 - _P1), (1, _P1)):
        for z2 in range(3):
            total += p1 * _P2[z2] * float(_py(np.array(a), np.array(z1), np.array(z2)))
    return total


DISCRETE = SCM(
    "discrete",
    "Z1~Bern(.4); Z2~Cat(.3,.4,.3); A~Bern(expit(-1+2Z1+.8(Z2-1))); Y~Bern(expit(-.5+1.2A-.8Z1+.6Z2-.7AZ1))",
    CausalGraph(
        {"Z1": "binary", "Z2": "categorical", "A": "binary", "Y": "binary"},
        [("Z1", "A"), ("Z2", "A"), ("Z1", "Y"), ("Z2", "Y"), ("A", "Y")],
    ),
    _discrete,
    _discrete_mean,
)


# --- 3. continuous confounders, nonlinear heterogeneous outcome --------------------------------------
def _nonlinear(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(-2, 2, size=n)
    a = (rng.random(n) < expit(1.5 * x1 - 0.8 * x2)).astype(int)
    y = np.sin(2 * x1) + x2**2 + a * (1 + x1**2) + 0.5 * rng.normal(size=n)
    return pd.DataFrame({"X1": x1, "X2": x2, "A": a, "Y": y})


NONLINEAR = SCM(
    "nonlinear",
    "X1~N(0,1); X2~U(-2,2); A~Bern(expit(1.5X1-.8X2)); Y=sin(2X1)+X2^2+A(1+X1^2)+N(0,.25)",
    CausalGraph(
        {"X1": "continuous", "X2": "continuous", "A": "binary", "Y": "continuous"},
        [("X1", "A"), ("X2", "A"), ("X1", "Y"), ("X2", "Y"), ("A", "Y")],
    ),
    _nonlinear,
    lambda a: 4.0 / 3.0 + 2.0 * a,  # E[sin 2X1] = 0, E[X2^2] = 4/3, E[1 + X1^2] = 2
)

SCMS = {s.name: s for s in (MIXED, DISCRETE, NONLINEAR)}


# --- 4. twenty variables: confounders of every type, an instrument, two mediators, bystanders --------------
_PU2 = np.array([0.3, 0.4, 0.3])

WIDE_VARIABLES = {
    "U1": "binary", "U2": "categorical", "U3": "continuous", "U4": "continuous", "R1": "binary", "R2": "continuous",
    "I1": "binary", "K1": "binary", "K2": "categorical", "A": "binary", "M": "continuous", "M2": "binary",
    "Y": "continuous", "D1": "continuous", "D2": "binary", "D3": "continuous", "D4": "categorical",
    "D5": "continuous", "D6": "binary", "D7": "continuous",
}
WIDE_EDGES = [
    ("U1", "U4"), ("U3", "U4"), ("U2", "K1"), ("R2", "K1"), ("U1", "K2"),
    ("U1", "A"), ("U2", "A"), ("U3", "A"), ("U4", "A"), ("I1", "A"), ("K1", "A"), ("K2", "A"),
    ("A", "M"), ("U3", "M"), ("A", "M2"), ("U1", "M2"),
    ("A", "Y"), ("M", "Y"), ("M2", "Y"), ("U1", "Y"), ("U2", "Y"), ("U3", "Y"), ("U4", "Y"), ("R1", "Y"),
    ("K1", "Y"), ("K2", "Y"),
    ("Y", "D1"), ("A", "D2"), ("M", "D2"), ("R2", "D3"), ("K2", "D4"), ("U3", "D5"), ("M", "D7"), ("U4", "D7"),
]


def _wide(n: int, seed: int, do: dict[str, float] | None = None) -> pd.DataFrame:
    """Draws of the 20-variable SCM; ``do`` fixes ``A`` and/or ``M`` (their mechanisms are skipped)."""
    do = do or {}
    rng = np.random.default_rng(seed)
    u1 = (rng.random(n) < 0.4).astype(int)
    u2 = rng.choice(3, size=n, p=_PU2)
    u3 = rng.normal(size=n)
    u4 = 0.5 * u3 + 0.6 * u1 + 0.8 * rng.normal(size=n)
    r1 = (rng.random(n) < 0.5).astype(int)
    r2 = rng.normal(size=n)
    i1 = (rng.random(n) < 0.5).astype(int)
    k1 = (rng.random(n) < expit(u2 - 1 + 0.5 * r2)).astype(int)
    logits = np.stack([np.zeros(n), 1.0 * u1, -1.0 * u1], axis=1)
    p_k2 = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    k2 = (rng.random(n)[:, None] > np.cumsum(p_k2, axis=1)).sum(1)
    p_a = expit(-0.5 + 0.8 * u1 + 0.5 * (u2 - 1) + 0.7 * u3 + 0.4 * u4 + 0.8 * i1 + 0.6 * k1 - 0.3 * k2)
    a_drawn = (rng.random(n) < p_a).astype(int)
    a = np.full(n, int(do["A"])) if "A" in do else a_drawn
    m_drawn = 0.5 + 1.0 * a + 0.3 * u3 + 0.5 * rng.normal(size=n)
    m = np.full(n, float(do["M"])) if "M" in do else m_drawn
    m2 = (rng.random(n) < expit(-0.5 + 1.2 * a - 0.4 * u1)).astype(int)
    y = (1 + 1.0 * a + 0.8 * m + 0.5 * m2 + 0.7 * u1 + 0.4 * u2 + 0.6 * u3 + 0.3 * u4 + 0.5 * r1 + 0.4 * k1
         - 0.3 * k2 + 0.3 * a * u3 + rng.normal(size=n))
    d1 = y + rng.normal(size=n)
    d2 = (rng.random(n) < expit(a - m)).astype(int)
    d3 = r2 + rng.normal(size=n)
    d4 = (k2 + (rng.random(n) < 0.3)) % 3
    d5 = u3 + 0.5 * rng.normal(size=n)
    d6 = (rng.random(n) < 0.3).astype(int)
    d7 = m + u4 + rng.normal(size=n)
    return pd.DataFrame({"U1": u1, "U2": u2, "U3": u3, "U4": u4, "R1": r1, "R2": r2, "I1": i1, "K1": k1, "K2": k2,
                         "A": a, "M": m, "M2": m2, "Y": y, "D1": d1, "D2": d2, "D3": d3, "D4": d4, "D5": d5,
                         "D6": d6, "D7": d7})


def wide_truth(do: dict[str, float]) -> float:
    """Exact ``E[Y | do(...)]`` of the 20-variable SCM for ``do`` on ``A`` (required) and optionally ``M``.

    Y is linear in its parents except ``.3·A·U3`` (``E[U3] = 0``), so its mean is the same combination of its
    parents' means under the intervention: ``E[M] = .5 + a`` (or the fixed value), ``E[M2]`` a two-point average
    over U1, ``E[U4] = .6·.4``, ``E[K2]`` from its softmax given U1, and ``E[K1] = E[expit(U2 - 1 + .5·R2)]`` by
    Gauss-Hermite quadrature over ``R2 ~ N(0, 1)`` (exact to ~1e-12)."""
    a = float(do["A"])
    mean_m = float(do["M"]) if "M" in do else 0.5 + a
    mean_m2 = 0.6 * expit(np.array(-0.5 + 1.2 * a)) + 0.4 * expit(np.array(-0.9 + 1.2 * a))
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)  # probabilists' Hermite: weight exp(-x^2 / 2)
    weights = weights / weights.sum()
    mean_k1 = sum(_PU2[u2] * float((weights * expit(u2 - 1 + 0.5 * nodes)).sum()) for u2 in range(3))
    mean_k2 = 0.0
    for u1, p_u1 in ((0, 0.6), (1, 0.4)):
        p = np.exp([0.0, u1, -u1]) / np.exp([0.0, u1, -u1]).sum()
        mean_k2 += p_u1 * (p[1] + 2 * p[2])
    mean_u2, mean_u4 = float((_PU2 * np.arange(3)).sum()), 0.6 * 0.4
    return float(1 + a + 0.8 * mean_m + 0.5 * mean_m2 + 0.7 * 0.4 + 0.4 * mean_u2 + 0.3 * mean_u4 + 0.5 * 0.5
                 + 0.4 * mean_k1 - 0.3 * mean_k2)


def simulate_wide(n: int, seed: int, do: dict[str, float] | None = None) -> pd.DataFrame:
    """Rows of the 20-variable SCM, optionally under ``do`` on ``A`` and/or ``M`` (to check :func:`wide_truth`)."""
    return _wide(n, seed, do)


@dataclass(frozen=True)
class ContrastQuery:
    """``E[Y | do(treated)] - E[Y | do(control)]`` with its truth (an extra benchmark query)."""

    name: str
    treated: dict[str, float]
    control: dict[str, float]


#: The controlled direct effect of A with the mediator M held at 1: ``do(A=1, M=1)`` vs ``do(A=0, M=1)``.
MEDIATOR_QUERY = ContrastQuery("cde_m1", {"A": 1, "M": 1.0}, {"A": 0, "M": 1.0})

WIDE = SCM(
    "wide20",
    "20 variables: confounders U1 (binary), U2 (categorical), U3, U4 (continuous), K1, K2; instrument I1; "
    "mediators M (continuous) and M2 (binary); Y = 1 + A + .8M + .5M2 + ... + .3A·U3 + N(0,1); 7 bystanders",
    CausalGraph(WIDE_VARIABLES, WIDE_EDGES),
    lambda n, seed: _wide(n, seed),
    lambda a: wide_truth({"A": a}),
)

#: The benchmark's large SCM (not in :data:`SCMS`: it is run at its own size, see ``engine_benchmark.py``).
LARGE_SCMS = {WIDE.name: WIDE}
