"""Bulk import of registrations from CSV or JSON Lines, through the same outbox as the API.

Each good row becomes a `registered` event (actor "import"); a row whose cert_no is already in
the registry is skipped, which is what makes a re-run import nothing twice; a bad row goes to
PATH.rejects.jsonl with its line number and reason and the import carries on.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from province_node.errors import ImportFileError, NodeError
from province_node.registry import Skipped, Store, WriteContext
from province_node.requests import CSV_COLUMNS, RegistrationRequest, parse_registration
from schemas.errors import RegsyncError

# Optional, for transfer-ins: both or neither.
CSV_OPTIONAL_COLUMNS = ("transfer_from_province", "transfer_from_cert_no")
_PLAIN = ("cert_no", "name", "gender", "id_number", "level", "category", "registered_on")

DEFAULT_BATCH = 2000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Reject:
    """A row that could not be imported."""

    line: int
    reason: str
    details: list[dict[str, str]]
    cert_no: str | None = None


@dataclass(frozen=True)
class ImportSummary:
    """What an import did."""

    imported: int
    skipped: int
    rejected: int
    seconds: float
    rejects_path: Path

    @property
    def rows(self) -> int:
        """Rows read, good or bad."""
        return self.imported + self.skipped + self.rejected

    @property
    def rows_per_second(self) -> float:
        """Throughput over every row read."""
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)


def rejects_path(path: Path) -> Path:
    """Where the bad rows of an import file go: PATH.rejects.jsonl."""
    return path.with_name(path.name + ".rejects.jsonl")


class _CountingReader(io.RawIOBase):
    """Counts bytes read so progress can follow the file through any decoding layer."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


Row = tuple[int, dict[str, Any] | Reject]


def _jsonl_rows(stream: IO[bytes]) -> Iterator[Row]:
    for line_no, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            body = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield line_no, Reject(line_no, f"malformed JSON: {exc}", [])
            continue
        if not isinstance(body, dict):
            yield line_no, Reject(line_no, "a line must hold one JSON object", [])
            continue
        yield line_no, body


def _csv_rows(stream: IO[bytes]) -> Iterator[Row]:
    # surrogateescape keeps a row with broken UTF-8 readable, so only that row is rejected.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield from _csv_records(csv.reader(text))
    finally:
        # Detach so that dropping the wrapper does not close the caller's stream.
        text.detach()


def _csv_records(reader: Any) -> Iterator[Row]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS and c not in CSV_OPTIONAL_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing columns " + ", ".join(missing))
        if unknown:
            parts.append("unknown columns " + ", ".join(unknown))
        raise ImportFileError(f"CSV header: {'; '.join(parts)} (expected {','.join(CSV_COLUMNS)})")
    width = len(header)
    line_no = reader.line_num + 1
    for cells in reader:
        start, line_no = line_no, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > width:
            yield start, Reject(start, f"{len(cells)} cells but the header has {width}", [])
            continue
        row = dict(zip(header, cells, strict=False))
        if any(_has_surrogates(c) for c in cells):
            yield start, Reject(start, "not valid UTF-8", [], row.get("cert_no") or None)
            continue
        yield start, _csv_body(row)


def _has_surrogates(text: str) -> bool:
    return not text.isascii() and any("\udc80" <= ch <= "\udcff" for ch in text)


def _csv_body(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a POST /v1/registrations body; empty cells are absent fields."""

    def cell(key: str) -> str | None:
        value = (row.get(key) or "").strip()
        return value or None

    body: dict[str, Any] = {k: v for k in _PLAIN if (v := cell(k)) is not None}
    scopes = cell("scopes")
    if scopes is not None:
        body["scopes"] = [s.strip() for s in scopes.split(";") if s.strip()]
    for target, prefix, keys in (
        ("primary_institution", "primary_", ("org_code", "org_name", "region_code")),
        ("issuing_authority", "issuing_authority_", ("name", "region_code")),
    ):
        fields = {}
        for key in keys:
            value = cell(prefix + key)
            if value is not None:
                fields["name" if key == "org_name" else key] = value
        if fields:
            body[target] = fields
    province, cert_no = cell("transfer_from_province"), cell("transfer_from_cert_no")
    if province or cert_no:
        body["transfer_from"] = {
            k: v for k, v in (("province", province), ("cert_no", cert_no)) if v is not None
        }
    return body


def read_rows(path: Path, stream: IO[bytes]) -> Iterator[Row]:
    """(line number, body or Reject) for each non-blank row; CSV if the name ends in .csv."""
    if path.suffix.lower() == ".csv":
        return _csv_rows(stream)
    return _jsonl_rows(stream)


def _job(req: RegistrationRequest) -> Callable[[WriteContext], Any]:
    def run(ctx: WriteContext) -> Any:
        return ctx.import_row(req)

    return run


def import_file(
    store: Store,
    path: Path,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import every row of path into the open store; see the module docstring."""
    path = Path(path)
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from None
    counter = _CountingReader(raw)
    reject_file = rejects_path(path)
    started = time.perf_counter()
    imported = skipped = rejected = 0
    # Rejected rows may name ID numbers: the file is the owner's alone (0600).
    fd = os.open(reject_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with io.BufferedReader(counter, buffer_size=1 << 20) as stream, open(fd, "wb") as out:

        def reject(r: Reject) -> None:
            nonlocal rejected
            rejected += 1
            record: dict[str, Any] = {"line": r.line, "reason": r.reason, "details": r.details}
            if r.cert_no:
                record["cert_no"] = r.cert_no
            out.write(orjson.dumps(record) + b"\n")

        batch: list[tuple[int, RegistrationRequest]] = []

        def flush() -> None:
            nonlocal imported, skipped
            if not batch:
                return
            outcomes, commit = store.run_group([_job(req) for _, req in batch])
            if commit is None:
                error = next((o.error for o in outcomes if o.error is not None), None)
                raise RegsyncError(f"import stopped: {error}")
            for (line, req), outcome in zip(batch, outcomes, strict=True):
                if outcome.error is None:
                    imported += 1
                elif isinstance(outcome.error, Skipped):
                    skipped += 1
                elif isinstance(outcome.error, NodeError):
                    reject(Reject(line, outcome.error.message, outcome.error.details, req.cert_no))
                else:
                    raise outcome.error
            batch.clear()
            if progress is not None:
                progress(counter.count)

        for line, item in read_rows(path, stream):
            if isinstance(item, Reject):
                reject(item)
                continue
            try:
                req = parse_registration(item)
            except NodeError as exc:
                cert_no = item.get("cert_no")
                reject(
                    Reject(
                        line,
                        exc.message,
                        exc.details,
                        cert_no if isinstance(cert_no, str) else None,
                    )
                )
                continue
            batch.append((line, req))
            if len(batch) >= batch_size:
                flush()
        flush()
        if progress is not None:
            progress(counter.count)
    return ImportSummary(imported, skipped, rejected, time.perf_counter() - started, reject_file)
