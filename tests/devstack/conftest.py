"""The `./dev` tests' shared helpers live in devkit.py."""

from __future__ import annotations

import sys
from pathlib import Path

# Tests run with --import-mode=importlib, which puts no test directory on sys.path; this makes
# the helpers importable as `devkit` from every test module here.
sys.path.insert(0, str(Path(__file__).parent))
