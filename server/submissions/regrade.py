"""Grade an assignment's submissions again, against the newest version of its exercise.

An instructor fixes an exercise (an expected value, a tolerance too tight) and syncs
it, which makes a new version; the submissions graded against an older one are then
queued again on the new one. Nothing is lost meanwhile: the old score keeps counting
until the new result is recorded, and a grader holding one of them now loses its
claim, so only the new grading records. Regrades give way to live work: each is noted
as sent, so the sweep sends it once the queue is idle and RUBRIC_REQUEUE_AFTER_SECONDS
have passed, a few per round (sweep.REGRADE_BATCH); and they do not count toward the
course's queue cap.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from server.accounts import find_user
from server.courses import NotFound
from server.extensions import db
from server.models import Assignment, AssignmentKind, Submission, SubmissionStatus
from server.models.types import utcnow
from server.submissions.exercises import current_exercise


class NotAnExercise(ValueError):
    """Only code exercises have submissions to grade again."""


@dataclass(frozen=True)
class Regrade:
    """How many submissions were queued again, and the exercise version they go to."""

    submissions: int
    version: int


def regrade(assignment: Assignment, email: str = "") -> Regrade:
    """Queue again every submission (one student's, given an email) of an older version."""
    if assignment.kind != AssignmentKind.EXERCISE:
        raise NotAnExercise(f"{assignment.slug!r} is a quiz: nothing to grade again")
    exercise = current_exercise(assignment)
    older = sa.and_(
        Submission.assignment_id == assignment.id, Submission.exercise_id != exercise.id
    )
    if email:
        student = find_user(email)
        if student is None:
            raise NotFound(f"no user with e-mail {email!r}")
        older = sa.and_(older, Submission.user_id == student.id)
    now = utcnow()
    waiting = Submission.status == SubmissionStatus.QUEUED
    requeue = (
        sa.update(Submission)
        .where(older)
        .values(
            exercise_id=exercise.id,
            status=SubmissionStatus.QUEUED,
            claim=None,
            lease_until=None,
            tries=0,
            retry_at=None,
            error="",
            regraded_at=now,
            # One still waiting for its first grading keeps its place; the others are
            # noted as sent now, so that the sweep sends them only when the queue is idle.
            enqueued_at=sa.case((waiting, Submission.enqueued_at), else_=now),
        )
    )
    result = db.session.execute(requeue, execution_options={"synchronize_session": False})
    db.session.commit()
    return Regrade(result.rowcount, exercise.version)
