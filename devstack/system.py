"""Debian packages the test suite and benchmarks need, installed with apt when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

from devstack.errors import DevstackError

# command on PATH -> Debian package that provides it
# (faketime: its libfaketime runs province nodes on skewed clocks in tests/e2e/test_clock_skew.py)
TEST_TOOLS = {"chromium": "chromium", "promtool": "prometheus", "faketime": "faketime"}
BENCH_TOOLS = {"kcat": "kcat"}
# `./dev up --hubs N` (N >= 2): the load balancer in front of the hub replicas.
BALANCER_TOOLS = {"haproxy": "haproxy"}
# packages with no command of their own: CJK glyphs for the dashboard screenshots
TEST_PACKAGES = ("fonts-wqy-zenhei",)


def _installed(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() == "install ok installed"


def ensure_tools(
    tools: dict[str, str],
    say: Callable[[str], None] = print,
    packages: tuple[str, ...] = (),
) -> None:
    """Install the packages of any missing command; fail with what to install otherwise."""
    missing = sorted({pkg for cmd, pkg in tools.items() if shutil.which(cmd) is None})
    if shutil.which("dpkg-query"):
        missing += [p for p in packages if not _installed(p)]
    if not missing:
        return
    can_apt = shutil.which("apt-get") is not None and os.geteuid() == 0
    if not can_apt:
        raise DevstackError(
            "missing Debian packages " + " ".join(missing) + "; install them with "
            "`sudo apt-get install " + " ".join(missing) + "`"
        )
    say("installing Debian packages: " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        proc = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DevstackError(f"{' '.join(step)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    still = [cmd for cmd in tools if shutil.which(cmd) is None]
    if still:
        raise DevstackError("still missing after apt-get install: " + " ".join(still))
