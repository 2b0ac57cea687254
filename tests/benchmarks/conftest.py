"""The benchmark scripts' harness (``benchmarks/harness``) is importable as ``harness`` in these tests, as it is
for the scripts themselves (they run with ``benchmarks/`` as their directory)."""

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
