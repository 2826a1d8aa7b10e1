"""Headless Chromium for page tests: a screenshot, or the DOM after the page's scripts ran.

Uses Debian's `chromium` (``apt-get install chromium``); a missing browser fails the test with
that instruction rather than skipping it. Each call runs a fresh browser with a throwaway
profile, no network besides the URL given, and a virtual-time budget: timers (the dashboard's
2 s refresh, for example) advance as if ``wait_ms`` milliseconds had passed, while fetches to
the page's server are real.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--lang=zh-CN",
)


def chromium_path() -> str:
    """The browser executable, or fail the test saying what to install."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "chromium not found on PATH: install Debian's `chromium` package "
        "(sudo apt-get install chromium); `./dev test` does this when run as root",
        pytrace=False,
    )


def _run(url: str, extra: list[str], wait_ms: int) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="regsync-chromium-") as profile:
        cmd = [
            chromium_path(),
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={wait_ms}",
            *extra,
            url,
        ]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=60 + wait_ms / 1000,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"chromium did not finish with {url} in {exc.timeout:.0f} s", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            f"chromium exited with {proc.returncode} for {url}:\n{proc.stderr[-3000:]}",
            pytrace=False,
        )
    return proc


def screenshot(
    url: str,
    path: Path | str,
    *,
    wait_ms: int = 5000,
    window_size: tuple[int, int] = (1400, 900),
) -> Path:
    """Load `url`, let its scripts run for `wait_ms` (virtual time), write a PNG to `path`."""
    out = Path(path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    _run(
        url,
        [f"--window-size={window_size[0]},{window_size[1]}", f"--screenshot={out}"],
        wait_ms,
    )
    if not out.is_file() or out.stat().st_size == 0:
        pytest.fail(f"chromium wrote no screenshot of {url} to {out}", pytrace=False)
    return out


def dump_dom(url: str, *, wait_ms: int = 5000) -> str:
    """Load `url`, let its scripts run for `wait_ms` (virtual time), return the serialised DOM."""
    proc = _run(url, ["--dump-dom"], wait_ms)
    if "<html" not in proc.stdout.lower():
        pytest.fail(f"chromium printed no DOM for {url}:\n{proc.stderr[-3000:]}", pytrace=False)
    return proc.stdout
