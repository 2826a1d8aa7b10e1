"""Helpers of the `./dev` tests: running `python -m devstack`, free ports for a stack, and a
detached stack that is stopped again."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.kafka import free_base_port, port_free

ROOT = Path(__file__).resolve().parents[2]


def dev(*args: str) -> subprocess.CompletedProcess[str]:
    """`./dev ARGS` (as `python -m devstack`), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def base_port(offsets: Iterable[int], start: int, end: int) -> int:
    """A base P in [start, end) with P + each offset free (a module's own range of P keeps two
    stacks of one run apart)."""
    wanted = tuple(offsets)
    for _ in range(100):
        base = free_base_port(1, start=start, end=end)
        if all(port_free(base + d) for d in wanted):
            return base
    raise RuntimeError("no free ports")


@contextmanager
def detached_stack(
    state: Path, base: int, *up_args: str
) -> Iterator[tuple[subprocess.CompletedProcess[str], dict[str, Any]]]:
    """`./dev up --detach` on state (20 records a province, base port base, then up_args): its
    output and stack.json; `./dev down` after."""
    up = dev(
        "up", "--detach", "--state", str(state), "--records", "20",
        "--base-port", str(base), *up_args,
    )  # fmt: skip
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    try:
        yield up, json.loads((state / "stack.json").read_text())
    finally:
        dev("down", "--state", str(state))
