"""Idempotency keys belong to the client (token) that sent them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from province_node import idempotency
from province_node.idempotency import Claim, StoredResponse

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def _conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(idempotency.SCHEMA)
    return conn


def _answer(text: str) -> StoredResponse:
    return StoredResponse(201, text.encode(), {})


def test_two_clients_may_use_the_same_key() -> None:
    conn = _conn()
    idempotency.run(conn, Claim("a" * 64, "k1", "fp-a"), NOW, lambda: "A", _answer)
    response, replayed = idempotency.run(
        conn, Claim("b" * 64, "k1", "fp-b"), NOW, lambda: "B", _answer
    )
    assert (response.body, replayed) == (b"B", False)


def test_the_same_client_gets_its_first_answer_again() -> None:
    conn = _conn()
    idempotency.run(conn, Claim("a" * 64, "k1", "fp-a"), NOW, lambda: "A", _answer)
    response, replayed = idempotency.run(
        conn, Claim("a" * 64, "k1", "fp-a"), NOW, lambda: "again", _answer
    )
    assert (response.body, replayed) == (b"A", True)
