"""Run estimators on suites: same datasets, same process, wall-timed, failures and skips recorded."""

from __future__ import annotations

import multiprocessing as mp
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .protocol import EffectEstimate, EstimatorSkipped, Record, unavailable_reason
from .suites import BenchDataset, load_suite

RecordHook = Callable[[Record], None]


class ChildProcessFailure(Exception):
    """An estimator raised inside the forked child; the message is ``"<ExceptionType>: <text>"``."""


def _call_in_child(estimator: Any, data: BenchDataset, timeout: float) -> tuple[Any, float]:
    """Run ``estimator.estimate`` in a forked child with a time limit; returns ``(output, seconds)``.

    The child times its own call (fork overhead is not charged). A child still running after ``timeout``
    seconds is killed and :class:`EstimatorSkipped` raised; an exception in the child is re-raised here.
    """
    ctx = mp.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)

    def target() -> None:
        start = time.perf_counter()
        try:
            out = estimator.estimate(data.X, data.T, data.Y, data.estimand)
            sender.send(("ok", out, time.perf_counter() - start))
        except EstimatorSkipped as skip:
            sender.send(("skipped", str(skip), 0.0))
        except BaseException as err:  # noqa: BLE001 - shipped to the parent as text (may not pickle)
            sender.send(("raised", f"{type(err).__name__}: {err}", time.perf_counter() - start))

    child = ctx.Process(target=target, daemon=True)
    child.start()
    sender.close()
    ready = receiver.poll(timeout)
    if not ready:
        child.kill()
        child.join()
        raise EstimatorSkipped(f"exceeded the {timeout:g} s time limit")
    try:
        kind, payload, seconds = receiver.recv()
    except EOFError:
        kind, payload = "raised", "child process died without a result"
    child.join()
    if kind == "skipped":
        raise EstimatorSkipped(payload)
    if kind == "raised":
        raise ChildProcessFailure(payload)
    return payload, seconds


def run_estimator(estimator: Any, data: BenchDataset, skip_reason: str | None = None) -> Record:
    """Run one estimator on one dataset and return its :class:`Record` (never raises).

    An estimator with a ``timeout_s`` attribute runs in a forked child process and is reported as skipped
    when it exceeds that many seconds (for solvers whose run time is hard to bound, e.g. libsvm).
    """
    base = {
        "suite": data.suite,
        "dataset": data.name,
        "method": estimator.name,
        "estimand": data.estimand,
        "n": data.n,
        "truth": float(data.truth),
    }
    reason = skip_reason or unavailable_reason(estimator)
    max_n = getattr(estimator, "max_n", None)
    if reason is None and max_n is not None and data.n > max_n:
        reason = f"N = {data.n} > max_n = {max_n}"
    uses_truth = bool(getattr(estimator, "uses_truth", False))
    if reason is None and uses_truth and not {"mu0", "mu1"} <= set(data.meta):
        reason = "no per-unit truth (mu0, mu1) in this suite"
    if reason is not None:
        return Record(**base, status="skipped", note=reason)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        timeout = getattr(estimator, "timeout_s", None)
        try:
            if uses_truth:  # an oracle row: quick, never time-limited
                out = estimator.estimate(data.X, data.T, data.Y, data.estimand, truth=data.meta)
                seconds = time.perf_counter() - start
            elif timeout is not None and "fork" in mp.get_all_start_methods():
                out, seconds = _call_in_child(estimator, data, timeout)
            else:
                out = estimator.estimate(data.X, data.T, data.Y, data.estimand)
                seconds = time.perf_counter() - start
        except EstimatorSkipped as skip:
            return Record(**base, status="skipped", note=str(skip))
        except Exception as err:  # noqa: BLE001 - a failing peer is a result, not a crash
            seconds = time.perf_counter() - start
            note = str(err) if isinstance(err, ChildProcessFailure) else f"{type(err).__name__}: {err}"
            return Record(**base, status="error", seconds=seconds, note=note[:300])
    if not isinstance(out, EffectEstimate):
        out = EffectEstimate(value=float(out))
    warned = sorted({w.category.__name__ for w in caught})
    return Record(
        **base,
        status="ok",
        estimate=float(out.value),
        ci_low=None if out.ci_low is None else float(out.ci_low),
        ci_high=None if out.ci_high is None else float(out.ci_high),
        seconds=seconds,
        extra={"warnings": warned} if warned else {},
    )


def warm_up(estimators: Sequence[Any], n: int = 200, d: int = 3, seed: int = 0) -> None:
    """Run each available estimator once on a tiny dataset, untimed, so that first-call costs (lazy
    imports, torch start-up) are not charged to the first benchmark dataset. Errors are ignored."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    T = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(np.int64)
    Y = X.sum(1) + T + rng.normal(size=n)
    for estimator in estimators:
        if unavailable_reason(estimator) is not None:
            continue
        try:  # in this process (never forked), so that children inherit the warm imports
            estimator.estimate(X, T, Y, "ate")
        except Exception:  # noqa: BLE001, S110 - warm-up only
            pass


def run_suite(
    estimators: Sequence[Any],
    suite: str | Iterable[BenchDataset],
    n_datasets: int | None = None,
    quick: bool = False,
    deadline: float | None = None,
    on_record: RecordHook | None = None,
    indices: range | None = None,
) -> list[Record]:
    """Run every estimator on every dataset of ``suite``; return the records.

    Args:
        estimators: objects following :class:`harness.protocol.Estimator`.
        suite: a registered suite name (:data:`harness.suites.SUITES`) or any iterable of
            :class:`BenchDataset`.
        n_datasets: how many datasets of a named suite (default: the suite's size).
        quick: small datasets for development (named suites only).
        deadline: ``time.time()`` after which no new dataset is started (the records say how many ran).
        on_record: called with each record as soon as it exists (progress, incremental saving).
        indices: only the datasets at these positions (e.g. ``range(1, 100, 2)`` to share a suite between
            processes).
    """
    names = [e.name for e in estimators]
    if len(set(names)) != len(names):
        raise ValueError(f"estimator names must be unique, got {names}")
    datasets = load_suite(suite, n_datasets, quick) if isinstance(suite, str) else iter(suite)
    records: list[Record] = []
    for position, data in enumerate(datasets):
        if indices is not None and position not in indices:
            continue
        if deadline is not None and time.time() > deadline:
            break
        for estimator in estimators:
            record = run_estimator(estimator, data)
            records.append(record)
            if on_record is not None:
                on_record(record)
    return records


def run_benchmark(
    estimators: Sequence[Any],
    suites: dict[str, int | None] | Sequence[str],
    quick: bool = False,
    deadlines: dict[str, float] | None = None,
    on_record: RecordHook | None = None,
) -> list[Record]:
    """Run :func:`run_suite` for several named suites (``{name: n_datasets}`` or a list of names)."""
    plan = dict(suites) if isinstance(suites, dict) else {name: None for name in suites}
    records: list[Record] = []
    for name, size in plan.items():
        deadline = (deadlines or {}).get(name)
        records += run_suite(estimators, name, size, quick=quick, deadline=deadline, on_record=on_record)
    return records
