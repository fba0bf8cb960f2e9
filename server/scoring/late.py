"""Late work: a student's own dates, and the penalty of a submission by the time it was stored.

A penalty per day (or hour) is a fraction of the maximum per started day (or hour)
late: one second late is one day. It is computed on read from the stored submission
time, never from the grading time, so changing a date or a policy changes every counted
score at once, and a slow queue at the deadline makes nobody late.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from server.extensions import db
from server.models import Accommodation, Assignment, Extension

DAY, HOUR = 86400, 3600


@dataclass(frozen=True)
class Dates:
    """When one student's work is due and until when late work is taken (None: never)."""

    opens_at: datetime | None
    due_at: datetime | None
    late_until: datetime | None
    extended: bool = False  # the student's own extension on this assignment
    accommodated: bool = False  # moved by the student's course-wide accommodation

    @property
    def closes_at(self) -> datetime | None:
        """The last moment any work is accepted: the end of the late window, else the due date."""
        return self.late_until or self.due_at


@dataclass(frozen=True)
class Rule:
    """An assignment's penalty: a fraction of the maximum per started day or hour, capped."""

    per_day: float | None = None
    per_hour: float | None = None
    cap: float | None = None

    def fraction(self, seconds_late: float) -> float:
        """The fraction of the maximum taken off work this many seconds late."""
        if seconds_late <= 0:
            return 0.0
        fraction = 0.0
        if self.per_day:
            fraction = self.per_day * math.ceil(seconds_late / DAY)
        elif self.per_hour:
            fraction = self.per_hour * math.ceil(seconds_late / HOUR)
        return min(fraction, 1.0 if self.cap is None else self.cap, 1.0)


@dataclass(frozen=True)
class Marked:
    """One graded piece of work as counted: raw score, penalty in points, counted score."""

    raw_score: float
    max_score: float
    late: int  # whole seconds late, 0 when on time
    penalty: float
    score: float  # counted: the raw score less the penalty, never below 0


def rule_of(assignment: Assignment) -> Rule:
    """The assignment's penalty rule."""
    return Rule(
        assignment.late_penalty_per_day,
        assignment.late_penalty_per_hour,
        assignment.late_penalty_cap,
    )


def shifted(assignment: Assignment, extension: Extension | None, shift: int = 0) -> Dates:
    """The dates of one student, with their extension, else their accommodation's shift.

    An explicit extension wins over a course-wide shift (it was set for this assignment).
    An extension without its own late window keeps the assignment's, moved with the due
    date; with no late window at all, the new due date is a hard cutoff. A shift (in
    seconds) moves the due date and the late window, not the opening.
    """
    if extension is None:
        due, until = assignment.due_at, assignment.late_until
        if shift and due is not None:
            moved = timedelta(seconds=shift)
            until = until and _later(until, moved)
            return Dates(assignment.opens_at, _later(due, moved), until, False, True)
        return Dates(assignment.opens_at, due, until)
    late_until = extension.late_until
    if late_until is None and assignment.late_until is not None and assignment.due_at:
        late_until = _later(extension.due_at, assignment.late_until - assignment.due_at)
    return Dates(assignment.opens_at, extension.due_at, late_until, extended=True)


def _later(moment: datetime, delta: timedelta) -> datetime:
    """moment + delta, the last representable moment if that is past the year 9999."""
    try:
        return moment + delta
    except OverflowError:  # a date stored before pages refused the far future (year 9000)
        return datetime.max.replace(tzinfo=moment.tzinfo)


def dates_for(assignment: Assignment, user_id: int) -> Dates:
    """The dates of one student on one assignment."""
    extension = extension_of(assignment.id, user_id)
    shift = 0 if extension is not None else shift_of(assignment.course_id, user_id)
    return shifted(assignment, extension, shift)


def shift_of(course_id: int, user_id: int) -> int:
    """The seconds a student's accommodation moves their dates in a course (0: none)."""
    query = sa.select(Accommodation.shift_seconds).where(
        Accommodation.course_id == course_id, Accommodation.user_id == user_id
    )
    return db.session.scalar(query) or 0


def shifts_in(course_id: int) -> dict[int, int]:
    """Every accommodation's shift in a course, in seconds by user id: one query."""
    query = sa.select(Accommodation.user_id, Accommodation.shift_seconds).where(
        Accommodation.course_id == course_id
    )
    return {user_id: seconds for user_id, seconds in db.session.execute(query)}


def extension_of(assignment_id: int, user_id: int) -> Extension | None:
    """The student's extension on an assignment, or None."""
    query = sa.select(Extension).where(
        Extension.assignment_id == assignment_id, Extension.user_id == user_id
    )
    return db.session.scalar(query)


def extensions_in(assignment_ids: list[int]) -> dict[tuple[int, int], Extension]:
    """Every extension of these assignments by (user id, assignment id)."""
    query = sa.select(Extension).where(Extension.assignment_id.in_(assignment_ids))
    return {(e.user_id, e.assignment_id): e for e in db.session.scalars(query)}


def seconds_late(submitted_at: datetime, dates: Dates) -> int:
    """Whole seconds past the due date (a started second counts), 0 when on time."""
    if dates.due_at is None or submitted_at <= dates.due_at:
        return 0
    return math.ceil((submitted_at - dates.due_at) / timedelta(seconds=1))


def mark(raw: float, maximum: float, submitted_at: datetime, dates: Dates, rule: Rule) -> Marked:
    """Count one graded piece of work under the student's dates and the penalty rule."""
    late = seconds_late(submitted_at, dates)
    if not late:  # the common case, on the gradebook's path for every attempt
        return Marked(raw, maximum, 0, 0.0, raw)
    penalty = min(raw, round(rule.fraction(late) * maximum, 6)) if raw > 0 else 0.0
    return Marked(raw, maximum, late, penalty, max(0.0, round(raw - penalty, 6)))
