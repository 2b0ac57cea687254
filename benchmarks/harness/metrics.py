"""Per (suite, method) metrics: MAE, median absolute error, 95% coverage, wall time and time ratios."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .protocol import Record

COLUMNS = [
    "suite",
    "method",
    "datasets",
    "ok",
    "skipped",
    "errors",
    "mae",
    "median_ae",
    "coverage",
    "intervals",
    "mean_seconds",
    "time_vs_reference",
]


def summarize(records: Sequence[Record], reference: str = "linear_dml") -> pd.DataFrame:
    """One row per (suite, method), in first-seen order.

    * ``mae`` / ``median_ae``: mean / median of ``|estimate - truth|`` over the datasets the method ran on
      (``ok``); skipped and failed datasets are counted, not scored.
    * ``coverage``: share of the ``intervals`` runs whose 95% interval contains the truth (NaN without
      intervals).
    * ``mean_seconds``: mean wall time of a successful run.
    * ``time_vs_reference``: total wall time of ``reference`` divided by the method's total, both over the
      datasets on which both ran (> 1: the method is that many times faster; NaN if none in common).
    """
    rows = []
    frame = pd.DataFrame([r.to_dict() | {"abs_error": r.abs_error, "covered": r.covered} for r in records])
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    for (suite, method), group in frame.groupby(["suite", "method"], sort=False):
        ok = group[group["status"] == "ok"]
        errors = ok["abs_error"].to_numpy(dtype=np.float64)
        covered = ok["covered"].dropna()
        ref = frame[(frame["suite"] == suite) & (frame["method"] == reference) & (frame["status"] == "ok")]
        both = ok.merge(ref[["dataset", "seconds"]], on="dataset", suffixes=("", "_ref"))
        ratio = (
            float(both["seconds_ref"].sum() / both["seconds"].sum())
            if len(both) and both["seconds"].sum() > 0
            else np.nan
        )
        rows.append(
            {
                "suite": suite,
                "method": method,
                "datasets": int(group["dataset"].nunique()),
                "ok": len(ok),
                "skipped": int((group["status"] == "skipped").sum()),
                "errors": int((group["status"] == "error").sum()),
                "mae": float(errors.mean()) if len(errors) else np.nan,
                "median_ae": float(np.median(errors)) if len(errors) else np.nan,
                "coverage": float(covered.astype(float).mean()) if len(covered) else np.nan,
                "intervals": len(covered),
                "mean_seconds": float(ok["seconds"].mean()) if len(ok) else np.nan,
                "time_vs_reference": ratio,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def skip_reasons(records: Sequence[Record]) -> pd.DataFrame:
    """Distinct (suite, method, status, note) of the skipped and failed runs, with counts."""
    bad = [r for r in records if r.status != "ok"]
    if not bad:
        return pd.DataFrame(columns=["suite", "method", "status", "note", "count"])
    frame = pd.DataFrame([{"suite": r.suite, "method": r.method, "status": r.status, "note": r.note} for r in bad])
    # group notes that differ only by N (e.g. "N = 4802 > 3000") into one line
    frame["note"] = frame["note"].str.replace(r"N = \d+", "N", regex=True)
    return frame.groupby(["suite", "method", "status", "note"], sort=False).size().reset_index(name="count")
