"""Synthetic multivariate time series with known time-lagged causal graphs.

Every generator returns a :class:`SimulatedSeries` whose ``adjacency`` is a boolean array of shape
``(n_vars, n_vars, max_lag)`` indexed ``[source, target, lag - 1]`` (the layout returned by
:func:`hf_causal.discovery.discover_lagged_graph`). Each variable has an autoregressive self-lag at
lag 1; cross edges are drawn at random.

Generators:

* :func:`linear_var` -- a stable linear VAR(p).
* :func:`nonlinear_var` -- couplings through ``tanh``, ``sin`` and an even (quadratic-like) function
  that linear tests cannot see.
* :func:`long_lag_var` -- cross effects at long lags only (``lag >= max_lag // 2``).
* :func:`regime_switching_var` -- non-stationary: the graph is fixed but coefficients, noise scale
  and levels change between regimes.
* :func:`heterogeneous_collection` -- several independent series ("domains") sharing one graph
  but with their own coefficients, couplings, noise laws and lengths (returned as a list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "tanh": lambda x: np.tanh(1.5 * x),
    "sin": lambda x: np.sin(2.0 * x),
    "even": lambda x: 2.0 * x**2 / (1.0 + x**2) - 1.0,
}


@dataclass
class SimulatedSeries:
    """A simulated data set and its true lagged graph.

    Attributes:
        data: ``(n_steps, n_vars)`` array, or a list of them for a heterogeneous collection.
        adjacency: boolean ``(n_vars, n_vars, max_lag)`` indexed ``[source, target, lag - 1]``.
        coefficients: the coupling strengths, same layout (for a collection: the first domain's).
        name: generator name.
        info: extra generator details (coupling functions, regime boundaries, ...).
    """

    data: np.ndarray | list[np.ndarray]
    adjacency: np.ndarray
    coefficients: np.ndarray
    name: str
    info: dict = field(default_factory=dict)

    @property
    def n_vars(self) -> int:
        """Number of variables in the series."""
        return int(self.adjacency.shape[0])

    @property
    def max_lag(self) -> int:
        """Largest lag of the true graph."""
        return int(self.adjacency.shape[2])


def _check(n_vars: int, n_steps: int, max_lag: int) -> None:
    if int(n_vars) < 2:
        raise ValueError(f"n_vars must be >= 2, got {n_vars}")
    if int(max_lag) < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    if int(n_steps) < 10 * int(max_lag):
        raise ValueError(f"n_steps must be >= 10 * max_lag = {10 * max_lag}, got {n_steps}")


def _noise(rng: np.random.Generator, kind: str, size: tuple[int, ...]) -> np.ndarray:
    """Unit-variance noise of the given law."""
    if kind == "gaussian":
        return rng.standard_normal(size)
    if kind == "laplace":
        return rng.laplace(0.0, 1.0 / np.sqrt(2.0), size)
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size)
    raise ValueError(f"unknown noise {kind!r}; use 'gaussian', 'laplace' or 'uniform'")


def _random_graph(
    rng: np.random.Generator,
    n_vars: int,
    max_lag: int,
    n_cross_edges: int,
    min_cross_lag: int = 1,
) -> np.ndarray:
    """Self-lag 1 on every variable plus ``n_cross_edges`` distinct random cross edges."""
    adj = np.zeros((n_vars, n_vars, max_lag), dtype=bool)
    adj[np.arange(n_vars), np.arange(n_vars), 0] = True
    pairs = [(i, j) for i in range(n_vars) for j in range(n_vars) if i != j]
    n_cross = min(int(n_cross_edges), len(pairs))
    for k in rng.choice(len(pairs), size=n_cross, replace=False):
        i, j = pairs[k]
        adj[i, j, rng.integers(min_cross_lag, max_lag + 1) - 1] = True
    return adj


def _coefficients(
    rng: np.random.Generator, adj: np.ndarray, self_range=(0.3, 0.6), cross_range=(0.4, 0.8)
) -> np.ndarray:
    coef = np.zeros(adj.shape)
    for i, j, lag in zip(*np.nonzero(adj)):
        lo, hi = self_range if i == j else cross_range
        sign = 1.0 if i == j else rng.choice([-1.0, 1.0])
        coef[i, j, lag] = sign * rng.uniform(lo, hi)
    return coef


def _stabilise(coef: np.ndarray, max_radius: float = 0.95) -> np.ndarray:
    """Shrink a linear VAR's coefficients until its companion matrix has spectral radius < 1."""
    n, _, p = coef.shape
    coef = coef.copy()
    for _ in range(100):
        companion = np.zeros((n * p, n * p))
        for lag in range(p):
            companion[:n, lag * n : (lag + 1) * n] = coef[:, :, lag].T
        if p > 1:
            companion[n:, :-n] = np.eye(n * (p - 1))
        radius = np.abs(np.linalg.eigvals(companion)).max()
        if radius < max_radius:
            return coef
        coef *= 0.95
    return coef


def _simulate(
    coef: np.ndarray,
    funcs: np.ndarray,
    n_steps: int,
    rng: np.random.Generator,
    noise: str = "gaussian",
    noise_scale: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    burn_in: int = 200,
) -> np.ndarray:
    """Simulate ``x_{t,j} = offset_{t,j} + sum_{i,l} c_{i,j,l} f_{i,j}(x_{t-l,i}) + s_{t,j} e_{t,j}``.

    ``noise_scale`` and ``offset`` may be ``(n_vars,)`` or ``(n_steps, n_vars)``.
    """
    n, _, p = coef.shape
    total = n_steps + burn_in
    eps = _noise(rng, noise, (total, n))
    scale = np.ones((total, n)) if noise_scale is None else np.broadcast_to(noise_scale, (n_steps, n))
    shift = np.zeros((total, n)) if offset is None else np.broadcast_to(offset, (n_steps, n))
    if scale.shape[0] != total:
        scale = np.vstack([np.repeat(scale[:1], burn_in, axis=0), scale])
        shift = np.vstack([np.repeat(shift[:1], burn_in, axis=0), shift])
    used = np.any(coef != 0, axis=2)
    names = sorted(set(funcs[used].tolist()))
    masks = {name: np.where((funcs == name)[:, :, None], coef, 0.0) for name in names}
    x = np.zeros((total, n))
    for t in range(total):
        value = shift[t] + scale[t] * eps[t]
        for lag in range(1, min(p, t) + 1):
            past = x[t - lag]
            for name, m in masks.items():
                value = value + _FUNCTIONS[name](past) @ m[:, :, lag - 1]
        x[t] = value
    return x[burn_in:]


def linear_var(
    n_vars: int = 5,
    n_steps: int = 2000,
    max_lag: int = 3,
    n_cross_edges: int | None = None,
    noise: str = "gaussian",
    seed: int = 0,
) -> SimulatedSeries:
    """A stable linear VAR(``max_lag``) with self-lags at lag 1 and random cross edges.

    Args:
        n_vars: number of variables.
        n_steps: length of the series.
        max_lag: largest lag of any edge.
        n_cross_edges: number of cross edges (default ``n_vars``).
        noise: ``"gaussian"``, ``"laplace"`` or ``"uniform"`` (unit variance).
        seed: random seed (graph, coefficients and noise).
    """
    _check(n_vars, n_steps, max_lag)
    rng = np.random.default_rng(seed)
    adj = _random_graph(rng, n_vars, max_lag, n_vars if n_cross_edges is None else n_cross_edges)
    coef = _stabilise(_coefficients(rng, adj))
    funcs = np.full(adj.shape[:2], "linear", dtype=object)
    data = _simulate(coef, funcs, n_steps, rng, noise)
    return SimulatedSeries(data, adj, coef, "linear_var", {"noise": noise})


def _nonlinear_funcs(rng: np.random.Generator, n_vars: int, kinds: tuple[str, ...]) -> np.ndarray:
    funcs = rng.choice(np.array(kinds, dtype=object), size=(n_vars, n_vars))
    np.fill_diagonal(funcs, "linear")
    return funcs


def nonlinear_var(
    n_vars: int = 5,
    n_steps: int = 2000,
    max_lag: int = 3,
    n_cross_edges: int | None = None,
    functions: tuple[str, ...] = ("tanh", "sin", "even"),
    noise: str = "gaussian",
    seed: int = 0,
) -> SimulatedSeries:
    """A nonlinear VAR: linear self-lags, cross edges through bounded nonlinear functions.

    The coupling function of each cross edge is drawn from ``functions`` (``"tanh"``:
    ``tanh(1.5x)``, ``"sin"``: ``sin(2x)``, ``"even"``: ``2x^2/(1+x^2) - 1``, which has no linear
    component, ``"linear"``). Bounded couplings keep the process stable.
    """
    _check(n_vars, n_steps, max_lag)
    unknown = set(functions) - set(_FUNCTIONS)
    if unknown:
        raise ValueError(f"unknown coupling functions {sorted(unknown)}; choose from {sorted(_FUNCTIONS)}")
    rng = np.random.default_rng(seed)
    adj = _random_graph(rng, n_vars, max_lag, n_vars if n_cross_edges is None else n_cross_edges)
    coef = _coefficients(rng, adj, cross_range=(0.6, 1.0))
    funcs = _nonlinear_funcs(rng, n_vars, tuple(functions))
    data = _simulate(coef, funcs, n_steps, rng, noise)
    return SimulatedSeries(data, adj, coef, "nonlinear_var", {"functions": funcs, "noise": noise})


def long_lag_var(
    n_vars: int = 5,
    n_steps: int = 2000,
    max_lag: int = 10,
    n_cross_edges: int | None = None,
    noise: str = "gaussian",
    seed: int = 0,
) -> SimulatedSeries:
    """A linear VAR whose cross edges all sit at long lags (``max_lag // 2 <= lag <= max_lag``)."""
    _check(n_vars, n_steps, max_lag)
    rng = np.random.default_rng(seed)
    n_cross = n_vars if n_cross_edges is None else n_cross_edges
    adj = _random_graph(rng, n_vars, max_lag, n_cross, min_cross_lag=max(1, max_lag // 2))
    coef = _stabilise(_coefficients(rng, adj))
    funcs = np.full(adj.shape[:2], "linear", dtype=object)
    data = _simulate(coef, funcs, n_steps, rng, noise)
    return SimulatedSeries(data, adj, coef, "long_lag_var", {"noise": noise})


def regime_switching_var(
    n_vars: int = 5,
    n_steps: int = 2000,
    max_lag: int = 3,
    n_regimes: int = 4,
    n_cross_edges: int | None = None,
    noise: str = "gaussian",
    seed: int = 0,
) -> SimulatedSeries:
    """Non-stationary series: one fixed graph, regimes with different strengths, noise and levels.

    The series is cut into ``n_regimes`` segments of random length. In each, every coefficient is
    multiplied by a factor in ``[0.5, 1.5]``, every variable's noise scale is drawn from
    ``[0.5, 2]`` and its level (intercept) shifts by up to ``+-1.5``. Half of the cross edges go
    through ``tanh``.
    """
    _check(n_vars, n_steps, max_lag)
    if int(n_regimes) < 1:
        raise ValueError(f"n_regimes must be >= 1, got {n_regimes}")
    rng = np.random.default_rng(seed)
    adj = _random_graph(rng, n_vars, max_lag, n_vars if n_cross_edges is None else n_cross_edges)
    base = _stabilise(_coefficients(rng, adj), max_radius=0.6)
    funcs = _nonlinear_funcs(rng, n_vars, ("linear", "tanh"))
    cuts = np.sort(rng.choice(np.arange(max_lag * 5, n_steps - max_lag * 5), n_regimes - 1, replace=False))
    bounds = np.concatenate([[0], cuts, [n_steps]]).astype(int)
    pieces = []
    for r in range(n_regimes):
        length = int(bounds[r + 1] - bounds[r])
        coef = base * rng.uniform(0.5, 1.5, size=base.shape)
        scale = rng.uniform(0.5, 2.0, size=n_vars)
        level = rng.uniform(-1.5, 1.5, size=n_vars)
        pieces.append(_simulate(coef, funcs, length, rng, noise, scale, level, burn_in=50))
    data = np.vstack(pieces)[:n_steps]
    return SimulatedSeries(
        data, adj, base, "regime_switching_var", {"regime_bounds": bounds, "functions": funcs, "noise": noise}
    )


def heterogeneous_collection(
    n_vars: int = 5,
    n_steps: int = 2000,
    max_lag: int = 3,
    n_series: int = 4,
    n_cross_edges: int | None = None,
    seed: int = 0,
) -> SimulatedSeries:
    """Several independent series (domains) sharing one lagged graph, returned as a list.

    ``n_steps`` is the *total* number of time steps, split unevenly across ``n_series`` domains.
    Each domain draws its own coefficient magnitudes (edge signs are shared), its own coupling
    functions (linear or ``tanh``), noise law (gaussian / laplace / uniform), noise scale and level.
    """
    _check(n_vars, n_steps, max_lag)
    if int(n_series) < 1:
        raise ValueError(f"n_series must be >= 1, got {n_series}")
    rng = np.random.default_rng(seed)
    adj = _random_graph(rng, n_vars, max_lag, n_vars if n_cross_edges is None else n_cross_edges)
    base = _stabilise(_coefficients(rng, adj), max_radius=0.7)
    shares = rng.dirichlet(np.full(n_series, 4.0))
    lengths = np.maximum((shares * n_steps).astype(int), 10 * max_lag)
    data, first = [], None  # first: the first domain's coefficients
    for k in range(n_series):
        coef = base * rng.uniform(0.6, 1.4, size=base.shape)
        funcs = _nonlinear_funcs(rng, n_vars, ("linear", "tanh"))
        noise = ("gaussian", "laplace", "uniform")[k % 3]
        scale = rng.uniform(0.5, 2.0, size=n_vars)
        level = rng.uniform(-3.0, 3.0, size=n_vars)
        data.append(_simulate(coef, funcs, int(lengths[k]), rng, noise, scale, level))
        first = coef if first is None else first
    return SimulatedSeries(data, adj, first, "heterogeneous_collection", {"lengths": lengths.tolist()})


GENERATORS: dict[str, Callable[..., SimulatedSeries]] = {
    "linear_var": linear_var,
    "nonlinear_var": nonlinear_var,
    "long_lag_var": long_lag_var,
    "regime_switching_var": regime_switching_var,
    "heterogeneous_collection": heterogeneous_collection,
}
