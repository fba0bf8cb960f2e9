"""An assignment's rules: attempt limit and due date, the same for quizzes and code."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, AssignmentKind, QuizAttempt, Submission, User
from server.models.types import utcnow
from server.scoring import late


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
    """Count a student's attempts and check the limit and the student's own dates.

    Late work is taken until the late window closes (server/scoring/late.py); with no
    late window the due date is a hard cutoff.
    """
    used = db.session.scalar(
        _USED[assignment.kind], {"assignment_id": assignment.id, "user_id": user.id}
    )
    limit = assignment.attempt_limit
    left = None if limit is None else max(0, limit - used)
    now = now or utcnow()
    dates = late.dates_for(assignment, user.id)
    refusal = None
    if dates.opens_at is not None and now < dates.opens_at:
        when = shown_time(dates.opens_at, assignment.course.timezone)
        refusal = AttemptRefused("not_open", f"the assignment opens at {when}")
    elif dates.closes_at is not None and now > dates.closes_at:
        when = shown_time(dates.closes_at, assignment.course.timezone)
        what = "the late window closed" if dates.late_until else "the due date has passed"
        refusal = AttemptRefused("past_due", f"{what} at {when}; no more work is accepted")
    elif left == 0:
        refusal = AttemptRefused("attempt_limit", f"all {limit} attempts have been used")
    return AttemptStatus(used, left, refusal)


def shown_time(moment: datetime, timezone: str) -> str:
    """A moment as people read it in the course's time zone, with its offset."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    try:
        local = moment.astimezone(zone)
    except OverflowError:  # the last or first day of the calendar
        local = moment
    return f"{local:%Y-%m-%d %H:%M:%S} {local:%Z} (UTC{local:%z})"
