"""pytest-benchmark front end over the same cases as `fastload bench` (run: pytest benchmarks/ --benchmark-only)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
