"""Markdown and plot reports of benchmark records (machine, versions, date and command included)."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import skip_reasons, summarize
from .protocol import Record

#: Everything after this line of an existing report is kept when the report is rewritten: the hand-written run
#: notes, so that rebuilding the tables from records cannot lose them.
NOTES_MARKER = "<!-- notes: kept when the tables are rewritten -->"

VERSIONED = ("numpy", "scipy", "pandas", "scikit-learn", "torch", "transformers", "econml", "dowhy", "hf-causal")


def environment() -> dict[str, str]:
    """Machine and library versions, for the report header."""
    info = {
        "date (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.platform()}; {platform.machine()}; {os.cpu_count()} logical CPUs",
        "processor": _cpu_model(),
        "python": platform.python_version(),
    }
    for name in VERSIONED:  # distribution metadata: no imports of heavy libraries
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def selection_report_footer(script: str, seconds: float, argv: Sequence[str]) -> list[str]:
    """The closing lines of a one-thread model-selection report: machine, wall time (``nan``: rebuilt from records),
    date and the command."""
    import shlex

    took = f"{seconds:.0f} s" if np.isfinite(seconds) else "report rebuilt from saved records"
    return [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, one thread; {took}; "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Command: `python {shlex.join([script, *argv])}`",
        "",
    ]


def estimator_sections(table: Callable[[str], list[str]]) -> list[str]:
    """The two sections of a calibration-selection report: ``table("default")`` under the default estimator's heading,
    ``table("kernel")`` under the kernel-augmented one's."""
    return [
        "## The default estimator (in-context outcome network, `outcome_model=\"auto\"`)",
        "",
        *table("default"),
        "",
        "## The kernel-augmented estimator (`outcome_model=\"kernel\"`)",
        "",
        *table("kernel"),
        "",
    ]


def write_selection_report(output: Path, lines: list[str], script: str, seconds: float, argv: Sequence[str]) -> None:
    """Write a model-selection report: ``lines``, then :func:`selection_report_footer`; say where it went."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join([*lines, *selection_report_footer(script, seconds, argv)]))
    print(f"wrote {output}")


def write_keeping_notes(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path``, then :data:`NOTES_MARKER` and whatever followed it in the file already there
    (nothing when there is no such file or marker)."""
    path = Path(path)
    notes = "\n"
    if path.is_file() and NOTES_MARKER in (old := path.read_text(encoding="utf-8")):
        notes = old.split(NOTES_MARKER, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n\n" + NOTES_MARKER + notes, encoding="utf-8")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _fmt(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


#: Rows whose names start with this are oracles (they use the truth): shown, never ranked or bolded.
ORACLE_PREFIX = "oracle_"


def is_oracle(method: str) -> bool:
    """Whether ``method`` is an oracle row (:data:`ORACLE_PREFIX`)."""
    return str(method).startswith(ORACLE_PREFIX)


def suite_table(summary: pd.DataFrame, suite: str) -> str:
    """Markdown table of one suite's rows of :func:`harness.metrics.summarize` (best MAE of the methods in bold;
    oracle rows are shown, not ranked)."""
    rows = summary[summary["suite"] == suite]
    scored = rows.loc[~rows["method"].map(is_oracle), "mae"].dropna()
    best = scored.min() if len(scored) else np.nan
    lines = [
        "| method | ran / datasets | MAE | median abs. error | 95% coverage | mean time (s) | LinearDML time ÷ method time |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in rows.iterrows():
        mae = _fmt(r["mae"])
        if np.isfinite(r["mae"]) and r["mae"] == best:
            mae = f"**{mae}**"
        cov = f"{r['coverage']:.0%} (of {r['intervals']})" if np.isfinite(r["coverage"]) else "–"
        ran = f"{r['ok']} / {r['datasets']}" + (f" ({r['errors']} errors)" if r["errors"] else "")
        lines.append(
            f"| {r['method']} | {ran} | {mae} | {_fmt(r['median_ae'])} | {cov} | "
            f"{_fmt(r['mean_seconds'])} | {_fmt(r['time_vs_reference'])} |"
        )
    return "\n".join(lines)


def rank_table(
    summary: pd.DataFrame,
    methods: Sequence[str] = ("cina_zs", "cina_zs_cross", "cina_zs_pretrained", "cina_zs_one_network", "cina_zs_whole",
                              "cina_zs_kernel",
                              "cina_zs_uniform", "cina_zs_weights", "cina_per_dataset", "svm_dual"),
) -> str:
    """Per suite: the best method by MAE and the MAE rank of each of ``methods`` (1 = best)."""
    lines = ["| suite | best by MAE | " + " | ".join(f"rank of {m}" for m in methods) + " |"]
    lines.append("|---" * (2 + len(methods)) + "|")
    for suite, rows in summary.groupby("suite", sort=False):
        scored = rows[~rows["method"].map(is_oracle)].dropna(subset=["mae"]).sort_values("mae")
        if scored.empty:
            continue
        ranks = {m: i + 1 for i, m in enumerate(scored["method"])}
        best = f"{scored.iloc[0]['method']} ({_fmt(scored.iloc[0]['mae'])})"
        cells = [f"{ranks[m]} / {len(scored)}" if m in ranks else "–" for m in methods]
        lines.append(f"| {suite} | {best} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


TARGET_PEERS = ("ipw", "aipw_gbm", "linear_dml", "causal_forest_dml")


def _paired_errors(records: Sequence[Record], suites: Sequence[str], method: str, peer: str) -> np.ndarray:
    """``|error of method| - |error of peer|`` on each dataset of ``suites`` both ran, ordered by (suite, dataset)."""
    errors: dict[str, dict[tuple[str, str], float]] = {method: {}, peer: {}}
    for r in records:
        if r.suite in suites and r.method in errors and r.abs_error is not None:
            errors[r.method][(r.suite, r.dataset)] = r.abs_error
    common = sorted(set(errors[method]) & set(errors[peer]))
    return np.array([errors[method][k] - errors[peer][k] for k in common], dtype=np.float64)


def difference_summary(diff: np.ndarray) -> tuple[float, float, int, int]:
    """``(mean, standard error, wins, n)`` of paired differences; ``wins`` counts the negative ones."""
    if diff.size == 0:
        return float("nan"), float("nan"), 0, 0
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan")
    return float(diff.mean()), se, int((diff < 0).sum()), int(diff.size)


def paired_difference(records: Sequence[Record], suite: str, method: str, peer: str) -> tuple[float, float, int, int]:
    """``(mean, standard error, wins, n)`` of ``|error of method| - |error of peer|`` over the datasets of ``suite``
    both ran; ``wins`` counts the datasets where ``method`` is closer to the truth. SE is ``nan`` for one dataset."""
    return difference_summary(_paired_errors(records, (suite,), method, peer))


#: The ablations of the zero-shot estimator: (variant, baseline, what the comparison isolates).
ABLATIONS = (
    ("cina_zs_pretrained", "cina_zs_kernel", "pretrained outcome network vs kernel ridge (same balancing weights; "
     "neither with the residual trees)"),
    ("cina_zs", "cina_zs_pretrained", "boosted trees on the network's residuals, kept past 3 SE, vs none (same "
     "weights; not learned; docs/design.md §4.8)"),
    ("cina_zs_kernel", "cina_zs_uniform", "balancing network vs uniform base weights (same kernel-augmented estimator)"),
    ("cina_zs", "cina_zs_one_network", "both outcome networks, large effects routed to the wide-prior one, vs the "
     "first network alone (same weights; docs/design.md §4.8)"),
    ("cina_zs", "cina_zs_no_row_limit", "the network's correction withheld from rows more than `outcome_row_limit` "
     "outcome SDs from the mean vs given to every row (same weights; docs/design.md §4.8)"),
    ("cina_zs", "cina_zs_no_spread_limit", "the first network withheld from datasets whose kernel surfaces differ in "
     "spread beyond `outcome_spread_limit` (its prior's 99th percentile) vs used on every dataset routed to it "
     "(same weights; docs/design.md §4.8)"),
    ("cina_zs_whole", "cina_zs", "the network's whole correction vs the default's kernel model plus 0.75 of it "
     "(same weights; what the kernel model's part of the blend adds, docs/design.md §4.8)"),
    ("cina_zs_cross", "cina_zs", "balancing pairwise products too (opt-in `cross_moments=True`) vs the default's "
     "means and squares (not learned; docs/design.md §4.3)"),
)
#: Suites pooled in the ablation table: held-out synthetic data the outcome network was not trained on.
OOD_SUITES = ("ood_mechanism", "ood_dense_graph", "ood_strong_confounding", "ood_weak_overlap", "ood_large_n")


def pooled_difference(records: Sequence[Record], suites: Sequence[str], method: str, peer: str) -> tuple[float, float, int, int]:
    """:func:`paired_difference` over the datasets of several suites pooled (one paired difference per dataset)."""
    return difference_summary(_paired_errors(records, suites, method, peer))


def _signed(mean: float, se: float) -> str:
    """``+0.012 ± 0.004`` (``–`` when nothing was paired)."""
    if not np.isfinite(mean):
        return "–"
    spread = f" ± {_fmt(se)}" if np.isfinite(se) else ""
    return f"{'+' if mean >= 0 else '−'}{_fmt(abs(mean))}{spread}"


def ablation_table(records: Sequence[Record], ablations: Sequence[tuple[str, str, str]] = ABLATIONS,
                   pooled: Sequence[str] = OOD_SUITES) -> str:
    """Per ablation, per suite and pooled over ``pooled``: the paired mean of |error of the variant| − |error of
    the baseline| ± its SE (negative: the learned part helps), the variant's wins, and ``|mean| / SE``."""
    suites = list(dict.fromkeys(r.suite for r in records))
    lines = []
    for variant, baseline, what in ablations:
        if not any(r.method == variant for r in records) or not any(r.method == baseline for r in records):
            continue
        lines += [f"**{what}** (`{variant}` − `{baseline}`)", "",
                  "| suite | paired Δ abs. error ± SE | variant closer | Δ / SE |", "|---|---|---|---|"]
        rows = [(suite, paired_difference(records, suite, variant, baseline)) for suite in suites]
        rows.append((f"pooled: {', '.join(s for s in pooled if s in suites)}",
                     pooled_difference(records, pooled, variant, baseline)))
        for label, (mean, se, wins, n) in rows:
            if n == 0:
                continue
            ratio = f"{mean / se:+.1f}" if np.isfinite(se) and se > 0 else "–"
            lines.append(f"| {label} | {_signed(mean, se)} | {wins} / {n} | {ratio} |")
        lines.append("")
    return "\n".join(lines) if lines else "No ablation pair ran."


def pooled_best_peer_difference(
    records: Sequence[Record], best_peers: dict[str, tuple[str, float]], method: str, scaled: bool = False
) -> tuple[float, float, int, int]:
    """:func:`paired_difference` of ``method`` against each suite's own best peer (``{suite: (peer, its MAE)}``),
    pooled over those suites' datasets; with ``scaled`` each difference is divided by that peer's MAE, so that
    suites on different outcome scales weigh alike."""
    parts = [_paired_errors(records, (suite,), method, peer) / (peer_mae if scaled else 1.0)
             for suite, (peer, peer_mae) in best_peers.items()]
    return difference_summary(np.concatenate(parts) if parts else np.empty(0))


def target_table(
    summary: pd.DataFrame,
    method: str = "cina_zs",
    peers: Sequence[str] = TARGET_PEERS,
    records: Sequence[Record] | None = None,
) -> str:
    """Per suite: ``method``'s MAE against the best of ``peers`` (the zero-shot target: at or below it), and the speed
    ratio against LinearDML. Suites where ``method`` or every peer did not run are left out.

    With ``records``, two more columns say whether a gap is more than noise: the paired mean difference of the
    absolute errors (``method`` − best peer, same datasets) ± its standard error, and on how many datasets
    ``method`` was the closer of the two."""
    paired = records is not None
    head = f"| suite | {method} MAE | best peer (MAE) | {method} ÷ best peer | target met |"
    rule = "|---|---|---|---|---|"
    if paired:
        head += f" paired Δ abs. error ± SE | {method} closer |"
        rule += "---|---|"
    lines = [head + f" LinearDML time ÷ {method} time |", rule + "---|"]
    best_peers: dict[str, tuple[str, float]] = {}
    for suite, rows in summary.groupby("suite", sort=False):
        ours = rows[rows["method"] == method].dropna(subset=["mae"])
        theirs = rows[rows["method"].isin(peers)].dropna(subset=["mae"]).sort_values("mae")
        if ours.empty or theirs.empty:
            continue
        mae, best = float(ours.iloc[0]["mae"]), theirs.iloc[0]
        line = (
            f"| {suite} | {_fmt(mae)} | {best['method']} ({_fmt(best['mae'])}) | {mae / best['mae']:.2f} | "
            f"{'yes' if mae <= best['mae'] else 'no'} |"
        )
        if paired:
            mean, se, wins, n = paired_difference(records, str(suite), method, str(best["method"]))
            line += f" {_signed(mean, se)} | {wins} / {n} |"
            if n > 1:
                best_peers[str(suite)] = (str(best["method"]), float(best["mae"]))
        lines.append(line + f" {_fmt(ours.iloc[0]['time_vs_reference'])} |")
    if paired:
        ood = {s: v for s, v in best_peers.items() if s in OOD_SUITES}
        for label, peers_of, scaled in (("pooled OOD suites, each against its best peer", ood, False),
                                        ("pooled multi-dataset suites, Δ ÷ that suite's best-peer MAE", best_peers,
                                         True)):
            mean, se, wins, n = pooled_best_peer_difference(records, peers_of, method, scaled)
            if n > 1:
                lines.append(f"| {label} | | | | | {_signed(mean, se)} ({mean / se:+.1f} SE) | "
                             f"{wins} / {n} | |")
    return "\n".join(lines)


def oracle_table(
    summary: pd.DataFrame,
    records: Sequence[Record],
    oracle: str = "oracle_surfaces",
    ladder: Sequence[str] = ("cina_zs_weights", "cina_zs_kernel", "cina_zs"),
    method: str = "cina_zs",
    peers: Sequence[str] = TARGET_PEERS,
) -> str:
    """Per suite with an ``oracle`` row: the MAE of the oracle and of each rung of ``ladder`` (the same weights with
    no, the kernel and the default outcome model) and of the best of ``peers``, then paired distances to the oracle
    (Δ abs. error ± SE, each dataset against itself; pooled over the OOD suites too): of the first rung (the room an
    outcome model has), of ``method`` (what its outcome model leaves) and of the best peer.

    A suite where the best peer is within noise of the oracle cannot rank the methods near it."""
    weights = ladder[0]
    head = ("| suite | " + " | ".join(f"{m} MAE" for m in (oracle, *ladder)) + " | best peer (MAE) | "
            f"{weights} − oracle ± SE (the room) | {method} − oracle ± SE | best peer − oracle ± SE |")
    lines = [head, "|---" * (6 + len(ladder)) + "|"]
    ood_peers: dict[str, str] = {}
    for suite, rows in summary.groupby("suite", sort=False):
        mae = {str(r["method"]): float(r["mae"]) for _, r in rows.dropna(subset=["mae"]).iterrows()}
        if oracle not in mae:
            continue
        theirs = rows[rows["method"].isin(peers)].dropna(subset=["mae"]).sort_values("mae")
        peer = None if theirs.empty else str(theirs.iloc[0]["method"])
        if peer is not None and suite in OOD_SUITES:
            ood_peers[str(suite)] = peer
        cells = [_fmt(mae.get(m, np.nan)) for m in (oracle, *ladder)]
        cells.append("–" if peer is None else f"{peer} ({_fmt(mae[peer])})")
        for rung in (weights, method, peer):
            cells.append("–" if rung is None else _signed(*paired_difference(records, str(suite), rung, oracle)[:2]))
        lines.append(f"| {suite} | " + " | ".join(cells) + " |")
    if ood_peers:
        pooled = [pooled_difference(records, tuple(ood_peers), rung, oracle) for rung in (weights, method)]
        parts = [_paired_errors(records, (suite,), peer, oracle) for suite, peer in ood_peers.items()]
        pooled.append(difference_summary(np.concatenate(parts)))
        blank = " |" * (len(ladder) + 2)
        lines.append("| pooled OOD suites (each against its best peer) |" + blank + " "
                     + " | ".join(_signed(*p[:2]) for p in pooled) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def write_markdown(
    records: Sequence[Record],
    path: str | os.PathLike,
    *,
    title: str,
    command: str,
    notes: Sequence[str] = (),
    suite_descriptions: dict[str, str] | None = None,
    reference: str = "linear_dml",
) -> pd.DataFrame:
    """Write the full report to ``path``; return the summary frame."""
    summary = summarize(records, reference=reference)
    env = environment()
    out = [f"# {title}", "", f"Produced by `{command}`.", ""]
    out += [f"- **{key}**: {value}" for key, value in env.items()]
    out += [""] + [f"- {note}" for note in notes] + [""]
    out += [
        "Metrics: MAE and median of |estimate − truth| over the datasets a method ran on; 95% coverage is the share "
        "of its intervals that contain the truth; time is wall-clock seconds per dataset (fit + estimate, same "
        f"process, same datasets); the last column is {reference}'s total time divided by the method's on the "
        "datasets both ran (> 1 = faster than it). Bold = lowest MAE in the suite. A method that was skipped or "
        "timed out on some datasets is scored on the ones it ran (see `ran / datasets`), so compare it with care.",
        "",
        "## Where each CInA variant ranks (by MAE; 1 = best)",
        "",
        rank_table(summary),
        "",
        "## Zero-shot CInA against the best of IPW, AIPW, LinearDML and CausalForestDML (the zero-shot target)",
        "",
        target_table(summary, records=records),
        "",
        "## Ablations: what each learned part adds (same datasets, same run)",
        "",
        ablation_table(records),
        "",
    ]
    oracle = oracle_table(summary, records)
    if oracle:
        out += [
            "## The oracle: how much room the outcome model has (same weights, the true surfaces)",
            "",
            "`oracle_surfaces` augments the default's balancing weights with the true outcome surfaces `mu0`, `mu1`: "
            "its error is the weighted outcome noise, what a perfect outcome model would leave with these weights "
            "(suites with per-unit truth; not a method). `cina_zs_weights` → `cina_zs_kernel` → `cina_zs` are the "
            "same weights with no, the kernel and the default outcome model. Where the best peer is itself within "
            "noise of the oracle, the suite cannot rank the methods near it.",
            "",
            oracle,
            "",
        ]
    for suite in summary["suite"].unique():
        sub = [r for r in records if r.suite == suite]
        estimand = sub[0].estimand.upper() if sub else "?"
        sizes = sorted({r.n for r in sub})
        size_doc = f"N = {sizes[0]}" if len(sizes) == 1 else f"N = {sizes[0]}–{sizes[-1]}"
        desc = (suite_descriptions or {}).get(suite, "")
        out += [f"## {suite} ({estimand}; {size_doc})", ""]
        if desc:
            out += [desc, ""]
        out += [suite_table(summary, suite), ""]
    reasons = skip_reasons(records)
    out += ["## Skipped and failed runs", ""]
    if reasons.empty:
        out += ["None.", ""]
    else:
        out += ["| suite | method | status | reason | count |", "|---|---|---|---|---|"]
        out += [f"| {r.suite} | {r.method} | {r.status} | {r.note} | {r['count']} |" for _, r in reasons.iterrows()]
        out += [""]
    write_keeping_notes(path, "\n".join(out))
    return summary


def plot_summary(summary: pd.DataFrame, path: str | os.PathLike, title: str = "") -> None:
    """Two panels: MAE relative to the best method per suite (heatmap, MAE annotated) and mean wall time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(summary["suite"].unique())
    methods = list(summary["method"].unique())
    mae = summary.pivot(index="method", columns="suite", values="mae").reindex(index=methods, columns=suites)
    rel = mae / mae.loc[[m for m in methods if not is_oracle(m)]].min(axis=0)  # an oracle's MAE is not the bar
    secs = summary.pivot(index="method", columns="suite", values="mean_seconds").reindex(index=methods, columns=suites)
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(4 + 1.1 * len(suites) + 5, 1.2 + 0.5 * len(methods)), gridspec_kw={"width_ratios": [len(suites), 4]}
    )
    image = ax1.imshow(np.log10(rel.to_numpy(dtype=float)), cmap="RdYlGn_r", vmin=0, vmax=1, aspect="auto")
    for i in range(len(methods)):
        for j in range(len(suites)):
            value = mae.iat[i, j]
            ax1.text(j, i, "skip" if not np.isfinite(value) else _fmt(value, 2), ha="center", va="center", fontsize=7)
    ax1.set_xticks(range(len(suites)), suites, rotation=40, ha="right", fontsize=8)
    ax1.set_yticks(range(len(methods)), methods, fontsize=8)
    ax1.set_title("MAE (colour: log10 MAE / best MAE in suite)", fontsize=9)
    fig.colorbar(image, ax=ax1, fraction=0.03, pad=0.02)
    med = secs.median(axis=1)
    ax2.barh(range(len(methods)), med.to_numpy(dtype=float), color="tab:blue")
    ax2.set_xscale("log")
    ax2.set_yticks(range(len(methods)), [""] * len(methods))
    ax2.invert_yaxis()
    ax2.set_xlabel("median over suites of mean wall time per dataset (s)", fontsize=8)
    ax2.set_title("time", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
