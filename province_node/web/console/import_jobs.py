"""Bulk imports uploaded in the console: each a job that runs in the background through the
node's running registry (province_node.importer.import_through), with its state on disk.

A job lives in `imports/<id>/` beside the registry file: `upload.csv` (the uploaded file, as
streamed in), `upload.csv.rejects.jsonl` (the importer's rejects) and `job.json` (state and
counts, rewritten after every batch). So a job survives a page reload, and a node restart: a
job that was running when the node stopped is read back as interrupted (nothing restarts it on
its own; uploading the same file again is safe, rows already registered are skipped).

`upload.csv` holds every row in full, ID numbers included, and is needed only while its job
runs: it is deleted when the job ends (done, failed, or interrupted by the node stopping).
When a job ends, the directories of jobs whose state last changed more than `KEEP_DAYS` ago
are deleted too (so the import page reads a bounded number of job files), and so is the upload
of a job a crash left behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from province_node.importer import ImportRun, import_through
from province_node.registry import Registry
from schemas.timestamps import format_utc, utc_now

log = logging.getLogger(__name__)

UPLOAD_NAME = "upload.csv"
STATE_NAME = "job.json"
# A job id names a directory: only ids this module makes are looked up (no path tricks).
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")
# Rows per batch through the registry writer: its group limit, so one batch is one commit
# when nothing else is queued, and the API's writes are never more than a batch behind.
BATCH_ROWS = 500
# The newest jobs the import page lists.
RECENT = 10
# The upload forms' keys remembered (the oldest forgotten first): far more than a day's uploads.
MAX_KEYS = 10_000
# A job's directory is deleted this long after its last change: the rejects are wanted in the
# days after an import, not for months (and every directory kept is read by the import page).
KEEP_DAYS = 30


class JobState(StrEnum):
    """Where a job stands."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(slots=True)
class ImportJob:
    """One uploaded import: what was uploaded, how far it got, what it did."""

    id: str
    file_name: str
    total_bytes: int
    started_at: str
    state: JobState = JobState.RUNNING
    bytes_read: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    finished_at: str | None = None
    # Why a failed job stopped, for the operator (an error id of the node's log).
    error_id: str | None = None

    @property
    def running(self) -> bool:
        """Whether the job is still importing."""
        return self.state is JobState.RUNNING

    @property
    def percent(self) -> int:
        """How far through the file, 0..100."""
        if self.total_bytes <= 0:
            return 100 if not self.running else 0
        return min(100, self.bytes_read * 100 // self.total_bytes)

    def progress(self) -> dict[str, Any]:
        """The job as GET /import/{job}/progress answers it."""
        return {
            "state": self.state.value,
            "bytes_read": self.bytes_read,
            "total_bytes": self.total_bytes,
            "percent": self.percent,
            "imported": self.imported,
            "skipped": self.skipped,
            "rejected": self.rejected,
        }


def new_job_id() -> str:
    """A fresh job id (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def valid_job_id(job_id: str) -> bool:
    """Whether job_id has the shape of an id new_job_id makes."""
    return bool(_JOB_ID.match(job_id))


class ImportJobs:
    """The node's import jobs: in memory while it runs, on disk under `root` always."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._jobs: dict[str, ImportJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # (client, the upload form's idempotency_key) → the job it started: a second submit of
        # the same form goes to that job instead of starting another over the same file. In
        # memory, like the sessions the clients are of (a restart ends both).
        self._keys: OrderedDict[tuple[str, str], str] = OrderedDict()

    def job_dir(self, job_id: str) -> Path:
        """The directory of a job (its id checked)."""
        if not valid_job_id(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / job_id

    def upload_path(self, job_id: str) -> Path:
        """Where a job's upload is streamed to; the directory is made owner-only (the file
        holds ID numbers)."""
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=False, mode=0o700)
        os.chmod(folder, 0o700)
        return folder / UPLOAD_NAME

    def discard(self, job_id: str) -> None:
        """Remove an upload that will not be imported (too large, wrong header)."""
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def started_by(self, client: str, key: str) -> str | None:
        """The id of the job a form with this key of this client started, if one did."""
        return self._keys.get((client, key))

    def start(
        self, job: ImportJob, registry: Registry, key: tuple[str, str] | None = None
    ) -> None:
        """Run the job's import in the background (`key`: the form's (client, key), which
        started_by then answers with this job)."""
        if key is not None:
            self._keys[key] = job.id
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        self._jobs[job.id] = job
        self.save(job)
        task = asyncio.create_task(self._run(job, registry), name=f"import-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def get(self, job_id: str) -> ImportJob | None:
        """A job by id: the running node's, or as its last state on disk says (a job the node
        is not running but the file says is running was interrupted by a stop)."""
        if not valid_job_id(job_id):
            return None
        job = self._jobs.get(job_id)
        if job is not None:
            return job
        return self._load(self.job_dir(job_id) / STATE_NAME)

    def recent(self, limit: int = RECENT) -> list[ImportJob]:
        """The newest jobs first."""
        if not self.root.is_dir():
            return []
        jobs = [
            job
            for state in self.root.glob(f"*/{STATE_NAME}")
            if (job := self.get(state.parent.name)) is not None
        ]
        jobs.sort(key=lambda j: j.started_at, reverse=True)
        return jobs[:limit]

    def prune(self, now: float | None = None) -> None:
        """Delete the jobs whose state last changed over KEEP_DAYS before `now` (epoch seconds),
        and the upload of any job this node is not running (a crash left it behind)."""
        cutoff = (time.time() if now is None else now) - KEEP_DAYS * 86400
        for state in self.root.glob(f"*/{STATE_NAME}"):
            folder = state.parent
            if folder.name in self._jobs and self._jobs[folder.name].running:
                continue
            try:
                stale = state.stat().st_mtime < cutoff
            except OSError:
                continue
            if stale:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                (folder / UPLOAD_NAME).unlink(missing_ok=True)

    def rejects_path(self, job_id: str) -> Path:
        """The importer's rejects file of a job."""
        return self.job_dir(job_id) / f"{UPLOAD_NAME}.rejects.jsonl"

    async def stop(self) -> None:
        """Stop every running job (the node is stopping): each is saved as interrupted."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- running -------------------------------------------------------------------------------

    async def _run(self, job: ImportJob, registry: Registry) -> None:
        path = self.job_dir(job.id) / UPLOAD_NAME
        try:
            with ImportRun(path, batch_size=BATCH_ROWS) as run:

                def progress(done: int) -> None:
                    job.bytes_read = done
                    job.imported, job.skipped, job.rejected = (
                        run.imported,
                        run.skipped,
                        run.rejected,
                    )
                    self.save(job)

                await import_through(registry, run, progress)
            job.state = JobState.DONE
        except asyncio.CancelledError:
            job.state = JobState.INTERRUPTED
            raise
        except Exception:
            # The registry could not write (RegsyncError "import stopped"), the disk failed, or a
            # bug: the page names the error id under which the log has the traceback.
            job.error_id = secrets.token_hex(8)
            log.exception("error id %s: import job %s stopped", job.error_id, job.id)
            job.state = JobState.FAILED
        finally:
            job.finished_at = format_utc(utc_now())
            self.save(job)
            # The file's ID numbers are not kept past the job (an interrupted job is resumed by
            # uploading the file again, never from this copy).
            path.unlink(missing_ok=True)
            self._jobs.pop(job.id, None)
            await asyncio.to_thread(self.prune)

    def save(self, job: ImportJob) -> None:
        """Write the job's state file."""
        target = self.job_dir(job.id) / STATE_NAME
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps(asdict(job)))
        # Atomic: a reader (or a crash) sees the old state or the new, never half a file.
        os.replace(temporary, target)

    def _load(self, state: Path) -> ImportJob | None:
        try:
            raw = orjson.loads(state.read_bytes())
            job = ImportJob(**{**raw, "state": JobState(raw["state"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if job.running:
            job.state = JobState.INTERRUPTED
        return job
