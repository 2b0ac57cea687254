"""Bootstrap standard errors for CInA's ablations on the one-dataset real suites (LaLonde NSW + CPS / PSID).

The ATE benchmark pairs each ablation over the datasets of a suite, so a suite with one dataset (the LaLonde
observational samples) gets a difference and no standard error: "is the pretrained outcome network
significantly worse there?" has no answer. This script resamples the units of that one dataset (with
replacement, within each arm, so both arms keep their sizes), reruns both sides of each ablation on every
resample, and reports the paired difference of absolute errors against the same truth (the experimental ATT)
with its bootstrap standard error, in the ATE benchmark's sign convention (negative: the variant is closer):

  outcome network   ``cina_zs_pretrained`` - ``cina_zs_kernel``  (same CInA weights, pretrained vs kernel ridge)
  balancing network ``cina_zs_kernel`` - ``cina_zs_uniform``      (same kernel-augmented estimator)

The bootstrap measures how much the difference moves with the sample; it does not know the truth's own
sampling error (the experimental ATT has an SE of about $670), which is common to both sides.

    python benchmarks/ablation_bootstrap.py                          # 100 resamples per suite, bundled model
    python benchmarks/ablation_bootstrap.py --model outputs/outcome6000/final --resamples 50
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness.peers import default_estimators, load_cina_model  # noqa: E402
from harness.report import environment  # noqa: E402
from harness.suites import load_suite  # noqa: E402

SUITES = ("lalonde_nsw_psid", "lalonde_nsw_cps")
#: ``{ablation: (variant, reference)}``; the difference is |variant - truth| - |reference - truth|.
ABLATIONS = {
    "outcome network (pretrained vs kernel ridge)": ("cina_zs_pretrained", "cina_zs_kernel"),
    "balancing network (network vs uniform base weights)": ("cina_zs_kernel", "cina_zs_uniform"),
}
#: The estimators the ablations compare.
ESTIMATORS = sorted({name for pair in ABLATIONS.values() for name in pair})


def resample(treated: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices of one stratified bootstrap resample (each arm keeps its size)."""
    t_idx, c_idx = np.flatnonzero(treated), np.flatnonzero(~treated)
    return np.concatenate([rng.choice(t_idx, len(t_idx)), rng.choice(c_idx, len(c_idx))])


def run_suite(suite: str, estimators: dict, resamples: int, seed: int) -> dict[str, np.ndarray]:
    """``{estimator: estimates}``: entry 0 on the full dataset, then one per resample."""
    data = next(iter(load_suite(suite)))
    treated = data.T.astype(bool)
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {name: [] for name in estimators}
    for b in tqdm(range(resamples + 1), desc=suite, unit="resample"):
        rows = np.arange(data.n) if b == 0 else resample(treated, rng)
        for name, est in estimators.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name].append(est.estimate(data.X[rows], data.T[rows], data.Y[rows], data.estimand).value)
    return {"truth": np.array([data.truth]), **{k: np.asarray(v) for k, v in out.items()}}


def report(results: dict[str, dict[str, np.ndarray]], model_desc: str, resamples: int, seconds: float) -> str:
    """The markdown report."""
    env = environment()
    lines = ["# Ablations on the one-dataset real suites, with bootstrap standard errors", "",
             f"Produced by `python benchmarks/{Path(__file__).name} {shlex.join(sys.argv[1:])}`.", ""]
    lines += [f"- **{k}**: {v}" for k, v in env.items()]
    lines += [f"- **CInA model**: {model_desc}", f"- **resamples per suite**: {resamples} (stratified by arm)",
              "- **threads**: 1", f"- **wall time**: {seconds / 60:.1f} min", ""]
    lines += [__doc__.split("\n\n")[1].replace("\n", " "), ""]
    lines += ["| ablation | suite | Δ abs. error (full data) | bootstrap SE | Δ / SE | variant closer (resamples) |",
              "|---|---|---|---|---|---|"]
    for ablation, (variant, reference) in ABLATIONS.items():
        for suite, res in results.items():
            truth = float(res["truth"][0])
            diff = np.abs(res[variant] - truth) - np.abs(res[reference] - truth)
            boot = diff[1:]
            se = float(boot.std(ddof=1)) if len(boot) > 1 else float("nan")
            closer = int((boot < 0).sum())
            ratio = f"{diff[0] / se:+.1f}" if se > 0 else "–"  # no spread: the two sides never differed
            lines.append(f"| {ablation} | {suite} | {diff[0]:+,.1f} | {se:,.1f} | {ratio} | {closer} / {len(boot)} |")
    lines += ["", "| suite | estimator | estimate (full data) | bootstrap SD | truth |", "|---|---|---|---|---|"]
    for suite, res in results.items():
        for name in ESTIMATORS:
            lines.append(f"| {suite} | {name} | {res[name][0]:,.0f} | {res[name][1:].std(ddof=1):,.0f} | "
                         f"{res['truth'][0]:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="CInA checkpoint (default: bundled cina-zs-base)")
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--suites", nargs="+", default=list(SUITES), choices=SUITES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(HERE / "results" / "ablation_bootstrap.md"))
    args = parser.parse_args(argv)
    if args.resamples < 2:
        parser.error("--resamples must be at least 2 (a standard error needs two resamples)")
    import torch

    torch.set_num_threads(1)
    model, desc = load_cina_model(args.model)
    estimators = {e.name: e for e in default_estimators(model, include=ESTIMATORS)}
    start = time.perf_counter()
    results = {suite: run_suite(suite, estimators, args.resamples, args.seed) for suite in args.suites}
    text = report(results, desc, args.resamples, time.perf_counter() - start)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
