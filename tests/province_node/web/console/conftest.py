"""Fixtures of the console tests; the helpers they use live in consolekit.py."""

from __future__ import annotations

import sys
from pathlib import Path

# Tests run with --import-mode=importlib, which puts no test directory on sys.path; this makes
# the console's helpers importable as `consolekit` from every test module here.
sys.path.insert(0, str(Path(__file__).parent))
