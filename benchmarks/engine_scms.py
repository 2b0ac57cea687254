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
