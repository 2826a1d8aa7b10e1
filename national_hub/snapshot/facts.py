"""Reading a sink's SinkFacts from its tables: the live writer connection when a snapshot is taken,
the copied file when it is verified or restored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb

from national_hub.snapshot.manifest import SinkFacts, tp_key

# The tables whose row counts a copy must reproduce exactly.
STORE_COUNTED = ("records", "history", "dead_letters", "heartbeats")
INDEX_COUNTED = ("records",)


def store_facts(con: duckdb.DuckDBPyConnection) -> SinkFacts:
    """The DuckDB store's offsets, applied seqs and row counts."""
    offsets = {
        tp_key(t, p): o
        for t, p, o in con.execute("SELECT topic, partition, next_offset FROM offsets").fetchall()
    }
    applied = dict(con.execute("SELECT province, applied_seq FROM progress").fetchall())
    counts: dict[str, int] = {}
    for table in STORE_COUNTED:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        counts[table] = int(row[0]) if row else 0
    return SinkFacts(offsets, applied, counts)


def index_facts(con: sqlite3.Connection) -> SinkFacts:
    """The serving index's offsets, applied seqs and row counts."""
    offsets = {
        tp_key(t, p): o
        for t, p, o in con.execute("SELECT topic, partition, next_offset FROM offsets")
    }
    applied = dict(con.execute("SELECT province, applied_seq FROM progress").fetchall())
    counts = {
        table: int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table in INDEX_COUNTED
    }
    return SinkFacts(offsets, applied, counts)


def store_file_facts(path: Path) -> SinkFacts:
    """store_facts of a DuckDB file, opened read-only (a copy nobody else holds)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return store_facts(con)
    finally:
        con.close()


def index_file_facts(path: Path) -> SinkFacts:
    """index_facts of a SQLite file, opened read-only."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return index_facts(con)
    finally:
        con.close()
