"""Named benchmark suites: each yields :class:`BenchDataset` objects with a known true effect.

=========================  ========  ===================================================================
suite                      estimand  datasets
=========================  ========  ===================================================================
``synthetic_id``           ATE       held-out in-distribution SCMs (``test`` family, never trained on)
``ood_mechanism``          ATE       random-Fourier-feature mechanisms
``ood_dense_graph``        ATE       dense covariate graphs, many treatment / outcome parents
``ood_strong_confounding`` ATE       steep treatment logit aligned with the control outcome
``ood_weak_overlap``       ATE       propensities down to 0.001-0.005
``ood_large_n``            ATE       5,000-10,000 units
``acic2016``               ATE       the 10 ACIC 2016 instances shipped with causallib (4,802 units)
``ihdp_b`` / ``ihdp_a``    ATE       IHDP with Hill's response surface B / A (replication = seed)
``lalonde_nsw_cps``        ATT       185 NSW trainees vs 15,992 CPS controls; truth = experimental ATT
``lalonde_nsw_psid``       ATT       185 NSW trainees vs 2,490 PSID controls; truth = experimental ATT
=========================  ========  ===================================================================

The truth of the synthetic and semi-synthetic suites is the *sample* effect ``mean(mu1 - mu0)`` (over the
treated for ATT); for LaLonde it is the experimental benchmark. Add a suite with :func:`register_suite`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class BenchDataset:
    """One benchmark dataset: arrays, the true effect and the estimand it refers to."""

    suite: str
    name: str
    X: np.ndarray
    T: np.ndarray
    Y: np.ndarray
    truth: float
    estimand: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of units."""
        return int(self.T.shape[0])


def true_surfaces(truth: dict[str, Any] | None, n: int, who: str = "an oracle row") -> tuple[np.ndarray, np.ndarray]:
    """``(mu0, mu1)`` of a dataset's per-unit truth (its ``meta``), checked against ``n`` units: what oracle rows
    read. ``TypeError`` when ``truth`` lacks them, ``ValueError`` when their shape is not ``(n,)``."""
    if truth is None or "mu0" not in truth or "mu1" not in truth:
        raise TypeError(f"{who} needs truth={{'mu0': ..., 'mu1': ...}} (the per-unit true surfaces)")
    mu0, mu1 = (np.asarray(truth[k], dtype=np.float64) for k in ("mu0", "mu1"))
    if mu0.shape != (n,) or mu1.shape != (n,):
        raise ValueError(f"truth mu0 / mu1 have shapes {mu0.shape} / {mu1.shape}, expected ({n},)")
    return mu0, mu1


Loader = Callable[[int, bool], Iterator[BenchDataset]]


@dataclass
class Suite:
    """A named suite: ``loader(n_datasets, quick)`` yields up to ``n_datasets`` datasets."""

    name: str
    estimand: str
    default_size: int
    description: str
    loader: Loader


SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite) -> Suite:
    """Add (or replace) a suite in :data:`SUITES` and return it."""
    SUITES[suite.name] = suite
    return suite


def load_suite(name: str, n_datasets: int | None = None, quick: bool = False) -> Iterator[BenchDataset]:
    """Iterate over the datasets of suite ``name`` (``n_datasets`` defaults to the suite's size).

    ``quick`` shrinks datasets for development runs (synthetic suites use 300 units, LaLonde keeps
    1,000 random controls); quick numbers are not comparable with full runs.
    """
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose one of {sorted(SUITES)}")
    suite = SUITES[name]
    size = suite.default_size if n_datasets is None else int(n_datasets)
    if size < 0:
        raise ValueError(f"n_datasets must be >= 0, got {size}")
    return suite.loader(size, quick)


def parse_size(text: str) -> int | range | None:
    """``""`` -> None (suite default), ``"30"`` -> 30, ``"START:STOP[:STEP]"`` -> a range of dataset positions."""
    if not text:
        return None
    if ":" in text:
        return range(*(int(part) for part in text.split(":")))
    return int(text)


def parse_suite_plan(items: Iterable[str]) -> dict[str, int | range | None]:
    """``["ihdp_b=300", "ood_mechanism=24:48", "acic2016"]`` (the benchmarks' ``--suites``) -> ``{suite: size}``,
    each size as :func:`parse_size` reads it (None: the suite's default)."""
    plan: dict[str, int | range | None] = {}
    for item in items:
        name, _, size = item.partition("=")
        plan[name] = parse_size(size)
    return plan


# -- synthetic families -------------------------------------------------------------------------

SYNTHETIC_FAMILIES = {
    "synthetic_id": "test",
    "ood_mechanism": "ood_mechanism",
    "ood_dense_graph": "ood_dense_graph",
    "ood_strong_confounding": "ood_strong_confounding",
    "ood_weak_overlap": "ood_weak_overlap",
    "ood_large_n": "ood_large_n",
}


def _synthetic_loader(suite: str, family: str) -> Loader:
    def load(n_datasets: int, quick: bool) -> Iterator[BenchDataset]:
        from hf_causal.data.families import sample_family

        overrides = {"n_units": 1000 if family == "ood_large_n" else 300} if quick else {}
        for ds in sample_family(family, n_datasets, seed=0, **overrides):
            yield BenchDataset(
                suite=suite,
                name=f"{family}-{ds.params['index']}",
                X=np.asarray(ds.X, dtype=np.float64),
                T=np.asarray(ds.T, dtype=np.int64),
                Y=np.asarray(ds.Y, dtype=np.float64),
                truth=ds.ate,
                estimand="ate",
                meta={"d": int(ds.X.shape[1]), "mu0": ds.mu0, "mu1": ds.mu1},
            )

    return load


for _suite, _family in SYNTHETIC_FAMILIES.items():
    _description = "held-out in-distribution synthetic SCMs" if _suite == "synthetic_id" else f"synthetic {_family}"
    register_suite(Suite(_suite, "ate", 50, _description, _synthetic_loader(_suite, _family)))


# -- real and semi-synthetic benchmarks ---------------------------------------------------------


def _frame_dataset(suite: str, name: str, replication: int, estimand: str, max_controls: int | None) -> BenchDataset:
    from hf_causal.data.benchmarks import load_benchmark_frame

    bench = load_benchmark_frame(name, replication)
    X, T, Y = bench.X, bench.T, bench.Y
    if max_controls is not None and (T == 0).sum() > max_controls:
        rng = np.random.default_rng(0)
        controls = rng.choice(np.flatnonzero(T == 0), size=max_controls, replace=False)
        keep = np.sort(np.concatenate([np.flatnonzero(T == 1), controls]))
        X, T, Y = X[keep], T[keep], Y[keep]
    truth = bench.true_ate if estimand == "ate" else bench.true_att
    if truth is None:
        raise ValueError(f"benchmark {name!r} has no true {estimand}")
    meta: dict[str, Any] = {"d": int(X.shape[1])}
    if bench.mu0 is not None and max_controls is None:  # per-unit truth: the CATE benchmark's
        meta.update(mu0=np.asarray(bench.mu0, dtype=np.float64), mu1=np.asarray(bench.mu1, dtype=np.float64))
    return BenchDataset(suite, f"{name}-{replication}", X, T, Y, float(truth), estimand, meta)


def _replicated_loader(suite: str, name: str, first: int) -> Loader:
    def load(n_datasets: int, quick: bool) -> Iterator[BenchDataset]:
        for rep in range(first, first + n_datasets):
            yield _frame_dataset(suite, name, rep, "ate", None)

    return load


def _lalonde_loader(name: str) -> Loader:
    def load(n_datasets: int, quick: bool) -> Iterator[BenchDataset]:
        if n_datasets > 0:
            yield _frame_dataset(name, name, 0, "att", 1000 if quick else None)

    return load


register_suite(Suite("acic2016", "ate", 10, "ACIC 2016 instances 1-10 (causallib)", _replicated_loader("acic2016", "acic2016", 1)))
register_suite(Suite("ihdp_b", "ate", 100, "IHDP, response surface B, seeds 1..", _replicated_loader("ihdp_b", "ihdp_b", 1)))
register_suite(Suite("ihdp_a", "ate", 100, "IHDP, response surface A, seeds 1..", _replicated_loader("ihdp_a", "ihdp_a", 1)))
register_suite(Suite("lalonde_nsw_cps", "att", 1, "LaLonde NSW treated + CPS-1 controls (ATT)", _lalonde_loader("lalonde_nsw_cps")))
register_suite(Suite("lalonde_nsw_psid", "att", 1, "LaLonde NSW treated + PSID-1 controls (ATT)", _lalonde_loader("lalonde_nsw_psid")))
