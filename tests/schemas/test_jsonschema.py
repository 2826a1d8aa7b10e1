"""The committed JSON Schema files are exactly what the models generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import jsonschema
from schemas.vocab import EventType

NAMES = ["event", "heartbeat", "record"]


@pytest.mark.parametrize("name", NAMES)
def test_committed_schema_matches_the_models(name: str) -> None:
    path = jsonschema.path_for(name)
    expected = jsonschema.render(jsonschema.generate()[name])
    on_disk = path.read_text(encoding="utf-8") if path.exists() else None
    assert on_disk == expected, (
        f"{path} is out of date with the models; run `python -m schemas.jsonschema` and commit it"
    )


def test_write_produces_the_committed_files(tmp_path: Path) -> None:
    written = jsonschema.write(tmp_path)
    assert [p.read_bytes() for p in written] == [jsonschema.path_for(n).read_bytes() for n in NAMES]


def test_event_schema_dispatches_on_every_type() -> None:
    event = json.loads(jsonschema.path_for("event").read_text(encoding="utf-8"))
    assert set(event["discriminator"]["mapping"]) == set(EventType)


def test_schema_files_keep_chinese_unescaped() -> None:
    assert "执业证书编码" in jsonschema.path_for("record").read_text(encoding="utf-8")
