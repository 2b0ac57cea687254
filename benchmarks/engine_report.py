"""The markdown report of ``engine_benchmark.py``: accuracy against truth, oracle and DoWhy gcm, speed, targets."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

#: Training-time targets per SCM size (seconds), and the Monte-Carlo ATE's (10^4 draws).
TRAIN_TARGET_S = {10_000: 30.0, 20_000: 120.0}
MC_ATE_TARGET_S = 1.0


def _fmt(v: Any, d: int = 3) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    return f"{v:.{d}f}"


def _mean_sd(values: list[float], d: int = 3) -> str:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return "—"
    if arr.size == 1:
        return _fmt(float(arr[0]), d)
    return f"{arr.mean():.{d}f} ± {arr.std(ddof=1):.{d}f}"


def _paired(a: list[float], b: list[float]) -> str:
    """Mean of ``a - b`` with its standard error over seeds."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size < 2:
        return _fmt(float(diff.mean())) if diff.size else "—"
    return f"{diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(diff.size):.3f}"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _header(args: argparse.Namespace, scms: Mapping[str, Any], names: list[str]) -> list[str]:
    gpu = (f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "GPU: none in this run")
    lines = [
        "# Autoregressive causal engine: accuracy and speed against DoWhy gcm",
        "",
        f"Written by `benchmarks/engine_benchmark.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Command: `python {' '.join(sys.argv)}`.",
        f"Machine: {_cpu_name()}, {os.cpu_count()} cores visible (shared with other jobs), {args.threads} torch "
        f"thread(s) for the engine and one for DoWhy, device {args.device or 'auto'}; {gpu}. "
        f"torch {torch.__version__}, python {platform.python_version()}.",
        f"Seeds: {args.seeds}; Monte-Carlo draws per sampled query: {args.mc:,}; engine steps: "
        f"{args.max_steps or 'default (stopped on held-out NLL)'}.",
        "",
        "SCMs (exact interventional means known in closed form):",
        "",
    ]
    lines += [f"- **{n}**: `{scms[n].description}`" for n in names]
    return lines


def _accuracy(rows: list[dict], names: list[str], has_dw: bool) -> list[str]:
    lines = [
        "",
        "## ATE error against the truth (mean ± sd over seeds)",
        "",
        "`oracle`: the g-formula with the sample's cell means (discrete confounders only; with continuous",
        "confounders the floor is 0). `engine − DoWhy`: paired difference of absolute errors over seeds, ± its",
        "standard error (negative: the engine is closer to the truth).",
        "",
        "|SCM|rows|true ATE|naive error|oracle error|engine error|DoWhy error|engine − DoWhy|engine exact?|",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        sub = [r for r in rows if r["scm"] == name]
        truth = sub[0]["truth"]
        eng = [abs(r["engine_ate"] - truth) for r in sub]
        dw = [abs(r["dowhy_ate"] - truth) for r in sub] if has_dw else []
        oracle = [abs(r["oracle"] - truth) for r in sub if r["oracle"] is not None]
        lines.append(
            f"|{name}|{sub[0]['n_train']:,}|{truth:.3f}|{_mean_sd([abs(r['naive'] - truth) for r in sub])}|"
            f"{_mean_sd(oracle) if oracle else '0 (floor)'}|{_mean_sd(eng)}|{_mean_sd(dw) if dw else '—'}|"
            f"{_paired(eng, dw) if dw else '—'}|{'yes' if all(r['engine_exact'] for r in sub) else 'no (MC)'}|"
        )
    lines += ["", "Per seed (ATE; E[Y | do(A=a)] errors as |estimate − truth|):", "",
              "|SCM|seed|truth|engine ATE|DoWhy ATE|engine err a=0|engine err a=1|DoWhy err a=0|DoWhy err a=1|",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        dw = [_fmt(r.get("dowhy_ate")), _fmt(abs(r["dowhy_mean0"] - r["truth0"]) if has_dw else None),
              _fmt(abs(r["dowhy_mean1"] - r["truth1"]) if has_dw else None)]
        lines.append(
            f"|{r['scm']}|{r['seed']}|{r['truth']:.3f}|{_fmt(r['engine_ate'])}|{dw[0]}|"
            f"{_fmt(abs(r['engine_mean0'] - r['truth0']))}|{_fmt(abs(r['engine_mean1'] - r['truth1']))}|{dw[1]}|{dw[2]}|"
        )
    return lines


def _timing(rows: list[dict], names: list[str], has_dw: bool) -> list[str]:
    lines = [
        "",
        "## Time (seconds, mean over seeds)",
        "",
        "|SCM|rows|engine train|steps|parameters|DoWhy fit|train ratio engine/DoWhy|engine ATE query|"
        "MC ATE, 10^4 draws|MC ATE error|",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        sub = [r for r in rows if r["scm"] == name]
        train = np.mean([r["engine_t_train"] for r in sub])
        fit = np.mean([r["dowhy_t_fit"] for r in sub]) if has_dw else float("nan")
        lines.append(
            f"|{name}|{sub[0]['n_train']:,}|{train:.1f}|{np.mean([r['engine_steps'] for r in sub]):.0f}|"
            f"{sub[0]['engine_params']:,}|{_fmt(fit, 1)}|{_fmt(train / fit, 1) if has_dw else '—'}×|"
            f"{np.mean([r['engine_t_query'] for r in sub]):.2f}|{np.mean([r['engine_t_mc_ate'] for r in sub]):.2f}|"
            f"{_mean_sd([abs(r['engine_mc_ate'] - r['truth']) for r in sub])}|"
        )
    return lines


def _mediator(rows: list[dict], has_dw: bool) -> list[str]:
    sub = [r for r in rows if "truth_cde" in r]
    if not sub:
        return []
    truth = sub[0]["truth_cde"]
    eng = [abs(r["engine_cde"] - truth) for r in sub]
    dw = [abs(r["dowhy_cde"] - truth) for r in sub] if has_dw else []
    return [
        "",
        "## Mediator-blocked query (wide20): controlled direct effect, M held at 1",
        "",
        "`E[Y | do(A=1, M=1)] − E[Y | do(A=0, M=1)]`, paired Monte-Carlo draws for the engine.",
        "",
        "|truth|engine (mean over seeds)|engine error|DoWhy (mean)|DoWhy error|engine − DoWhy|",
        "|---|---|---|---|---|---|",
        f"|{truth:.3f}|{np.mean([r['engine_cde'] for r in sub]):.3f}|{_mean_sd(eng)}|"
        f"{_fmt(np.mean([r['dowhy_cde'] for r in sub]) if has_dw else None)}|{_mean_sd(dw) if dw else '—'}|"
        f"{_paired(eng, dw) if dw else '—'}|",
    ]


def _speed(speed_rows: list[dict], has_dw: bool) -> list[str]:
    lines = [
        "",
        "## Sampling speed (rows per second, one CPU thread)",
        "",
        "`engine`: the default path (`sample`): the model's conditional tables when the query's support is small",
        "(exact draws from the model, vectorised), else the network. `network`: the KV-cached network sampler",
        "forced (what a query with sequences, text or a large support runs).",
        "",
        "|SCM|engine obs|engine do(A=1)|network obs|network do(A=1)|DoWhy obs|DoWhy do(A=1)|engine/DoWhy do|"
        "network/DoWhy do|",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in speed_rows:
        dw_do = s.get("dowhy_do")
        lines.append(
            f"|{s['scm']}|{s['engine_obs']:,.0f}|{s['engine_do']:,.0f}|{s['network_obs']:,.0f}|{s['network_do']:,.0f}|"
            f"{_fmt(s.get('dowhy_obs'), 0)}|{_fmt(dw_do, 0)}|{_fmt(s['engine_do'] / dw_do, 2) if dw_do else '—'}|"
            f"{_fmt(s['network_do'] / dw_do, 2) if dw_do else '—'}|"
        )
    if any("gpu_network_do" in s for s in speed_rows):
        lines += ["", "GPU network sampler, do(A=1): " + ", ".join(
            f"{s['scm']} {s['gpu_network_do']:,.0f} rows/s" for s in speed_rows if "gpu_network_do" in s)]
    else:
        lines += ["", "GPU: not measured in this run (`--device cuda` adds the network sampler's GPU rows/s)."]
    return lines


def _targets(rows: list[dict], speed_rows: list[dict], names: list[str], has_dw: bool) -> list[str]:
    lines = ["", "## Targets", ""]
    for name in names:
        sub = [r for r in rows if r["scm"] == name]
        target = TRAIN_TARGET_S.get(sub[0]["n_train"])
        train = np.mean([r["engine_t_train"] for r in sub])
        checks = []
        if target is not None:
            checks.append(f"training {train:.0f} s vs ≤ {target:.0f} s: {'met' if train <= target else 'MISSED'}")
        mc = np.mean([r["engine_t_mc_ate"] for r in sub])
        checks.append(f"MC ATE (10^4) {mc:.2f} s vs ≤ {MC_ATE_TARGET_S:.0f} s: "
                      f"{'met' if mc <= MC_ATE_TARGET_S else 'MISSED'}")
        if has_dw:
            eng = np.mean([abs(r["engine_ate"] - r["truth"]) for r in sub])
            dw = np.mean([abs(r["dowhy_ate"] - r["truth"]) for r in sub])
            checks.append(f"mean ATE error {eng:.3f} vs DoWhy {dw:.3f}: {'met' if eng <= dw else 'MISSED'}")
            speed = next((s for s in speed_rows if s["scm"] == name), None)
            if speed is not None and speed.get("dowhy_do"):
                ok = speed["engine_do"] >= speed["dowhy_do"]
                checks.append(f"do() rows/s {speed['engine_do']:,.0f} vs DoWhy {speed['dowhy_do']:,.0f}: "
                              f"{'met' if ok else 'MISSED'}")
        lines.append(f"- **{name}**: " + "; ".join(checks) + ".")
    return lines


def write_report(args: argparse.Namespace, rows: list[dict], speed_rows: list[dict], scms: Mapping[str, Any]) -> None:
    """Write the markdown report to ``args.out`` (and print where)."""
    names = list(dict.fromkeys(r["scm"] for r in rows))
    has_dw = all("dowhy_ate" in r for r in rows) and bool(rows)
    lines = _header(args, scms, names)
    lines += _accuracy(rows, names, has_dw)
    lines += _timing(rows, names, has_dw)
    lines += _mediator(rows, has_dw)
    lines += _speed(speed_rows, has_dw)
    lines += _targets(rows, speed_rows, names, has_dw)
    lines += [
        "",
        "Notes: an exact engine answer (enumeration, docs/design.md §7.6) has no Monte-Carlo error; its error is the",
        "fitted model's. Sampled engine answers share the variables before the treatment between arms, so their",
        "Monte-Carlo error is smaller than DoWhy's two independent arms. Neither interval includes the model's",
        "estimation error (`EngineEnsemble.bootstrap` gives one that does).",
    ]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
