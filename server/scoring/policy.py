"""An assignment's rules: attempt limit and due date, the same for quizzes and code."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, AssignmentKind, QuizAttempt, Submission, User
from server.models.types import utcnow


class AttemptRefused(Exception):
    """An attempt that cannot be recorded; `code` is a stable machine-readable name."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AttemptStatus:
    """Whether a student may start another attempt now, and why not."""

    used: int
    left: int | None  # None: no limit
    refusal: AttemptRefused | None


# Per kind of assignment, the count of a student's attempts (built once: every
# submission and attempt asks).
_USED = {
    kind: sa.select(sa.func.count(model.id)).where(
        model.assignment_id == sa.bindparam("assignment_id"),
        model.user_id == sa.bindparam("user_id"),
    )
    for kind, model in ((AssignmentKind.QUIZ, QuizAttempt), (AssignmentKind.EXERCISE, Submission))
}


def attempt_status(
    assignment: Assignment, user: User, now: datetime | None = None
) -> AttemptStatus:
    """Count a student's attempts and check the limit and the due date."""
    used = db.session.scalar(
        _USED[assignment.kind], {"assignment_id": assignment.id, "user_id": user.id}
    )
    limit = assignment.attempt_limit
    left = None if limit is None else max(0, limit - used)
    refusal = None
    if assignment.due_at is not None and (now or utcnow()) > assignment.due_at:
        refusal = AttemptRefused(
            "past_due", f"the due date {assignment.due_at:%Y-%m-%d %H:%M} UTC has passed"
        )
    elif left == 0:
        refusal = AttemptRefused("attempt_limit", f"all {limit} attempts have been used")
    return AttemptStatus(used, left, refusal)
