"""The snapshot file: an uncompressed tar of manifest.json and the sinks' files. Written and read
as streams with their sha256 computed on the way, so a large store is read once per pass."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

from national_hub.errors import StoreError
from national_hub.snapshot.manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest, Member

CHUNK = 4 * 1024 * 1024
# Bytes copied so far (of the whole pass): progress bars and the ops route's state.
Progress = Callable[[int], None]


class SnapshotError(StoreError):
    """A snapshot that cannot be written, read or trusted; the text says which and why."""


def copy_hashing(src: io.BufferedIOBase, dst: io.BufferedIOBase | None, on_bytes: Progress) -> str:
    """Copy src to dst (or only read it) in chunks; the sha256 of what passed."""
    digest = hashlib.sha256()
    while chunk := src.read(CHUNK):
        digest.update(chunk)
        if dst is not None:
            dst.write(chunk)
        on_bytes(len(chunk))
    return digest.hexdigest()


def file_sha256(path: Path, on_bytes: Progress) -> str:
    with path.open("rb") as f:
        return copy_hashing(f, None, on_bytes)


def write_archive(
    out: Path, manifest: Manifest, files: dict[str, Path], on_bytes: Progress
) -> None:
    """Write the tar: the manifest first (a restore reads it before anything big), then files."""
    body = json.dumps(manifest.to_json(), indent=2).encode("utf-8")
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(body)
        info.mtime = int(manifest.created_at.timestamp())
        tar.addfile(info, io.BytesIO(body))
        for name, path in files.items():
            info = tar.gettarinfo(str(path), arcname=name)
            with path.open("rb") as f:
                tar.addfile(info, f)
            on_bytes(info.size)


def read_manifest(path: Path) -> Manifest:
    """The manifest of a snapshot file, checked for the format this hub reads."""
    try:
        with tarfile.open(path, "r:") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST_NAME:
                raise SnapshotError(f"{path} is not a hub snapshot (no {MANIFEST_NAME} first)")
            f = tar.extractfile(first)
            assert f is not None
            raw = json.loads(f.read())
    except (tarfile.TarError, OSError) as exc:
        raise SnapshotError(f"cannot read snapshot {path}: {exc}") from None
    except ValueError:
        raise SnapshotError(f"{path}: its {MANIFEST_NAME} is not JSON") from None
    try:
        manifest = Manifest.from_json(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"{path}: its {MANIFEST_NAME} is malformed ({exc})") from None
    if manifest.format_version != FORMAT_VERSION:
        raise SnapshotError(
            f"{path} is snapshot format {manifest.format_version}; this hub reads {FORMAT_VERSION}"
        )
    return manifest


def extract_checked(
    path: Path, manifest: Manifest, into: Path | None, on_bytes: Progress
) -> dict[str, Path]:
    """Read every member listed in the manifest, checking its size and sha256; write them under
    `into` (or only check them, when None). Refuses members the manifest does not name."""
    found: dict[str, Path] = {}
    try:
        with tarfile.open(path, "r:") as tar:
            for info in tar:
                if info.name == MANIFEST_NAME:
                    continue
                member = manifest.member(info.name)
                if member is None or not info.isfile():
                    raise SnapshotError(f"{path}: unexpected member {info.name!r}")
                src = tar.extractfile(info)
                assert src is not None
                target = None if into is None else into / member.name
                if target is None:
                    sha = copy_hashing(src, None, on_bytes)  # type: ignore[arg-type]
                else:
                    with target.open("wb") as dst:
                        sha = copy_hashing(src, dst, on_bytes)  # type: ignore[arg-type]
                if info.size != member.size or sha != member.sha256:
                    raise SnapshotError(
                        f"snapshot {path} is corrupt: {member.name} does not match its manifest "
                        f"(sha256 {sha[:12]}…, expected {member.sha256[:12]}…)"
                    )
                if target is not None:
                    found[member.name] = target
                else:
                    found[member.name] = Path(member.name)
    except (tarfile.TarError, EOFError) as exc:
        raise SnapshotError(f"snapshot {path} is corrupt or cut short: {exc}") from None
    missing = [m.name for m in manifest.members if m.name not in found]
    if missing:
        raise SnapshotError(f"snapshot {path} is cut short: {', '.join(missing)} missing")
    return found


def member(name: str, path: Path, sha256: str) -> Member:
    return Member(name, path.stat().st_size, sha256)
