"""JSON Schema files generated from the models; `python -m schemas.jsonschema` rewrites them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from schemas.events import EVENT_ADAPTER, Heartbeat
from schemas.record import Record

SCHEMA_DIR = Path(__file__).resolve().parent
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _finish(schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": _DIALECT, **schema}


def generate() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of the event union, the heartbeat and the record, by name."""
    event = EVENT_ADAPTER.json_schema()
    event.setdefault("title", "Event")
    return {
        "event": _finish(event),
        "heartbeat": _finish(Heartbeat.model_json_schema()),
        "record": _finish(Record.model_json_schema()),
    }


def render(schema: dict[str, Any]) -> str:
    """Return the committed text form of one schema."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path_for(name: str, directory: Path = SCHEMA_DIR) -> Path:
    """Return where the schema called name is written."""
    return directory / f"{name}.schema.json"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file into directory and return their paths."""
    written = []
    for name, schema in generate().items():
        path = path_for(name, directory)
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(written_path)
