"""A graded submission's lambda sweep: computed when its result is first shown, then kept.

The sweep trains the student's functions for every λ (10-20 ms of sandbox time). Run in
the grading path it delayed every score by that much, so grading records the score
without it and the first page view of the result runs it, in a sandbox of its own (the
code never saw a hidden input there), and stores it in the result for every later view.
"""

import logging
from typing import Any

import sqlalchemy as sa

from server.extensions import db
from server.grading.demo import sweep_of
from server.grading.sweep import has_sweep
from server.models import Submission, SubmissionStatus
from server.submissions.exercises import loaded_version

log = logging.getLogger("rubric.grading")


def wants_sweep(submission: Submission) -> bool:
    """Tell whether a graded result still lacks the sweep its exercise draws."""
    result = submission.result
    if submission.status != SubmissionStatus.GRADED or not result or "sweep" in result:
        return False
    if not result.get("parts") or result.get("feedback", "").startswith("Your file"):
        return False  # the file did not load: there is nothing to train
    exercise = submission.exercise
    engine = loaded_version(exercise.id, (exercise.slug, exercise.content_hash))
    return bool(getattr(engine, "functions", None)) and has_sweep(engine)


def add_sweep(submission: Submission) -> dict[str, Any] | None:
    """Compute and keep the sweep of a graded result that lacks one; return the result.

    A failure (the sandbox down) is logged and the result shown without the sweep: it
    is tried again on the next view. A result replaced meanwhile (a regrade) is kept.
    """
    try:
        if not wants_sweep(submission):
            return submission.result
        exercise = submission.exercise
        engine = loaded_version(exercise.id, (exercise.slug, exercise.content_hash))
        swept = sweep_of(engine, submission.code)
    except Exception:
        log.exception("lambda sweep failed", extra={"submission_id": submission.id})
        db.session.rollback()
        return submission.result
    if swept is None:
        return submission.result
    result = {**submission.result, "sweep": swept}
    db.session.execute(
        sa.update(Submission)
        .where(Submission.id == submission.id, Submission.graded_at == submission.graded_at)
        .values(result=result)
    )
    db.session.commit()
    return submission.result
