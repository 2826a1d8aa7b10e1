"""Import jobs on disk: what a reload or a restart reads back."""

from __future__ import annotations

import os
import time
from pathlib import Path

from province_node.web.console.import_jobs import (
    KEEP_DAYS,
    STATE_NAME,
    UPLOAD_NAME,
    ImportJob,
    ImportJobs,
    JobState,
    new_job_id,
    valid_job_id,
)
from schemas.timestamps import format_utc, utc_now


def _saved(root: Path, **fields: object) -> ImportJob:
    jobs = ImportJobs(root)
    job = ImportJob(new_job_id(), "r.csv", 10, format_utc(utc_now()))
    for name, value in fields.items():
        setattr(job, name, value)
    jobs.upload_path(job.id)
    jobs.save(job)
    return job


def test_a_job_running_when_the_node_stopped_reads_back_as_interrupted(tmp_path: Path) -> None:
    job = _saved(tmp_path)
    again = ImportJobs(tmp_path).get(job.id)
    assert again is not None and again.state is JobState.INTERRUPTED


def test_a_finished_job_reads_back_with_its_counts(tmp_path: Path) -> None:
    job = _saved(tmp_path, state=JobState.DONE, imported=7, rejected=2)
    again = ImportJobs(tmp_path).get(job.id)
    assert again is not None and (again.state, again.imported, again.rejected) == (
        JobState.DONE,
        7,
        2,
    )


def test_an_id_that_is_not_a_job_id_is_never_looked_up(tmp_path: Path) -> None:
    assert ImportJobs(tmp_path).get("../../etc") is None


def test_new_job_ids_have_the_checked_shape() -> None:
    assert valid_job_id(new_job_id())


def test_recent_lists_the_newest_first(tmp_path: Path) -> None:
    older = _saved(tmp_path, started_at="2026-01-01T00:00:00.000Z")
    newer = _saved(tmp_path, started_at="2026-02-01T00:00:00.000Z")
    assert [j.id for j in ImportJobs(tmp_path).recent()] == [newer.id, older.id]


def test_the_upload_directory_is_the_owners_alone(tmp_path: Path) -> None:
    path = ImportJobs(tmp_path).upload_path(new_job_id())
    assert path.parent.stat().st_mode & 0o777 == 0o700


def _aged(root: Path, days: float) -> ImportJob:
    """A finished job whose state file last changed `days` ago."""
    job = _saved(root, state=JobState.DONE)
    when = time.time() - days * 86400
    os.utime(root / job.id / STATE_NAME, (when, when))
    return job


def test_prune_deletes_the_jobs_older_than_keep_days(tmp_path: Path) -> None:
    _aged(tmp_path, KEEP_DAYS + 1)
    kept = _aged(tmp_path, KEEP_DAYS - 1)
    ImportJobs(tmp_path).prune()
    assert [p.name for p in tmp_path.iterdir()] == [kept.id]


def test_prune_deletes_an_upload_a_crash_left_behind(tmp_path: Path) -> None:
    job = _saved(tmp_path)
    (tmp_path / job.id / UPLOAD_NAME).write_bytes(b"cert_no\n")
    ImportJobs(tmp_path).prune()
    assert not (tmp_path / job.id / UPLOAD_NAME).exists()
