"""The hub's rooms: module sizes, which room may import which, and no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import national_hub

PACKAGE = Path(national_hub.__file__).parent
MAX_LINES = 600

# A room may import rooms of a lower rank only (same rank: only itself).
RANK = {
    "errors": 0,
    "tuning": 0,
    "readcache": 0,
    "sinkthreads": 0,
    "config": 1,
    "metrics": 1,
    "ingest": 2,
    "store": 3,
    "index": 3,
    "sync": 4,
    "query": 4,
    "notify": 4,
    "snapshot": 4,
    "web": 5,
    "cli": 6,
}
# What the store may take from ingest: the message types, never the decoder or the ingestor.
STORE_MAY_IMPORT_FROM_INGEST = {"national_hub.ingest.messages"}
# The serving index (same rank as the store) takes the store's pure decision and progress types,
# so both sinks of the log decide alike; nothing else of the store, and only messages of ingest.
INDEX_MAY_IMPORT_FROM_STORE = {"national_hub.store.decide", "national_hub.store.progress"}
# The upward imports: the ingestor hands batches to the two sinks of the log (ingest.sinks:
# the Store and the ServingIndex) and reads what they did, and a new index is filled from the
# store (ingest.seeding); none touches a sink's writes, decisions or schema.
_SINKS = {"national_hub.store.store", "national_hub.store.progress", "national_hub.index.index"}
UPWARD = {
    "national_hub.ingest.ingestor": _SINKS,
    "national_hub.ingest.sinks": _SINKS,
    "national_hub.ingest.seeding": _SINKS | {"national_hub.store.export"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def hub_imports(path: Path) -> set[str]:
    """The national_hub modules a module imports (at any level, TYPE_CHECKING included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("national_hub"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("national_hub"))
    return found


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_at_most_600_lines(module: str) -> None:
    assert len(MODULES[module].read_text().splitlines()) <= MAX_LINES


@pytest.mark.parametrize("module", sorted(m for m in MODULES if room(m) in RANK))
def test_module_imports_only_lower_rooms(module: str) -> None:
    own = room(module)
    higher = sorted(
        imp
        for imp in hub_imports(MODULES[module])
        if room(imp) in RANK
        and room(imp) != own
        and RANK[room(imp)] >= RANK[own]
        and imp not in UPWARD.get(module, set())
        and not (own == "index" and imp in INDEX_MAY_IMPORT_FROM_STORE)
    )
    assert higher == []


def test_store_takes_only_message_types_from_ingest() -> None:
    taken = {
        imp
        for module, path in MODULES.items()
        if room(module) == "store"
        for imp in hub_imports(path)
        if room(imp) == "ingest"
    }
    assert taken <= STORE_MAY_IMPORT_FROM_INGEST


def test_index_takes_only_message_types_and_the_decision() -> None:
    taken = {
        imp
        for module, path in MODULES.items()
        if room(module) == "index"
        for imp in hub_imports(path)
        if room(imp) in ("ingest", "store")
    }
    assert taken <= STORE_MAY_IMPORT_FROM_INGEST | INDEX_MAY_IMPORT_FROM_STORE


def test_every_top_level_module_has_a_rank() -> None:
    rooms = {room(m) for m in MODULES if room(m) not in ("", "__main__")}
    assert rooms <= set(RANK)


def test_no_import_circle() -> None:
    graph = {m: {i for i in hub_imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    # Packages' __init__ modules import nothing here, so a circle is one among modules.
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert circles == []
