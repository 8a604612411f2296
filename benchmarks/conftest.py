"""Puts this folder on ``sys.path`` so the benchmark tests import the workload
builders of ``bench_workload.py`` (benchmarks/ is not a package).

Run with ``--no-cov``: a coverage tracer distorts timings several-fold.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
