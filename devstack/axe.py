"""Fetch axe-core (the accessibility checker the page tests inject) once, verified.

The npm package's tarball is fetched with npm's own client (`npm pack`), checked against the
sha512 the registry publishes for this version (pinned below), and its axe.min.js kept under
the repository's var/ (gitignored): axe-core's source is never vendored into git.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from devstack.errors import DevstackError

AXE_VERSION = "4.10.3"
# dist.integrity of axe-core@4.10.3 (`npm view axe-core@4.10.3 dist.integrity`).
AXE_INTEGRITY = (
    "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=="
)
REPO = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Where the script is kept: var/cache/axe-core-<version> in the repository."""
    return REPO / "var" / "cache" / f"axe-core-{AXE_VERSION}"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def axe_script() -> Path:
    """The path of axe.min.js, fetched and verified on first use."""
    target = cache_dir() / "axe.min.js"
    if target.exists():
        return target
    if shutil.which("npm") is None:
        raise DevstackError("npm is not on PATH; it is needed once to fetch axe-core")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            ["npm", "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        tarballs = list(Path(tmp).glob("axe-core-*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            raise DevstackError(f"npm pack axe-core@{AXE_VERSION} failed:\n{proc.stderr[-2000:]}")
        data = tarballs[0].read_bytes()
        got = _integrity(data)
        if got != AXE_INTEGRITY:
            raise DevstackError(f"axe-core tarball integrity {got} is not {AXE_INTEGRITY}")
        with tarfile.open(tarballs[0]) as archive:
            member = archive.extractfile("package/axe.min.js")
            if member is None:
                raise DevstackError("the axe-core tarball has no package/axe.min.js")
            script = member.read()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written whole then renamed: a concurrent test run never reads half a file.
    partial = target.with_name(f"axe.min.js.{os.getpid()}")
    partial.write_bytes(script)
    partial.replace(target)
    return target
