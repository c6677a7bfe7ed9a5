"""Long jobs (core/jobs.py): queued once per target, run once, progress visible while running, the result or
the error stored, and only those allowed may start or see one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core import jobs
from core.errors import PermissionRefused
from core.models import Job, JobState

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def kinds() -> Any:
    seen: list[int] = []

    def run(job: Job, progress: jobs.Progress) -> dict[str, Any]:
        progress(50, "halfway")
        seen.append(Job.objects.get(pk=job.pk).progress)
        if job.params.get("fail"):
            raise ValueError("the data is not there")
        return {"doubled": job.params["n"] * 2}

    jobs.register("test.double", run=run, may_start=lambda user: getattr(user, "is_staff", False))
    yield seen
    jobs._KINDS.pop("test.double")


def test_a_job_runs_once_with_its_progress_and_result(kinds, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = jobs.job_start(actor=admin_user, kind="test.double", params={"n": 21}, target="t:1")
        again = jobs.job_start(actor=admin_user, kind="test.double", params={"n": 21}, target="t:1")
    assert again == job and len(callbacks) == 1 and job.state == JobState.QUEUED

    done = jobs.job_run(job_id=job.pk)
    assert done is not None and done.state == JobState.DONE and done.result == {"doubled": 42}
    assert kinds == [50]  # the progress was written while it ran
    jobs.job_run(job_id=job.pk)  # a second delivery of the task does nothing
    assert kinds == [50]
    assert jobs.latest("test.double", "t:1") == done


def test_a_failing_job_keeps_its_error_and_another_may_start(
    kinds, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = jobs.job_start(actor=admin_user, kind="test.double", params={"fail": True}, target="t:2")
    failed = jobs.job_run(job_id=job.pk)
    assert failed is not None and failed.state == JobState.FAILED and "not there" in failed.error
    with django_capture_on_commit_callbacks(execute=False):
        assert jobs.job_start(actor=admin_user, kind="test.double", params={"n": 1}, target="t:2") != job


def test_a_job_whose_worker_was_lost_no_longer_blocks_its_target(
    kinds, admin_user, django_capture_on_commit_callbacks
):
    lost = Job.objects.create(kind="test.double", target="t:3", state=JobState.RUNNING)
    Job.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=False):
        fresh = jobs.job_start(actor=admin_user, kind="test.double", params={"n": 1}, target="t:3")
    lost.refresh_from_db()
    assert fresh != lost and lost.state == JobState.FAILED


def test_only_those_the_kind_allows_may_start_or_see_a_job(kinds, admin_user, django_user_model):
    outsider = django_user_model.objects.create_user(username="outsider", password="x")
    with pytest.raises(PermissionRefused):
        jobs.job_start(actor=outsider, kind="test.double", params={"n": 1})
    job = Job.objects.create(kind="test.double", requested_by=admin_user)
    assert jobs.may_see(admin_user, job) and not jobs.may_see(outsider, job)
