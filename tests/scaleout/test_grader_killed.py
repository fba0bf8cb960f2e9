"""A grader SIGKILLed while it grades: its lease runs out and another grader finishes, once.

Scale-out: the killed process is a `rubric worker`; the other worker's sweep
re-sends the submission. Embedded: it is a gunicorn worker grading in its threads;
the other gunicorn worker's sweep picks the submission up.
"""

import os
import signal
from pathlib import Path

from server.models import SubmissionStatus
from server.submissions.service import claim_holder_pid
from tests.conftest import SCALE_OUT
from tests.scaleout.processes import wait_until
from tests.scaleout.support import (
    all_graded,
    gradebook_attempts,
    slow_reference,
    submissions,
    submit,
)


def running_claim():
    """Return the one submission once a grader has claimed it, else None."""
    rows = submissions()
    return rows[0] if rows and rows[0].status == SubmissionStatus.RUNNING else None


def parent_pid(pid: int) -> int:
    """Return the parent of a process, from /proc."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def kill_holder(request, web, pid: int) -> None:
    """SIGKILL the grader with this pid, after checking it is one of ours."""
    if SCALE_OUT:
        request.getfixturevalue("cluster").holding(pid).crash()
    else:
        assert parent_pid(pid) == web.pid, "the claim is not held by one of our web workers"
        os.kill(pid, signal.SIGKILL)


def test_submission_is_graded_once_after_its_grader_is_killed(
    request, app, web, token_for, students
):
    headers = students(1)[0]
    status, body = submit(web.port, headers, slow_reference(1.2))
    assert status == 202, body

    claimed = wait_until(running_claim, 20, "a grader to claim the submission", 0.02)
    first_claimed_at, holder = claimed.started_at, claim_holder_pid(claimed.claim)
    kill_holder(request, web, holder)
    assert running_claim() is not None, "the grading finished before the kill: not a crash"

    # The lease is 3 s and sweeps run every second: well under 30 s even on a busy host.
    (row,) = wait_until(lambda: all_graded(1), 30, "the submission to be graded again")
    assert row.tries == 2  # claimed by the killed grader, then re-claimed once
    assert row.started_at > first_claimed_at and row.claim is None
    assert row.score == row.max_score == 10
    assert len(submissions()) == 1
    book = gradebook_attempts(web.port, token_for("instructor@example.edu"))
    assert book == {"load0@example.edu": {"score": 10.0, "max_score": 10.0, "attempts": 1}}
