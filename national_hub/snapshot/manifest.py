"""What a snapshot says it holds, and the pure comparisons that check a copy against it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Bumped when the archive's layout or the manifest's meaning changes; a restore refuses others.
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
STORE_MEMBER = "store.duckdb"
INDEX_MEMBER = "index.sqlite3"


@dataclass(frozen=True, slots=True)
class SinkFacts:
    """One sink's state as read from its own tables: where it resumes, how far each province is
    applied, how many rows its main tables hold."""

    offsets: dict[str, int]
    applied_seq: dict[str, int]
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"offsets": self.offsets, "applied_seq": self.applied_seq, "counts": self.counts}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SinkFacts:
        return cls(
            offsets={str(k): int(v) for k, v in raw["offsets"].items()},
            applied_seq={str(k): int(v) for k, v in raw["applied_seq"].items()},
            counts={str(k): int(v) for k, v in raw["counts"].items()},
        )


@dataclass(frozen=True, slots=True)
class Member:
    """A file of the archive: its name inside it, size and sha256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """The first member of every snapshot archive (manifest.json)."""

    created_at: datetime
    store: SinkFacts
    index: SinkFacts
    members: tuple[Member, ...] = field(default=())
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "created_at": self.created_at.isoformat(),
            "store": self.store.to_json(),
            "index": self.index.to_json(),
            "members": [{"name": m.name, "size": m.size, "sha256": m.sha256} for m in self.members],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Manifest:
        return cls(
            format_version=int(raw["format_version"]),
            created_at=datetime.fromisoformat(raw["created_at"]),
            store=SinkFacts.from_json(raw["store"]),
            index=SinkFacts.from_json(raw["index"]),
            members=tuple(
                Member(str(m["name"]), int(m["size"]), str(m["sha256"])) for m in raw["members"]
            ),
        )

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)

    def records(self) -> int:
        return self.store.counts.get("records", 0)


def tp_key(topic: str, partition: int) -> str:
    """A (topic, partition) as a JSON key: topic:partition."""
    return f"{topic}:{partition}"


def differences(sink: str, expected: SinkFacts, found: SinkFacts) -> list[str]:
    """What differs between a sink's manifest entry and its copy, one phrase each; [] when alike."""
    out: list[str] = []
    for what, want, got in (
        ("offsets", expected.offsets, found.offsets),
        ("applied seq", expected.applied_seq, found.applied_seq),
        ("row counts", expected.counts, found.counts),
    ):
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                out.append(f"{sink} {what} {key}: manifest {want.get(key)}, copy {got.get(key)}")
    return out
