"""Conditional-effect (CATE) benchmark: CInA's in-context outcome network against the learners users would pick.

On datasets with per-unit truth (IHDP surface A, ACIC 2016, the held-out synthetic OOD families) it runs, on
the same data in the same process and one thread each: zero-shot CInA (``model.cate`` with its defaults: the
pretrained outcome network's effects calibrated against doubly robust pseudo-outcomes), and its two ablations:
the same network uncalibrated (``cina_zs_uncalibrated``, what the calibration adds) and the same calibration of
the kernel ridge T-learner (``kernel_calibrated``, what the network adds); and the peers: the kernel ridge
T-learner as it comes, a gradient-boosting T-learner and EconML's ``CausalForestDML``. It reports sqrt(PEHE) per
suite (mean ± SE over datasets, in-sample: the effects of the dataset's own units), the paired difference of
CInA against the best peer and against each ablation, the coverage of the per-unit 95% intervals, and a speed
check at N = 5,000, d = 20 against ``LinearDML``; it writes ``benchmarks/results/cate.md``.

    python benchmarks/cate_benchmark.py --quick                  # minutes: tiny suites, writes to /tmp
    python benchmarks/cate_benchmark.py                          # ihdp_a=100 acic2016=10 ood_*=20
    python benchmarks/cate_benchmark.py --suites ihdp_a=30 --model outputs/outcome_base/final
    python benchmarks/cate_benchmark.py --from-records run.jsonl # rebuild the report only

CausalPFN's published figures (arXiv 2506.07918) are quoted beside ours; they come from other replications of
IHDP (the IHDP-100 files) and another ACIC 2016 selection, so they are not paired with ours.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_PLAN = {"ihdp_a": 100, "acic2016": 10, "ood_mechanism": 20, "ood_dense_graph": 20,
                "ood_strong_confounding": 20, "ood_weak_overlap": 20, "ood_large_n": 20}
QUICK_PLAN = {"ihdp_a": 3, "ood_mechanism": 2}
METHODS = ("cina_zs", "cina_zs_uncalibrated", "cina_zs_no_tree_proxy", "cina_zs_one_network", "cina_zs_no_row_limit",
           "cina_zs_no_spread_limit", "kernel_calibrated", "kernel_t_learner", "gb_t_learner", "causal_forest_dml", "oracle_calibrated", "oracle_constant")
#: Rows that read the truth (``fit(X, T, Y, truth)``): bounds, never ranked among the peers.
ORACLES = {"oracle_calibrated": "the default's calibration with the true surfaces as its outcome model",
           "oracle_constant": "the true ATE for every unit (sqrt(PEHE) = the effect's own SD)"}
#: Our own variants that isolate one part of the default (not peers): ``{name: what it removes}``.
ABLATIONS = {"kernel_calibrated": "the network", "cina_zs_uncalibrated": "the calibration",
             "cina_zs_no_tree_proxy": "the boosted-tree proxy of the calibration",
             "cina_zs_one_network": "the wide-prior network (every dataset to the first one)",
             "cina_zs_no_row_limit": "the row limit (the network's correction for every row, tail rows included)",
             "cina_zs_no_spread_limit": "the spread limit (the first network for every dataset routed to it)"}
PEERS = ("kernel_t_learner", "gb_t_learner", "causal_forest_dml")
#: sqrt(PEHE) published for CausalPFN (in-sample, their replications), for context only.
CAUSALPFN_PUBLISHED = {"ihdp_a": 0.58, "acic2016": 0.92}


@dataclass
class CateRecord:
    """One method on one dataset."""

    suite: str
    dataset: str
    method: str
    n: int
    d: int
    status: str = "ok"
    pehe: float | None = None
    coverage: float | None = None
    seconds: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def gb_t_learner(X: np.ndarray, T: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, None]:
    """Two ``HistGradientBoostingRegressor`` (one per arm, defaults, seed 0); effects = the difference."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    models = [HistGradientBoostingRegressor(random_state=0).fit(X[T == a], Y[T == a]) for a in (0, 1)]
    return models[1].predict(X) - models[0].predict(X), None


def causal_forest(X: np.ndarray, T: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, None]:
    """EconML ``CausalForestDML`` (defaults, ``n_jobs=1``): ``effect(X)``."""
    from econml.dml import CausalForestDML

    est = CausalForestDML(discrete_treatment=True, random_state=0, n_jobs=1)
    est.fit(Y, T, X=X)
    return np.ravel(est.effect(X)), None


def oracle_calibrated(model: Any):
    """The floor of the default's construction (``hf_causal.cina.cate``): the same calibration with the *true*
    surfaces as its outcome model. Level: the ATE augmented with the true surfaces (the default's weights); slope:
    the doubly robust pseudo-outcomes (true surfaces, the same weights) on the true effect, clipped to [0, 1]. Its
    error is what the outcome noise leaves to a perfect outcome model: the level's noise and the slope's."""
    def fit(X: np.ndarray, T: np.ndarray, Y: np.ndarray, truth: dict[str, Any]) -> tuple[np.ndarray, None]:
        from harness.suites import true_surfaces

        from hf_causal.cina.cate import dr_pseudo_outcomes, heterogeneity_slope
        from hf_causal.cina.outcome import augmented_effect

        mu0, mu1 = true_surfaces(truth, len(T), "oracle_calibrated")
        weights = model.estimate(X, T, Y, estimand="ate", outcome_model="none").weights
        level = augmented_effect(weights, T, Y, mu1, mu0, "ate")
        tau = mu1 - mu0
        pseudo = dr_pseudo_outcomes(T, Y, mu0, mu1, len(T) * weights)
        slope = float(np.clip(heterogeneity_slope(pseudo, tau)[0], 0.0, 1.0))
        return level + slope * (tau - tau.mean()), None

    fit.uses_truth = True  # type: ignore[attr-defined]
    return fit


def oracle_constant(X: np.ndarray, T: np.ndarray, Y: np.ndarray, truth: dict[str, Any]) -> tuple[np.ndarray, None]:
    """Every unit gets the true ATE: a learner above this sqrt(PEHE) found no heterogeneity a constant lacks."""
    from harness.suites import true_surfaces

    mu0, mu1 = true_surfaces(truth, len(T), "oracle_constant")
    return np.full(len(T), float(np.mean(mu1 - mu0))), None


oracle_constant.uses_truth = True  # type: ignore[attr-defined]


def cina_learner(model: Any, outcome_model: str, calibrate: bool = True, ablation: Any = None,
                 tree_proxy: bool = True):
    """``model.cate`` as a learner; ``ablation``: a context manager from ``harness.peers`` that turns one part of
    the model off for the fit (``first_outcome_network_only``, ``without_row_limit``)."""
    from contextlib import nullcontext

    def fit(X: np.ndarray, T: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with ablation(model) if ablation is not None else nullcontext(model):
            effects = model.cate(X, T, Y, outcome_model=outcome_model, calibrate=calibrate,
                                 tree_proxy=tree_proxy).effects
        return effects["cate"].to_numpy(), effects[["ci_low", "ci_high"]].to_numpy()

    return fit


def learners(model: Any, include: list[str] | None) -> dict[str, Any]:
    from harness.peers import first_outcome_network_only, without_row_limit, without_spread_limit

    table = {
        "cina_zs": cina_learner(model, "pretrained"),
        "cina_zs_uncalibrated": cina_learner(model, "pretrained", calibrate=False),
        # the default's calibration with the outcome model's proxy alone
        "cina_zs_no_tree_proxy": cina_learner(model, "pretrained", tree_proxy=False),
        # the default with every dataset sent to the first outcome network (what the wide-prior one adds)
        "cina_zs_one_network": cina_learner(model, "pretrained", ablation=first_outcome_network_only),
        # the default with the network's correction given to every row, tail rows included
        "cina_zs_no_row_limit": cina_learner(model, "pretrained", ablation=without_row_limit),
        # the default with the first network used on every dataset routed to it, whatever its surfaces' spreads
        "cina_zs_no_spread_limit": cina_learner(model, "pretrained", ablation=without_spread_limit),
        "kernel_calibrated": cina_learner(model, "kernel"),
        "kernel_t_learner": cina_learner(model, "kernel", calibrate=False),
        "gb_t_learner": gb_t_learner,
        "causal_forest_dml": causal_forest,
        "oracle_calibrated": oracle_calibrated(model),
        "oracle_constant": oracle_constant,
    }
    if getattr(model, "outcome_network_wide", None) is None:  # one network: the ablation would be the default
        table.pop("cina_zs_one_network")
    if getattr(model.config, "outcome_row_limit", None) is None:  # no limit: the ablation would be the default
        table.pop("cina_zs_no_row_limit")
    if getattr(model.config, "outcome_spread_limit", None) is None:
        table.pop("cina_zs_no_spread_limit")
    return {k: v for k, v in table.items() if include is None or k in include}


def run_one(name: str, fit: Any, data: Any) -> CateRecord:
    """One learner on one dataset (never raises: a failure is a record)."""
    tau = data.meta["mu1"] - data.meta["mu0"]
    record = CateRecord(data.suite, data.name, name, data.n, int(data.X.shape[1]))
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # peers' convergence and deprecation chatter; failures are records
            warnings.simplefilter("ignore")
            if getattr(fit, "uses_truth", False):
                estimate, intervals = fit(data.X, data.T, data.Y, data.meta)
            else:
                estimate, intervals = fit(data.X, data.T, data.Y)
    except Exception as err:  # noqa: BLE001 - a failing peer is a result
        record.status, record.note = "error", f"{type(err).__name__}: {err}"[:300]
        return record
    record.seconds = time.perf_counter() - start
    record.pehe = float(np.sqrt(np.mean((np.asarray(estimate) - tau) ** 2)))
    if intervals is not None:
        record.coverage = float(np.mean((intervals[:, 0] <= tau) & (tau <= intervals[:, 1])))
    return record


def speed_check(model: Any, repeats: int = 3, n: int = 5000, d: int = 20) -> dict[str, float]:
    """Median seconds of the default estimate, ``cate`` and ``LinearDML`` on one synthetic dataset."""
    from econml.dml import LinearDML

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    T = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    Y = X[:, 0] + np.sin(X[:, 1]) + T * (1 + X[:, 2]) + rng.normal(size=n)
    runs: dict[str, list[float]] = {"estimate": [], "cate": [], "linear_dml": []}
    for _ in range(repeats):
        for key, call in (
            ("estimate", lambda: model.estimate(X, T, Y)),
            ("cate", lambda: model.cate(X, T, Y)),
            ("linear_dml", lambda: LinearDML(discrete_treatment=True, random_state=0).fit(Y, T, X=X).ate_interval(X)),
        ):
            start = time.perf_counter()
            call()
            runs[key].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in runs.items()}


def summarise(records: list[CateRecord]) -> dict[str, dict[str, dict[str, float]]]:
    """``{suite: {method: {mean, se, median, ran, coverage, seconds}}}`` of the ok records."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in records:
        if r.status != "ok":
            continue
        out.setdefault(r.suite, {}).setdefault(r.method, {"pehe": [], "coverage": [], "seconds": []})
        cell = out[r.suite][r.method]
        cell["pehe"].append(r.pehe)
        cell["seconds"].append(r.seconds)
        if r.coverage is not None:
            cell["coverage"].append(r.coverage)
    for suite in out.values():
        for method, cell in suite.items():
            pehe = np.array(cell["pehe"])
            suite[method] = {
                "mean": float(pehe.mean()),
                "se": float(pehe.std(ddof=1) / np.sqrt(len(pehe))) if len(pehe) > 1 else float("nan"),
                "median": float(np.median(pehe)),
                "ran": len(pehe),
                "coverage": float(np.mean(cell["coverage"])) if cell["coverage"] else float("nan"),
                "seconds": float(np.mean(cell["seconds"])),
            }
    return out


def paired(records: list[CateRecord], suites: list[str], method: str, peer: str) -> tuple[float, float, int, int]:
    """Mean ± SE of sqrt(PEHE) of ``method`` − ``peer`` over the datasets of ``suites`` both ran; wins; n."""
    by = {(r.suite, r.dataset, r.method): r.pehe for r in records if r.status == "ok" and r.suite in suites}
    keys = sorted({(s, d) for s, d, m in by if m == method} & {(s, d) for s, d, m in by if m == peer})
    diff = np.array([by[(s, d, method)] - by[(s, d, peer)] for s, d in keys])
    if diff.size == 0:
        return float("nan"), float("nan"), 0, 0
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan")
    return float(diff.mean()), se, int((diff < 0).sum()), int(diff.size)


def _fmt(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else (f"{x:.3f}" if abs(x) < 100 else f"{x:,.0f}")


def oracle_section(records: list[CateRecord], summary: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """The oracle rows against the default and the best peer, per suite (empty when no oracle ran)."""
    if not any(r.method in ORACLES and r.status == "ok" for r in records):
        return []
    out = [
        "## The oracles: the floor and the bar",
        "",
        "`oracle_calibrated` is the default's construction with the true surfaces as its outcome model: what a "
        "perfect outcome model would leave (the noise of the ATE level and of the calibration slope). "
        "`oracle_constant` gives every unit the true ATE: its sqrt(PEHE) is the effect's own SD, the bar a learner "
        "must clear to have found any heterogeneity. Both read the truth; neither is a method. Δ: paired, same "
        "datasets, mean ± SE.",
        "",
        "| suite | oracle_constant (SD of the effect) | oracle_calibrated | cina_zs | best peer | "
        "cina_zs − oracle_calibrated ± SE | cina_zs − oracle_constant ± SE | best peer − oracle_constant ± SE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for suite, methods in summary.items():
        if not any(m in methods for m in ORACLES):
            continue
        peers = {m: v for m, v in methods.items() if m in PEERS}
        best = min(peers, key=lambda m: peers[m]["mean"]) if peers else None
        cells = [_fmt(methods.get(m, {}).get("mean", float("nan"))) for m in ("oracle_constant", "oracle_calibrated",
                                                                              "cina_zs")]
        cells.append(f"{best} ({_fmt(peers[best]['mean'])})" if best else "–")
        for method, oracle in (("cina_zs", "oracle_calibrated"), ("cina_zs", "oracle_constant"),
                               (best, "oracle_constant")):
            mean, se, _, n = paired(records, [suite], method, oracle) if method else (float("nan"),) * 2 + (0, 0)
            cells.append(f"{mean:+.3f} ± {_fmt(se)}" if n else "–")
        out.append(f"| {suite} | " + " | ".join(cells) + " |")
    return out + [""]


def write_report(records: list[CateRecord], path: Path, command: str, notes: list[str], speed: dict[str, float] | None) -> None:
    sys.path.insert(0, str(HERE))
    from harness.report import environment, write_keeping_notes

    summary = summarise(records)
    # an ablation column only where the run has its rows (a checkpoint without a row limit has no such ablation)
    shown = [variant for variant in ABLATIONS if any(r.method == variant for r in records)]
    out = ["# Conditional-effect (CATE) benchmark", "", f"Produced by `{command}`.", ""]
    out += [f"- **{k}**: {v}" for k, v in environment().items()] + [""] + [f"- {n}" for n in notes] + [""]
    out += [
        "sqrt(PEHE) = sqrt(mean over the dataset's units of (estimated − true effect)²), in outcome units, in-sample; "
        "mean ± SE over datasets. Coverage: share of units whose true effect lies in the method's 95% interval "
        "(methods that give per-unit intervals). Time: seconds per dataset (fit + effects), one thread.",
        "",
        "## CInA (zero-shot) against the best peer, and against its ablations",
        "",
        "Ablations (same run, same data): `kernel_calibrated` is the default without the network (the kernel "
        "T-learner's effects, calibrated the same way); `cina_zs_uncalibrated` is the default without the "
        "calibration (the network's mu1 - mu0 as it comes); `cina_zs_no_tree_proxy` calibrates with the outcome "
        "model's proxy alone (no boosted-tree proxy); `cina_zs_one_network` (checkpoints with a wide-prior "
        "network) sends every dataset to the first network; `cina_zs_no_row_limit` (checkpoints with "
        "`outcome_row_limit`) gives the network's correction to every row; `cina_zs_no_spread_limit` (checkpoints with "
        "`outcome_spread_limit`) uses the first network on every dataset routed to it. Negative Δ: cina_zs is "
        "closer.",
        "",
        "| suite | cina_zs sqrt(PEHE) | best peer | paired Δ vs best peer ± SE | cina closer | "
        + "".join(f"Δ vs {variant} ± SE | " for variant in shown)
        + "CausalPFN (published, other replications) |",
        "|---|---|---|---|---|" + "---|" * len(shown) + "---|",
    ]
    for suite, methods in summary.items():
        if "cina_zs" not in methods:
            continue
        peers = {m: v for m, v in methods.items() if m in PEERS}
        best = min(peers, key=lambda m: peers[m]["mean"]) if peers else None
        mean, se, wins, n = paired(records, [suite], "cina_zs", best) if best else (float("nan"),) * 2 + (0, 0)
        ablated = []
        for variant in shown:
            amean, ase, _, an = paired(records, [suite], "cina_zs", variant)
            ablated.append(f"{amean:+.3f} ± {_fmt(ase)}" if an else "–")
        published = CAUSALPFN_PUBLISHED.get(suite)
        out.append(
            f"| {suite} | {_fmt(methods['cina_zs']['mean'])} | {best} ({_fmt(peers[best]['mean']) if best else '–'}) | "
            f"{mean:+.3f} ± {_fmt(se)} | {wins} / {n} | {' | '.join(ablated)} | "
            f"{_fmt(published) if published else '–'} |"
        )
    ood = [s for s in summary if s.startswith("ood_")]
    if ood:
        for peer in (*PEERS, *shown):
            mean, se, wins, n = paired(records, ood, "cina_zs", peer)
            if n:
                out.append(f"| pooled OOD vs {peer} | | | {mean:+.3f} ± {_fmt(se)} | {wins} / {n} |"
                           + " |" * (len(shown) + 1))
    out.append("")
    out += oracle_section(records, summary)
    for suite, methods in summary.items():
        out += [f"## {suite}", "", "| method | sqrt(PEHE) mean ± SE | median | ran | 95% coverage | time (s) |",
                "|---|---|---|---|---|---|"]
        for method in sorted(methods, key=lambda m: methods[m]["mean"]):
            v = methods[method]
            out.append(f"| {method} | {_fmt(v['mean'])} ± {_fmt(v['se'])} | {_fmt(v['median'])} | {v['ran']} | "
                       f"{_fmt(v['coverage'])} | {_fmt(v['seconds'])} |")
        out.append("")
    if speed:
        out += ["## Speed at N = 5,000, d = 20 (one thread, median of 3)", "",
                "| call | seconds | LinearDML ÷ it |", "|---|---|---|"]
        for key in ("estimate", "cate", "linear_dml"):
            out.append(f"| {key} | {speed[key]:.3f} | {speed['linear_dml'] / speed[key]:.1f} |")
        out.append("")
    failed = [r for r in records if r.status != "ok"]
    out += ["## Failed runs", ""] + ([f"- {r.suite} {r.dataset} {r.method}: {r.note}" for r in failed] or ["None."])
    write_keeping_notes(path, "\n".join(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--suites", nargs="+", metavar="NAME[=SIZE]",
                        help="suites to run, each with a dataset count or a START:STOP range of positions")
    parser.add_argument("--methods", nargs="+", choices=METHODS)
    parser.add_argument("--model", default=None, help="CInA checkpoint (default: bundled cina-zs-base)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--records", type=Path, default=None, help="append every record as JSON lines here")
    parser.add_argument("--from-records", type=Path, nargs="+", help="only write the report from saved records")
    parser.add_argument("--budget-minutes", type=float, default=None)
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--report-name", default="cate",
                        help="write <out-dir>/<name>.md (default cate; e.g. cate_oracle for a run of some rows)")
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(HERE))
    import torch

    torch.set_num_threads(args.threads)
    from harness.paths import QUICK_DIR
    from harness.peers import load_cina_model
    from harness.suites import load_suite, parse_suite_plan

    plan = dict(QUICK_PLAN if args.quick else DEFAULT_PLAN)
    if args.suites:
        plan = {name: DEFAULT_PLAN.get(name, 10) if size is None else size
                for name, size in parse_suite_plan(args.suites).items()}
    out_dir = args.out_dir or (QUICK_DIR if args.quick else RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, model_doc = load_cina_model(args.model)
    started = time.time()
    records: list[CateRecord] = []
    speed = None
    if args.from_records:
        from harness.protocol import record_lines

        for path in args.from_records:
            records += [CateRecord(**json.loads(line)) for line in record_lines(path)]
    else:
        sink = args.records.open("a") if args.records else None
        deadline = started + 60 * args.budget_minutes if args.budget_minutes else None
        table = learners(model, args.methods)
        for suite, size in plan.items():
            # a range of positions (``NAME=START:STOP``) loads the suite up to STOP and runs only those positions
            count = size.stop if isinstance(size, range) else size
            for position, data in enumerate(load_suite(suite, count, quick=args.quick)):
                if isinstance(size, range) and position not in size:
                    continue
                if deadline is not None and time.time() > deadline:
                    break
                if "mu0" not in data.meta:
                    raise SystemExit(f"suite {suite!r} has no per-unit truth")
                for name, fit in table.items():
                    record = run_one(name, fit, data)
                    record.extra["cina_model"] = model_doc
                    records.append(record)
                    print(f"{suite:24s} {data.name:22s} {name:18s} {record.status:5s} "
                          f"pehe {_fmt(record.pehe):>8s} {_fmt(record.seconds):>7s}s", flush=True)
                    if sink is not None:
                        sink.write(json.dumps(asdict(record)) + "\n")
                        sink.flush()
        if sink is not None:
            sink.close()
        if not args.no_speed and not args.quick:
            speed = speed_check(model)
    order = {name: i for i, name in enumerate(plan)}  # the report follows the plan, whichever process ran what
    records.sort(key=lambda r: order.get(r.suite, len(order)))
    ran = {s: len({r.dataset for r in records if r.suite == s}) for s in plan}
    notes = [
        f"**CInA model**: {model_doc}",
        f"**threads**: {args.threads} for every library",
        "**datasets run / requested**: " + ", ".join(f"{s} {ran.get(s, 0)}/{plan[s]}" for s in plan),
        f"**total wall time**: {(time.time() - started) / 60:.1f} min",
    ]
    if args.quick:
        notes.append("**QUICK MODE**: small suites; not comparable with full runs")
    command = "python benchmarks/cate_benchmark.py" + "".join(" " + shlex.quote(a) for a in (argv or sys.argv[1:]))
    write_report(records, out_dir / f"{args.report_name}.md", command, notes, speed)
    print(f"wrote {out_dir / (args.report_name + '.md')}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
