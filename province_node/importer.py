"""Bulk import of registrations from CSV or JSON Lines, through the same outbox as the API.

One row pipeline (ImportRun: read, parse, batch, count, reject) and two ways to commit its
batches: `import_file` with a Store it opened (the `province-node import` command), and
`import_through` with the running node's Registry (the console's upload, province_node.web
.console.import_jobs).

Each good row becomes a `registered` event (actor "import"); a row whose cert_no is already in
the registry is skipped, which is what makes a re-run import nothing twice; a bad row goes to
PATH.rejects.jsonl with its line number and reason and the import carries on.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from province_node.errors import ImportFileError, NodeError, TooManyRequests, Unavailable
from province_node.registry import Outcome, Registry, Skipped, Store, WriteContext
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


def header_problems(header: Sequence[str]) -> tuple[list[str], list[str]]:
    """The CSV header's missing and unknown columns (both empty: the header is right)."""
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS and c not in CSV_OPTIONAL_COLUMNS]
    return missing, unknown


def read_csv_header(path: Path) -> list[str]:
    """The first row of a CSV file, cells stripped (empty for an empty file)."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as text:
        first = next(csv.reader(text), [])
    return [h.strip() for h in first]


def _csv_records(reader: Any) -> Iterator[Row]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    missing, unknown = header_problems(header)
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


Batch = list[tuple[int, RegistrationRequest]]


def _job(req: RegistrationRequest) -> Callable[[WriteContext], Any]:
    def run(ctx: WriteContext) -> Any:
        return ctx.import_row(req)

    return run


def batch_jobs(batch: Batch) -> list[Callable[[WriteContext], Any]]:
    """The registry writes of a batch: one import_row each."""
    return [_job(req) for _, req in batch]


# The registry's answers that say it could not write at all (not that a row is bad): the import
# stops there, rather than reject every row after.
_STOPPING = (Unavailable,)


class ImportRun:
    """One import's reading, parsing, batching and counting; the caller commits each batch.

    `province-node import` commits batches with an open Store (import_file), the console's upload
    through the running node's Registry (import_through): the same rows, the same rejects, the
    same counts. Use as a context manager (it holds the file and the rejects file open).
    """

    def __init__(self, path: Path, *, batch_size: int = DEFAULT_BATCH) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            raise ImportFileError(f"{self.path}: {exc.strerror}") from None
        self.total_bytes = os.fstat(raw.fileno()).st_size
        self._counter = _CountingReader(raw)
        self._stream = io.BufferedReader(self._counter, buffer_size=1 << 20)
        self.rejects_path = rejects_path(self.path)
        # Rejected rows may name ID numbers: the file is the owner's alone (0600).
        fd = os.open(self.rejects_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        # Closed by close(), with the import file.
        self._out = open(fd, "wb")
        self._started = time.perf_counter()
        self.imported = self.skipped = self.rejected = 0

    def __enter__(self) -> ImportRun:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the import file and the rejects file."""
        self._stream.close()
        self._out.close()

    @property
    def bytes_read(self) -> int:
        """How far into the file the rows read so far reach (for progress)."""
        return self._counter.count

    def _reject(self, r: Reject) -> None:
        self.rejected += 1
        record: dict[str, Any] = {"line": r.line, "reason": r.reason, "details": r.details}
        if r.cert_no:
            record["cert_no"] = r.cert_no
        self._out.write(orjson.dumps(record) + b"\n")

    def batches(self) -> Iterator[Batch]:
        """The rows that parse, batch_size at a time; the others go to the rejects file."""
        batch: Batch = []
        for line, item in read_rows(self.path, self._stream):
            if isinstance(item, Reject):
                self._reject(item)
                continue
            try:
                req = parse_registration(item)
            except NodeError as exc:
                cert_no = item.get("cert_no")
                self._reject(
                    Reject(
                        line,
                        exc.message,
                        exc.details,
                        cert_no if isinstance(cert_no, str) else None,
                    )
                )
                continue
            batch.append((line, req))
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
        self._out.flush()

    def settle(self, batch: Batch, outcomes: Sequence[Outcome[Any]]) -> None:
        """Count a committed batch's outcomes; raise RegsyncError if the registry could not
        write (nothing of the batch is counted then, and a re-run imports it)."""
        stop = next((o.error for o in outcomes if isinstance(o.error, _STOPPING)), None)
        if stop is not None:
            raise RegsyncError(f"import stopped: {stop}")
        for (line, req), outcome in zip(batch, outcomes, strict=True):
            if outcome.error is None:
                self.imported += 1
            elif isinstance(outcome.error, Skipped):
                self.skipped += 1
            elif isinstance(outcome.error, NodeError):
                self._reject(
                    Reject(line, outcome.error.message, outcome.error.details, req.cert_no)
                )
            else:
                raise outcome.error
        self._out.flush()

    def summary(self) -> ImportSummary:
        """What the import did so far."""
        return ImportSummary(
            self.imported,
            self.skipped,
            self.rejected,
            time.perf_counter() - self._started,
            self.rejects_path,
        )


def import_file(
    store: Store,
    path: Path,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import every row of path into the open store (`province-node import`)."""
    with ImportRun(path, batch_size=batch_size) as run:
        for batch in run.batches():
            outcomes, commit = store.run_group(batch_jobs(batch))
            if commit is None:
                error = next((o.error for o in outcomes if o.error is not None), None)
                raise RegsyncError(f"import stopped: {error}")
            run.settle(batch, outcomes)
            if progress is not None:
                progress(run.bytes_read)
        if progress is not None:
            progress(run.bytes_read)
        return run.summary()


# The running node's write queue may be full of the API's writes: a row refused for that was not
# tried, and is tried again after this pause.
QUEUE_FULL_PAUSE_S = 0.5


async def _write_batch(registry: Registry, batch: Batch) -> list[Outcome[Any]]:
    jobs = batch_jobs(batch)
    outcomes: list[Outcome[Any] | None] = [None] * len(jobs)
    todo = list(range(len(jobs)))
    while todo:
        results = await asyncio.gather(
            *(registry.write(jobs[i]) for i in todo), return_exceptions=True
        )
        retry = []
        for i, result in zip(todo, results, strict=True):
            if isinstance(result, TooManyRequests):
                retry.append(i)
            elif isinstance(result, BaseException):
                outcomes[i] = Outcome(error=result)
            else:
                outcomes[i] = Outcome(value=result)
        todo = retry
        if todo:
            await asyncio.sleep(QUEUE_FULL_PAUSE_S)
    return [o for o in outcomes if o is not None]


async def import_through(
    registry: Registry, run: ImportRun, progress: Progress | None = None
) -> ImportSummary:
    """Import every row of an open run through the running node's registry writer (the
    console's upload): its group commit joins the rows with the API's writes. Reading and
    parsing run off the event loop."""
    batches = run.batches()
    while True:
        batch = await asyncio.to_thread(next, batches, None)
        if batch is None:
            break
        run.settle(batch, await _write_batch(registry, batch))
        if progress is not None:
            progress(run.bytes_read)
    if progress is not None:
        progress(run.bytes_read)
    return run.summary()
