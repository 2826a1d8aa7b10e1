"""Serving a page's file (stylesheet, script) by name from a package's static/ directory.

Only the names the caller lists are served: a path typed into the address never reaches the
file system. Revalidated on each load, so a new version's files show at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript"}


def listed_files(directory: Path, *, skip_prefix: str | None = None) -> dict[str, str]:
    """The directory's .css and .js files as name → media type, as they are at start."""
    return {
        p.name: MEDIA_TYPES[p.suffix]
        for p in sorted(directory.iterdir())
        if p.suffix in MEDIA_TYPES and not (skip_prefix and p.name.startswith(skip_prefix))
    }


def named_file(directory: Path, files: Mapping[str, str], name: str) -> web.FileResponse | None:
    """The file `name` of `directory` if `files` (name → media type) lists it, else None (the
    caller answers its own 404)."""
    if name not in files:
        return None
    return web.FileResponse(
        directory / name,
        headers={
            "Cache-Control": "no-cache",
            "Content-Type": f"{files[name]}; charset=utf-8",
        },
    )
