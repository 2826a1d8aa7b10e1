"""Fetch axe-core (the accessibility checker the page tests inject) once, verified.

The npm package's tarball is fetched from the npm registry over HTTPS (no npm needed on the
machine; `npm_config_registry` names another registry), checked against the sha512 the
registry publishes for this version (pinned below), and its axe.min.js kept under the
repository's var/ (gitignored): axe-core's source is never vendored into git.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import urllib.request
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
    registry = os.environ.get("npm_config_registry", "https://registry.npmjs.org/").rstrip("/")
    url = f"{registry}/axe-core/-/axe-core-{AXE_VERSION}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=120) as resp:
            data = resp.read()
    except OSError as exc:
        raise DevstackError(f"cannot fetch axe-core from {url}: {exc}") from None
    got = _integrity(data)
    if got != AXE_INTEGRITY:
        raise DevstackError(f"axe-core tarball integrity {got} is not {AXE_INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
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
