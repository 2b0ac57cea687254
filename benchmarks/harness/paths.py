"""Where the benchmark scripts write their reports.

A full run writes into ``benchmarks/results/`` (the committed reports); a ``--quick`` run writes into
:data:`QUICK_DIR` unless told otherwise: its numbers come from tiny suites, are not comparable with a full run's, and
must never replace a committed report by default.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

#: The committed reports.
RESULTS = Path(__file__).resolve().parent.parent / "results"
#: Where a quick run's reports go by default.
QUICK_DIR = Path(tempfile.gettempdir()) / "hf_causal_bench"


def report_path(name: str, quick: bool, given: str | Path | None = None) -> Path:
    """``given`` when set, else ``name`` in :data:`QUICK_DIR` (quick) or :data:`RESULTS`; its folder is created."""
    path = Path(given) if given is not None else (QUICK_DIR if quick else RESULTS) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
