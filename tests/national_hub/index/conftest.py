"""Fixtures of the serving index's tests; the helpers live in indexkit.py."""

from __future__ import annotations

import sys
from pathlib import Path

# Importable as `indexkit` (tests run with --import-mode=importlib: no test dir on sys.path).
sys.path.insert(0, str(Path(__file__).parent))
