"""`province-node reenter`: an ID number is filled in only if it is the registration's own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nodekit import FedEnv, id_number, registration

from province_node import requests as rq
from province_node.reentry import ReentrySummary, reenter
from province_node.registry import Store


def _recovered_registry(fed: FedEnv) -> None:
    """Registrations 1 and 2 as recover leaves them: no ID number."""
    settings = fed.settings()
    store = Store(fed.db, "50", settings.load_signer(), settings.load_secret())
    store.open()
    try:
        jobs = [
            lambda ctx, i=i: ctx.register(
                rq.RegistrationRequest.model_validate(registration(i)), "test"
            )
            for i in (1, 2)
        ]
        store.run_group(jobs)
    finally:
        store.close()
    conn = sqlite3.connect(fed.db)
    with conn:
        conn.execute("UPDATE registrations SET id_number = ''")
    conn.close()


def _reenter(fed: FedEnv, tmp_path: Path, rows: list[tuple[int, str]]) -> ReentrySummary:
    _recovered_registry(fed)
    csv_path = tmp_path / "reentry.csv"
    lines = ["cert_no,name,id_number"]
    lines += [f"{registration(i)['cert_no']},某,{number}" for i, number in rows]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return reenter(fed.db, fed.settings().load_secret(), csv_path)


def _stored(fed: FedEnv, index: int) -> str:
    conn = sqlite3.connect(fed.db)
    row = conn.execute(
        "SELECT id_number FROM registrations WHERE cert_no = ?", (registration(index)["cert_no"],)
    ).fetchone()
    conn.close()
    return str(row[0])


def test_the_right_id_number_is_entered(fed: FedEnv, tmp_path: Path) -> None:
    _reenter(fed, tmp_path, [(1, id_number(1))])
    assert _stored(fed, 1) == id_number(1)


def test_another_persons_id_number_is_refused(fed: FedEnv, tmp_path: Path) -> None:
    summary = _reenter(fed, tmp_path, [(1, id_number(2))])
    assert (summary.entered, _stored(fed, 1)) == (0, "")


def test_refusal_names_line_and_reason(fed: FedEnv, tmp_path: Path) -> None:
    summary = _reenter(fed, tmp_path, [(1, id_number(2))])
    assert summary.refused == [
        (
            2,
            registration(1)["cert_no"],
            "this ID number is not the one the registration was made with",
        )
    ]


def test_still_missing_counts_the_rest(fed: FedEnv, tmp_path: Path) -> None:
    assert _reenter(fed, tmp_path, [(1, id_number(1))]).still_missing == 1
