"""A course at a glance: per assignment who submitted, was graded, was late or is missing,
and who has not started an assignment due soon."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from server.analytics.counted import StudentWork, counted_work
from server.extensions import db
from server.models import Assignment, AssignmentKind, Course, Draft, User
from server.models.types import utcnow

DUE_SOON_DAYS = 7
MAX_DAYS = 366


@dataclass(frozen=True)
class AssignmentRow:
    """Counts of students on one assignment."""

    assignment: Assignment
    students: int
    submitted: int  # stored anything
    graded: int  # have a graded piece of work, or a score set by hand
    late: int  # their counted work was late
    missing: int  # nothing submitted, not excused, and their own due date has passed
    excused: int


@dataclass(frozen=True)
class DueSoon:
    """Students who have not started an assignment due within the window (by their own date)."""

    assignment: Assignment
    students: list[tuple[User, datetime]]  # each with their own due date, soonest first


@dataclass(frozen=True)
class Overview:
    """The course overview page's figures."""

    rows: list[AssignmentRow]
    due_soon: list[DueSoon]
    days: int


def course_overview(
    course: Course, days: int = DUE_SOON_DAYS, now: datetime | None = None
) -> Overview:
    """Count every assignment's work and find who has not started what is due within `days`."""
    now = now or utcnow()
    horizon = now + timedelta(days=days)
    rows, soon = [], []
    for assignment in course.assignments:
        work = counted_work(assignment)
        rows.append(_row(assignment, work, now))
        waiting = [
            w
            for w in work
            if _not_started(w) and w.dates.due_at and now < w.dates.due_at <= horizon
        ]
        if waiting:
            started = _drafted(assignment, [w.user_id for w in waiting])
            waiting = [w for w in waiting if w.user_id not in started]
        if waiting:
            soon.append(DueSoon(assignment, _people(waiting)))
    return Overview(rows, soon, days)


def _not_started(work: StudentWork) -> bool:
    return not work.submitted and not work.excused and work.score is None


def _row(assignment: Assignment, work: list[StudentWork], now: datetime) -> AssignmentRow:
    """Count one assignment's students by what they did."""
    return AssignmentRow(
        assignment,
        students=len(work),
        submitted=sum(w.submitted for w in work),
        graded=sum(bool(w.graded) or (w.score is not None) for w in work),
        late=sum(w.counted is not None and w.counted.late > 0 for w in work),
        missing=sum(
            _not_started(w) and w.dates.due_at is not None and w.dates.due_at < now for w in work
        ),
        excused=sum(w.excused for w in work),
    )


def _drafted(assignment: Assignment, user_ids: list[int]) -> set[int]:
    """Who among these students has a saved draft of the exercise (they have started)."""
    if assignment.kind != AssignmentKind.EXERCISE or not user_ids:
        return set()
    query = sa.select(Draft.user_id).where(
        Draft.assignment_id == assignment.id, Draft.user_id.in_(user_ids)
    )
    return set(db.session.scalars(query))


def _people(waiting: list[StudentWork]) -> list[tuple[User, datetime]]:
    """The students, each with their own due date, soonest first then by e-mail."""
    users = {
        u.id: u
        for u in db.session.scalars(
            sa.select(User).where(User.id.in_([w.user_id for w in waiting]))
        )
    }
    pairs = [(users[w.user_id], w.dates.due_at) for w in waiting]
    return sorted(pairs, key=lambda pair: (pair[1], pair[0].email))
