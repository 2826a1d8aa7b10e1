"""批量导入: GET/POST /import (a CSV upload, registrar only), GET /import/{job} (its progress and
outcome), GET /import/{job}/progress (JSON, for import.js) and GET /import/{job}/rejects.csv.

The upload is streamed to disk in chunks, never held in memory, under its own limit
(NodeSettings.max_upload_bytes; the 1 MiB body limit is the API's). The CSRF token comes as
the form's first field, before the file (or as X-CSRF-Token), and is checked before a byte of
the file is written. A file whose header is wrong is refused on the form (422) and never
imported; a good one becomes a background job (import_jobs) and the browser goes to its page.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, BinaryIO

import orjson
from aiohttp import BodyPartReader, web
from pydantic import Field

from province_node.errors import NotFound, PayloadTooLarge
from province_node.importer import CSV_OPTIONAL_COLUMNS, header_problems, read_csv_header
from province_node.requests import CSV_COLUMNS
from province_node.web.appkeys import IMPORT_JOBS, REGISTRY, SETTINGS
from province_node.web.console import claims, field_messages
from province_node.web.console.access import (
    CSRF_FIELD,
    CSRF_HEADER,
    check_csrf,
    check_origin,
    registrar,
)
from province_node.web.console.import_jobs import ImportJob, ImportJobs, JobState, new_job_id
from province_node.web.console.operations import (
    FORM_FIELDS,
    READ_ONLY,
    REGISTRAR_ONLY,
    SIGN_IN,
    SIGNED_OUT,
    console_operation,
    json_answer,
    page,
)
from province_node.web.console.render import render_page
from schemas.openapi import Answer, Param, Response, Seq, inline_enum
from schemas.page_route import MULTIPART, Route, html_response, see_other
from schemas.timestamps import beijing_time, format_utc, utc_now

CHUNK = 256 * 1024
# Rejects read and parsed per trip to a thread (about 100 KiB of CSV).
REJECT_LINES = 1000
FILE_FIELD = "file"
# Excel opens a CSV as UTF-8 only when it starts with the byte order mark.
BOM = "\ufeff"
# A cell Excel would read as a formula is written as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Refused(Exception):
    """An upload refused on the form: the message beside the file field and the status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB"


async def _form_page(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    limit = request.app[SETTINGS].max_upload_bytes
    # Reading the jobs' state files is disk work: off the event loop.
    recent = await asyncio.to_thread(request.app[IMPORT_JOBS].recent)
    return render_page(
        request,
        "import.html",
        {
            "nav": "import",
            "errors": {FILE_FIELD: error} if error else {},
            "limit": _mib(limit),
            "columns": CSV_COLUMNS,
            "optional_columns": CSV_OPTIONAL_COLUMNS,
            "idempotency_key": claims.new_key(),
            "jobs": [(job, beijing_time(job.started_at)) for job in recent],
        },
        status=status,
    )


async def import_page(request: web.Request) -> web.StreamResponse:
    """GET /import: the upload form and the recent imports."""
    registrar(request)
    return await _form_page(request)


async def stream_to(part: BodyPartReader, path: Path, limit: int) -> int:
    """Write a file part to path chunk by chunk; its size, or PayloadTooLarge past limit."""
    size = 0
    # The file holds ID numbers: the owner's alone (0600), whatever the umask. Disk writes run
    # off the event loop: a 200 MiB upload must not stall the node's other requests.
    fd = await asyncio.to_thread(os.open, path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"upload exceeds {limit} bytes")
            await asyncio.to_thread(out.write, chunk)
    return size


async def upload(request: web.Request) -> web.StreamResponse:
    """POST /import (multipart: csrf, idempotency_key, then file): 303 to the new job's page
    (to the job a form with the same key already started, the file unread), or the form again
    with the reason beside the file field (413 too large, 422 not a usable CSV). A request
    without a key (a script's) is never matched to an earlier one."""
    session = registrar(request)
    check_origin(request)
    limit = request.app[SETTINGS].max_upload_bytes
    if request.content_length is not None and request.content_length > limit + CHUNK:
        # Known too large before reading it: refused at once (the multipart framing is small).
        return await _too_large(request, limit)
    jobs = request.app[IMPORT_JOBS]
    presented = request.headers.get(CSRF_HEADER)
    reader = await request.multipart()
    job_id = new_job_id()
    stored: tuple[str, int, Path] | None = None
    key: tuple[str, str] | None = None
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == CSRF_FIELD:
                presented = (await part.read_chunk(1024)).decode("utf-8", "replace")
            elif part.name == claims.FIELD:
                check_csrf(session, presented)
                key = claims.keyed(
                    session, (await part.read_chunk(1024)).decode("utf-8", "replace")
                )
                if (earlier := jobs.started_by(*key)) is not None:
                    # The same form sent again: its job, not a second one over the same file.
                    raise web.HTTPSeeOther(f"/import/{earlier}")
            elif part.name == FILE_FIELD and stored is None:
                check_csrf(session, presented)
                if not part.filename:
                    await part.release()
                    continue
                path = jobs.upload_path(job_id)
                stored = (part.filename, await stream_to(part, path, limit), path)
            else:
                await part.release()
        check_csrf(session, presented)
        if stored is None or stored[1] == 0:
            raise _Refused("请选择要导入的 CSV 文件（文件不能为空）。", 422)
        problem = field_messages.csv_header(*header_problems(read_csv_header(stored[2])))
        if problem is not None:
            raise _Refused(problem, 422)
    except PayloadTooLarge:
        jobs.discard(job_id)
        return await _too_large(request, limit)
    except _Refused as refused:
        jobs.discard(job_id)
        return await _form_page(request, error=refused.message, status=refused.status)
    except web.HTTPSeeOther:
        # Nothing of this upload was stored (the key comes before the file).
        raise
    except BaseException:
        jobs.discard(job_id)
        raise
    name, size, _ = stored
    job = ImportJob(job_id, Path(name).name[:200], size, format_utc(utc_now()))
    jobs.start(job, request.app[REGISTRY], key)
    raise web.HTTPSeeOther(f"/import/{job_id}")


async def _too_large(request: web.Request, limit: int) -> web.Response:
    return await _form_page(
        request,
        error=f"文件超过 {_mib(limit)} 的上限，未导入。请把文件拆分成几个较小的文件分别导入。",
        status=413,
    )


def _job(request: web.Request) -> tuple[ImportJobs, ImportJob]:
    registrar(request)
    jobs = request.app[IMPORT_JOBS]
    job = jobs.get(request.match_info["job"])
    if job is None:
        raise NotFound(f"no import job {request.match_info['job']}")
    return jobs, job


async def job_page(request: web.Request) -> web.StreamResponse:
    """GET /import/{job}: the job's progress (refreshing itself while it runs) or outcome."""
    _, job = _job(request)
    return render_page(request, "import_job.html", {"nav": "import", "job": job})


async def job_progress(request: web.Request) -> web.StreamResponse:
    """GET /import/{job}/progress: the job's state and counts (import.js polls it)."""
    _, job = _job(request)
    response = json_answer(ImportProgress.model_validate(job.progress()))
    response.headers["Cache-Control"] = "no-store"
    return response


class ImportProgress(Answer):
    """An import job now: its state, how far through the file, and what it did so far."""

    state: Annotated[JobState, inline_enum(JobState)]
    bytes_read: Seq
    total_bytes: Seq
    percent: Annotated[int, Field(ge=0, le=100)]
    imported: Seq
    skipped: Seq
    rejected: Seq


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def reject_row(raw: bytes) -> list[str]:
    """One line of a rejects file as a CSV row: line number, cert_no, the reason in Chinese.
    Both text cells are guarded against formulas (a reason may quote the row's own text)."""
    record = orjson.loads(raw)
    reason = field_messages.refusal(
        str(record.get("reason", "")), list(record.get("details") or [])
    )
    return [str(record.get("line", "")), _cell(str(record.get("cert_no", ""))), _cell(reason)]


def _read_lines(lines: BinaryIO) -> list[list[str]]:
    """The next REJECT_LINES lines of an open rejects file as CSV rows ([] at its end)."""
    return [reject_row(raw) for raw in itertools.islice(lines, REJECT_LINES)]


async def reject_rows(path: Path) -> AsyncIterator[list[list[str]]]:
    """The rejects file of a job as CSV rows, a chunk at a time; the reading and parsing run
    off the event loop (a job may have 100k rejects)."""
    try:
        lines = await asyncio.to_thread(path.open, "rb")
    except FileNotFoundError:
        return
    try:
        while rows := await asyncio.to_thread(_read_lines, lines):
            yield rows
    finally:
        lines.close()


async def rejects_csv(request: web.Request) -> web.StreamResponse:
    """GET /import/{job}/rejects.csv: the rejected rows, streamed (UTF-8 with BOM, for Excel)."""
    jobs, job = _job(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="rejects-{job.id}.csv"',
            # The file may name certificates of people: no cache keeps it.
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(["行号", "执业证书编码", "原因"])
    async for rows in reject_rows(jobs.rejects_path(job.id)):
        writer.writerows(rows)
        await response.write(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()
    await response.write(buffer.getvalue().encode("utf-8"))
    await response.write_eof()
    return response


def install_jobs(app: web.Application) -> None:
    """The import jobs: they live beside the registry file and stop with the node."""
    jobs = ImportJobs(app[SETTINGS].db_path.parent / "imports")
    app[IMPORT_JOBS] = jobs

    async def stop_jobs(_: web.Application) -> None:
        await jobs.stop()

    # on_shutdown runs before the registry stops (cleanup): a running job is saved as
    # interrupted while its writes can still finish.
    app.on_shutdown.append(stop_jobs)


_JOB = Param("job", "path", str, "the job's id (as the upload's redirect named it)")
_NO_JOB = html_response(404, "No such import job")

ROUTES = (
    Route(
        console_operation(
            "GET",
            "/import",
            "console_import_form",
            "批量导入: the CSV upload form and the recent imports (registrar only)",
            [page("The form"), SIGN_IN, READ_ONLY],
        ),
        import_page,
    ),
    Route(
        console_operation(
            "POST",
            "/import",
            "console_import",
            "Upload a CSV (streamed to disk under max_upload_bytes): it is imported in the "
            "background",
            [
                see_other("Accepted: to the job's page"),
                SIGNED_OUT,
                REGISTRAR_ONLY,
                html_response(413, "The form: the file exceeds the upload limit"),
                html_response(422, "The form: no file, or its header is not the import's"),
            ],
            # The CSRF token comes first, so it is checked before a byte of the file is written.
            body={
                "type": "object",
                "properties": {
                    **{
                        name: {"type": "string", "description": description}
                        for name, description in FORM_FIELDS.items()
                    },
                    FILE_FIELD: {
                        "type": "string",
                        "contentMediaType": "text/csv",
                        "description": "the CSV file (UTF-8, the import's columns)",
                    },
                },
                "required": [FILE_FIELD],
            },
            body_media_type=MULTIPART,
        ),
        upload,
    ),
    Route(
        console_operation(
            "GET",
            "/import/{job}",
            "console_import_job",
            "An import's progress (refreshed by import.js while it runs) and outcome",
            [page(), SIGN_IN, READ_ONLY, _NO_JOB],
            params=[_JOB],
        ),
        job_page,
    ),
    Route(
        console_operation(
            "GET",
            "/import/{job}/progress",
            "console_import_progress",
            "An import's state and counts (import.js asks every second)",
            [
                Response(200, "The job now (Cache-Control: no-store)", ImportProgress),
                SIGN_IN,
                READ_ONLY,
                _NO_JOB,
            ],
            params=[_JOB],
        ),
        job_progress,
    ),
    Route(
        console_operation(
            "GET",
            "/import/{job}/rejects.csv",
            "console_import_rejects",
            "An import's rejected rows: line, cert_no and the reason in Chinese",
            [
                Response(
                    200, "UTF-8 with a byte order mark, for Excel", {"type": "string"}, "text/csv"
                ),
                SIGN_IN,
                READ_ONLY,
                _NO_JOB,
            ],
            params=[_JOB],
        ),
        rejects_csv,
    ),
)
