"""Each student's counted work on one assignment, found with a few set-wide queries."""

from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa

from server.extensions import db
from server.models import (
    Assignment,
    AssignmentKind,
    Enrollment,
    QuizAttempt,
    Role,
    ScoreOverride,
    ScorePolicy,
    Submission,
)
from server.scoring import late
from server.scoring.gradebook import score_of  # incl. a notebook's manual points

FULL_MARKS_SLACK = 1e-9  # a float sum of test points may land a hair under the maximum


class Work(NamedTuple):
    """One graded submission or quiz attempt, as the gradebook counts it.

    A tuple, not a dataclass: a course's statistics make thousands of these.
    """

    id: int
    number: int
    raw: float
    max_score: float
    score: float  # counted: the raw score less any late penalty
    late: int  # seconds late, 0 when on time


@dataclass(frozen=True)
class StudentWork:
    """What one student did on an assignment: every graded piece, and the one that counts."""

    user_id: int
    submitted: bool  # stored anything, graded or not
    graded: tuple[Work, ...]
    counted: Work | None
    score: float | None  # counted: late penalty and override included; None if excused/none
    dates: late.Dates  # the student's own: extension and accommodation included
    excused: bool = False

    @property
    def first(self) -> Work | None:
        """The first graded piece of work."""
        return self.graded[0] if self.graded else None

    def attempts_to_full(self) -> int | None:
        """How many graded attempts it took to reach full marks (raw); None if never."""
        for position, work in enumerate(self.graded, start=1):
            if work.raw >= work.max_score - FULL_MARKS_SLACK:
                return position
        return None


def model_of(assignment: Assignment) -> type[Submission] | type[QuizAttempt]:
    """The table that holds an assignment's work."""
    return QuizAttempt if assignment.kind == AssignmentKind.QUIZ else Submission


def student_ids(course_id: int) -> list[int]:
    """The ids of a course's enrolled students."""
    query = sa.select(Enrollment.user_id).where(
        Enrollment.course_id == course_id, Enrollment.role == Role.STUDENT
    )
    return list(db.session.scalars(query))


def counted_work(assignment: Assignment) -> list[StudentWork]:
    """Every enrolled student's work on the assignment, counted piece as the gradebook picks it."""
    model = model_of(assignment)
    rows: dict[int, list] = {user_id: [] for user_id in student_ids(assignment.course_id)}
    query = (
        sa.select(model.id, model.user_id, model.number, score_of(model), model.max_score)
        .add_columns(model.submitted_at)
        .where(model.assignment_id == assignment.id)
        .order_by(model.user_id, model.number)
    )
    for row in db.session.execute(query):
        if row[1] in rows:  # work of people dropped from the course, or staff, is left out
            rows[row[1]].append(row)
    extensions = late.extensions_in([assignment.id])
    shifts = late.shifts_in(assignment.course_id)  # accommodations
    overrides = _overrides(assignment.id)
    rule, plain = late.rule_of(assignment), late.shifted(assignment, None)
    out = []
    for user_id, mine in rows.items():
        extension, shift = extensions.get((user_id, assignment.id)), shifts.get(user_id, 0)
        if extension is None and not shift:
            dates = plain
        else:
            dates = late.shifted(assignment, extension, shift)
        graded = tuple(_work(row, dates, rule) for row in mine if row[3] is not None)
        override = overrides.get(user_id)
        out.append(_student(assignment, user_id, bool(mine), graded, override, dates))
    return out


def _work(row: tuple, dates: late.Dates, rule: late.Rule) -> Work:
    """Count one row (id, user, number, score, max, submitted at) under the student's dates."""
    sid, _, number, raw, maximum, at = row
    if dates.due_at is None or at <= dates.due_at:  # on time: most work, kept cheap
        return Work(sid, number, raw, maximum, raw, 0)
    marked = late.mark(raw, maximum, at, dates, rule)
    return Work(sid, number, raw, maximum, marked.score, marked.late)


def _student(
    assignment: Assignment,
    user_id: int,
    submitted: bool,
    graded: tuple[Work, ...],
    override: ScoreOverride | None,
    dates: late.Dates,
) -> StudentWork:
    """Pick the counted piece as gradebook._entry does: last, or the earliest best."""
    counted = None
    if graded:
        if assignment.score_policy == ScorePolicy.LAST:
            counted = graded[-1]
        else:
            counted = max(graded, key=lambda w: w.score)
    score = counted.score if counted else None
    if override is not None:
        score = override.score
    excused = override is not None and override.excused
    return StudentWork(user_id, submitted, graded, counted, score, dates, excused)


def _overrides(assignment_id: int) -> dict[int, ScoreOverride]:
    """The assignment's score overrides by student."""
    query = sa.select(ScoreOverride).where(ScoreOverride.assignment_id == assignment_id)
    return {o.user_id: o for o in db.session.scalars(query)}
