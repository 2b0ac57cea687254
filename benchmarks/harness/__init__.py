"""Reusable treatment-effect benchmark harness for hf-causal.

Plug a new method in by giving it a ``name`` and an ``estimate(X, T, Y, estimand) -> EffectEstimate`` method
(see :class:`harness.protocol.Estimator`) and running it on a named suite::

    import sys; sys.path.insert(0, "benchmarks")
    from harness import FunctionEstimator, EffectEstimate, run_suite, summarize

    mine = FunctionEstimator("mine", lambda X, T, Y, estimand: EffectEstimate(value=...))
    records = run_suite([mine], "ihdp_b", n_datasets=10)
    print(summarize(records))

Modules: :mod:`.protocol` (estimator protocol, results), :mod:`.suites` (named dataset suites),
:mod:`.peers` (the built-in peers and CInA adapters), :mod:`.runner` (running, timing, deadlines),
:mod:`.metrics` (MAE, median absolute error, coverage, timing ratios), :mod:`.report` (markdown + plot),
:mod:`.selection` (the dataset loop of the model-selection scripts).
Only numpy and pandas are imported eagerly; peers import their libraries when they run.
"""

from .metrics import summarize
from .protocol import (
    EffectEstimate,
    Estimator,
    EstimatorSkipped,
    FunctionEstimator,
    Record,
    unavailable_reason,
)
from .runner import run_benchmark, run_suite
from .suites import SUITES, BenchDataset, Suite, load_suite, register_suite

__all__ = [
    "SUITES",
    "BenchDataset",
    "EffectEstimate",
    "Estimator",
    "EstimatorSkipped",
    "FunctionEstimator",
    "Record",
    "Suite",
    "load_suite",
    "register_suite",
    "run_benchmark",
    "run_suite",
    "summarize",
    "unavailable_reason",
]
