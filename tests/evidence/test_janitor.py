"""The janitor removes what crashed uploads leave behind, after a grace period, and nothing else."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from refuge.core import clock, jobs
from refuge.evidence import services, storage, tasks
from tests.evidence.conftest import bin_of, ingest

pytestmark = pytest.mark.django_db


def _age(path, hours: float) -> None:
    past = (clock.now() - dt.timedelta(hours=hours)).timestamp()
    os.utime(path, (past, past))


def _orphan(directory, suffix: str, *, hours: float):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4()}{suffix}"
    path.write_bytes(b"ciphertext")
    _age(path, hours)
    return path


def test_an_abandoned_upload_file_is_removed(evidence_dir):
    part = _orphan(storage.tmp_dir(), ".part", hours=30)
    result = services.evidence_clean_orphans()
    assert not part.exists()
    assert result.parts == 1


def test_a_stored_file_without_a_record_is_removed(evidence_dir):
    orphan = _orphan(evidence_dir, ".bin", hours=30)
    result = services.evidence_clean_orphans()
    assert not orphan.exists()
    assert result.orphans == 1


def test_recent_files_are_left_alone(evidence_dir):
    part = _orphan(storage.tmp_dir(), ".part", hours=1)
    orphan = _orphan(evidence_dir, ".bin", hours=1)
    services.evidence_clean_orphans()
    assert part.exists()
    assert orphan.exists()


def test_files_with_a_record_are_kept(cast, evidence_dir):
    evidence = ingest(cast)
    path = bin_of(evidence, evidence_dir)
    _age(path, 100)
    services.evidence_clean_orphans()
    assert path.exists()


def test_files_that_are_not_evidence_are_left_alone(evidence_dir):
    other = _orphan(evidence_dir, ".txt", hours=100)
    services.evidence_clean_orphans()
    assert other.exists()


def test_the_janitor_runs_as_an_hourly_worker_job():
    assert tasks.CLEAN_ORPHANS in jobs.registered_handlers()
    periodic = {task.name: task.every for task in jobs.periodic_tasks()}
    assert periodic[tasks.CLEAN_ORPHANS] == dt.timedelta(hours=1)


def test_the_job_handler_cleans(evidence_dir):
    orphan = _orphan(evidence_dir, ".bin", hours=30)
    jobs.registered_handlers()[tasks.CLEAN_ORPHANS]({})
    assert not orphan.exists()
