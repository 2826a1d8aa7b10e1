"""`province-node import`: CSV and JSON Lines, rejects with line numbers, idempotent re-runs."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nodekit import FedEnv, cert_no, id_number, registration, write_federation

from province_node import registry as reg
from province_node.cli import main
from province_node.importer import CSV_COLUMNS, import_file, rejects_path
from province_node.registry import Store
from schemas.events import parse_event


@pytest.fixture
def env(tmp_path: Path) -> FedEnv:
    """A federation file; import needs no Kafka."""
    return write_federation(tmp_path, "127.0.0.1:1", "unused")


@pytest.fixture
def store(env: FedEnv) -> Iterator[Store]:
    settings = env.settings()
    s = Store(settings.db_path, "50", settings.load_signer(), settings.load_secret())
    s.open()
    yield s
    s.close()


def _jsonl(path: Path, bodies: list[Any]) -> Path:
    path.write_text(
        "".join(
            (b if isinstance(b, str) else json.dumps(b, ensure_ascii=False)) + "\n" for b in bodies
        ),
        encoding="utf-8",
    )
    return path


def _csv_row(body: dict[str, Any]) -> dict[str, str]:
    return {
        "cert_no": body["cert_no"],
        "name": body["name"],
        "gender": body["gender"],
        "id_number": body["id_number"],
        "level": body["level"],
        "category": body["category"],
        "scopes": ";".join(body["scopes"]),
        "primary_org_code": body["primary_institution"]["org_code"],
        "primary_org_name": body["primary_institution"]["name"],
        "primary_region_code": body["primary_institution"]["region_code"],
        "issuing_authority_name": body["issuing_authority"]["name"],
        "issuing_authority_region_code": body["issuing_authority"]["region_code"],
        "registered_on": body["registered_on"],
    }


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _outbox(env: FedEnv) -> list[tuple[int, str, bytes]]:
    with reg.connect(env.db, read_only=True) as conn:
        return [
            (r[0], r[1], bytes(r[2]))
            for r in conn.execute("SELECT seq, type, value FROM outbox ORDER BY seq").fetchall()
        ]


def _rejects(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in rejects_path(path).read_text().splitlines()]


def test_jsonl_rows_become_registered_events_in_order(
    store: Store, env: FedEnv, tmp_path: Path
) -> None:
    import_file(store, _jsonl(tmp_path / "rows.jsonl", [registration(i) for i in range(1, 11)]))
    assert [(seq, kind) for seq, kind, _ in _outbox(env)] == [
        (i, "registered") for i in range(1, 11)
    ]


def test_imported_events_are_valid_and_name_the_import_actor(
    store: Store, env: FedEnv, tmp_path: Path
) -> None:
    import_file(store, _jsonl(tmp_path / "rows.jsonl", [registration(1)]))
    [(_, _, value)] = _outbox(env)
    event = parse_event(value)
    assert (event.actor, event.cert_no, event.record_version) == ("import", cert_no(1), 1)


def test_imported_events_never_carry_the_id_number(
    store: Store, env: FedEnv, tmp_path: Path
) -> None:
    import_file(store, _jsonl(tmp_path / "rows.jsonl", [registration(1)]))
    [(_, _, value)] = _outbox(env)
    assert id_number(1).encode() not in value


def test_csv_rows_are_imported(store: Store, tmp_path: Path) -> None:
    rows = [_csv_row(registration(i)) for i in range(1, 6)]
    rows[2]["scopes"] = "内科专业;外科专业"
    summary = import_file(store, _csv(tmp_path / "rows.csv", rows))
    assert (summary.imported, summary.rejected) == (5, 0)


def test_csv_scopes_are_split_on_semicolons(store: Store, env: FedEnv, tmp_path: Path) -> None:
    row = _csv_row(registration(1)) | {"scopes": "内科专业; 外科专业"}
    import_file(store, _csv(tmp_path / "rows.csv", [row]))
    [(_, _, value)] = _outbox(env)
    assert parse_event(value).record.scopes == ("内科专业", "外科专业")


def test_bad_rows_go_to_the_rejects_file_with_line_and_reason(store: Store, tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "rows.jsonl",
        [
            registration(1),
            registration(2, gender="female"),
            "{not json",
            registration(3),
            registration(
                4, primary_institution={"org_code": "X", "name": "n", "region_code": "500103"}
            ),
        ],
    )
    import_file(store, path)
    assert [
        (r["line"], r["details"][0]["field"] if r["details"] else None) for r in _rejects(path)
    ] == [(2, "gender"), (3, None), (5, "primary_institution.org_code")]


def test_bad_rows_do_not_stop_the_import(store: Store, tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "rows.jsonl",
        [registration(1), "[]", registration(2, cert_no="1"), registration(3)],
    )
    summary = import_file(store, path)
    assert (summary.imported, summary.rejected) == (2, 2)


def test_csv_rejects_name_the_line_of_the_row(store: Store, tmp_path: Path) -> None:
    rows = [_csv_row(registration(i)) for i in range(1, 4)]
    rows[1]["registered_on"] = "15/03/2020"
    path = _csv(tmp_path / "rows.csv", rows)
    import_file(store, path)
    assert [(r["line"], r["details"][0]["field"]) for r in _rejects(path)] == [(3, "registered_on")]


def test_a_second_live_registration_of_one_id_number_is_a_reject_with_its_line(
    store: Store, tmp_path: Path
) -> None:
    rows = [_csv_row(registration(1)), _csv_row(registration(2, id_number=id_number(1)))]
    path = _csv(tmp_path / "rows.csv", rows)
    summary = import_file(store, path)
    assert (summary.imported, summary.rejected) == (1, 1)
    [reject] = _rejects(path)
    assert (reject["line"], reject["cert_no"]) == (3, cert_no(2))
    assert cert_no(1) in reject["reason"]


def test_an_import_row_dated_in_the_future_is_a_reject_with_its_line(
    store: Store, tmp_path: Path
) -> None:
    rows = [_csv_row(registration(1)), _csv_row(registration(2, registered_on="9999-12-31"))]
    path = _csv(tmp_path / "rows.csv", rows)
    import_file(store, path)
    assert [(r["line"], r["details"][0]["field"]) for r in _rejects(path)] == [(3, "registered_on")]


def test_csv_with_a_wrong_header_is_refused_as_a_whole(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("cert_no,name\n500000000000001,王\n", encoding="utf-8")
    assert (
        main(
            [
                "import",
                "--config",
                str(_config(store)),
                "--province",
                "50",
                "--no-progress",
                str(path),
            ]
        )
        == 1
    )


def _config(store: Store) -> Path:
    return store.path.parent.parent / "federation.toml"


def test_re_running_an_import_imports_nothing_twice(
    store: Store, env: FedEnv, tmp_path: Path
) -> None:
    path = _jsonl(tmp_path / "rows.jsonl", [registration(i) for i in range(1, 21)])
    import_file(store, path)
    second = import_file(store, path)
    assert (second.imported, second.skipped, len(_outbox(env))) == (0, 20, 20)


def test_duplicate_cert_no_within_a_file_is_skipped(store: Store, tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "rows.jsonl", [registration(1), registration(1)])
    summary = import_file(store, path)
    assert (summary.imported, summary.skipped) == (1, 1)


def test_import_continues_the_seq_of_api_writes(store: Store, env: FedEnv, tmp_path: Path) -> None:
    import_file(store, _jsonl(tmp_path / "a.jsonl", [registration(1), registration(2)]))
    import_file(store, _jsonl(tmp_path / "b.jsonl", [registration(3)]))
    assert [seq for seq, _, _ in _outbox(env)] == [1, 2, 3]


def test_cli_import_prints_a_summary(
    env: FedEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _jsonl(tmp_path / "rows.jsonl", [registration(1), "oops"])
    code = main(
        ["import", "--config", str(env.config), "--province", "50", "--no-progress", str(path)]
    )
    out = capsys.readouterr().out
    assert code == 0 and "imported 1, skipped 0" in out and "rejected 1" in out


def _generate_and_import(env: FedEnv, out: Path, *extra: str) -> Path:
    """`province-node generate` 300 rows into out, then `import` them; the rejects file."""
    common = ["--config", str(env.config), "--province", "50"]
    assert main(["generate", *common, "--records", "300", "--out", str(out), *extra]) == 0
    assert main(["import", *common, "--no-progress", str(out)]) == 0
    return rejects_path(out)


def test_generated_rows_import_without_rejects(env: FedEnv, tmp_path: Path) -> None:
    assert _generate_and_import(env, tmp_path / "gen.jsonl", "--seed", "3").read_text() == ""


def test_generated_csv_imports_without_rejects(env: FedEnv, tmp_path: Path) -> None:
    assert _generate_and_import(env, tmp_path / "gen.csv").read_text() == ""
