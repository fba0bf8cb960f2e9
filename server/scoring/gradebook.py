"""The gradebook: every student's counted score on every assignment of a course."""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from server.extensions import db
from server.models import (
    Assignment,
    AssignmentKind,
    Course,
    Enrollment,
    Exercise,
    Question,
    Quiz,
    QuizAttempt,
    Role,
    ScoreOverride,
    ScorePolicy,
    Submission,
    User,
)
from server.scoring import late


@dataclass(frozen=True)
class Entry:
    """The score that counts for one student on one assignment, and how it came about."""

    score: float | None  # None: not attempted, or excused
    max_score: float | None
    attempts: int
    raw_score: float | None = None  # the counted work's score before any late penalty
    penalty: float = 0.0  # points taken off it for lateness
    late: int = 0  # seconds the counted work was late
    overridden: bool = False  # the score was set by hand
    excused: bool = False


@dataclass(frozen=True)
class Gradebook:
    """Rows of students by columns of assignments."""

    assignments: list[Assignment]
    students: list[User]
    entries: dict[tuple[int, int], Entry]  # (user id, assignment id) -> entry
    possible: dict[int, float | None]  # assignment id -> points possible (newest version)

    def entry(self, student: User, assignment: Assignment) -> Entry:
        """Return a student's entry for an assignment (empty when not attempted)."""
        return self.entries.get((student.id, assignment.id), Entry(None, None, 0))

    def total(self, student: User) -> float:
        """Return the sum of a student's counted scores."""
        return sum(self.entry(student, a).score or 0.0 for a in self.assignments)


def counted_score(assignment_id: int, user_id: int) -> tuple[float, float] | None:
    """The (score, max) that counts for one student on one assignment; None before any grade.

    Late penalties and overrides included; None too when the student is excused. The
    one score that grade passback sends (server/lti/passback.py).
    """
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        return None
    entry = counted_entry(assignment, user_id)
    if entry is None or entry.score is None:
        return None
    return entry.score, entry.max_score


def counted_entry(assignment: Assignment, user_id: int) -> Entry | None:
    """One student's entry on one assignment; None before any grade or override."""
    work = []
    for model in (QuizAttempt, Submission):
        query = (
            sa.select(model.score, model.max_score, model.submitted_at)
            .where(
                model.assignment_id == assignment.id,
                model.user_id == user_id,
                model.score.is_not(None),
            )
            .order_by(model.number)
        )
        work += list(db.session.execute(query))
    dates = late.dates_for(assignment, user_id)
    override = db.session.scalar(
        sa.select(ScoreOverride).where(
            ScoreOverride.assignment_id == assignment.id, ScoreOverride.user_id == user_id
        )
    )
    return _entry(assignment, dates, work, override)


def _entry(
    assignment: Assignment, dates: late.Dates, work, override, rule: late.Rule | None = None
) -> Entry | None:
    """Count a student's graded work (score, max, submitted at; in order) and any override."""
    rule = rule or late.rule_of(assignment)
    marked = [late.mark(score, maximum, at, dates, rule) for score, maximum, at in work]
    if override is not None:
        return _overridden(override, len(marked))
    if not marked:
        return None
    if assignment.score_policy == ScorePolicy.LAST:
        chosen = marked[-1]
    else:  # the best counted score; the earliest of equals
        chosen = max(marked, key=lambda m: m.score)
    return Entry(
        chosen.score, chosen.max_score, len(marked), chosen.raw_score, chosen.penalty, chosen.late
    )


def _overridden(override: ScoreOverride, attempts: int) -> Entry:
    """The entry an instructor set by hand."""
    return Entry(
        override.score,
        override.max_score,
        attempts,
        raw_score=None,
        overridden=not override.excused,
        excused=override.excused,
    )


def students_of(course_id: int) -> list[User]:
    """The course's enrolled students, by e-mail."""
    query = (
        sa.select(User)
        .join(Enrollment)
        .where(Enrollment.course_id == course_id, Enrollment.role == Role.STUDENT)
        .order_by(User.email)
    )
    return list(db.session.scalars(query))


def build_gradebook(course: Course) -> Gradebook:
    """Compute every enrolled student's counted score on every assignment."""
    assignments = list(course.assignments)
    students = students_of(course.id)
    work: dict[tuple[int, int], list] = defaultdict(list)
    for user_id, assignment_id, score, max_score, at in _scored_work(course):
        work[(user_id, assignment_id)].append((score, max_score, at))
    ids = [a.id for a in assignments]
    extensions = late.extensions_in(ids)
    shifts = late.shifts_in(course.id)  # accommodations: one query for the course
    overrides = _overrides_in(ids)
    by_id = {a.id: a for a in assignments}
    # Per assignment once, not per cell: its rule and the dates of students without extension.
    rules = {a.id: late.rule_of(a) for a in assignments}
    plain = {a.id: late.shifted(a, None) for a in assignments}
    entries = {}
    for key in work.keys() | overrides.keys():
        assignment, extension = by_id[key[1]], extensions.get(key)
        shift = shifts.get(key[0], 0)
        if extension is None and not shift:
            dates = plain[key[1]]
        else:
            dates = late.shifted(assignment, extension, shift)
        cell = work.get(key, [])
        entries[key] = _entry(assignment, dates, cell, overrides.get(key), rules[key[1]])
    possible = {a.id: points_possible(a) for a in assignments}
    return Gradebook(assignments, students, entries, possible)


def points_possible(assignment: Assignment) -> float | None:
    """The maximum of the newest synced version of an assignment's content; None if unsynced."""
    if assignment.kind == AssignmentKind.QUIZ:
        newest = (
            sa.select(Quiz.id)
            .where(Quiz.slug == assignment.content_slug)
            .order_by(Quiz.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = sa.select(sa.func.sum(Question.points)).where(Question.quiz_id == newest)
    else:
        query = (
            sa.select(Exercise.max_score)
            .where(Exercise.slug == assignment.content_slug)
            .order_by(Exercise.version.desc())
            .limit(1)
        )
    return db.session.scalar(query)


def _overrides_in(assignment_ids: list[int]) -> dict[tuple[int, int], ScoreOverride]:
    """Every override of these assignments by (user id, assignment id)."""
    query = sa.select(ScoreOverride).where(ScoreOverride.assignment_id.in_(assignment_ids))
    return {(o.user_id, o.assignment_id): o for o in db.session.scalars(query)}


def _scored_work(course: Course):
    """Yield (user, assignment, score, max, submitted at) of graded work, oldest first."""
    for model in (QuizAttempt, Submission):
        query = (
            sa.select(
                model.user_id, model.assignment_id, model.score, model.max_score, model.submitted_at
            )
            .join(Assignment)
            .where(Assignment.course_id == course.id, model.score.is_not(None))
            .order_by(model.number)
        )
        yield from db.session.execute(query)


def gradebook_rows(book: Gradebook) -> list[dict]:
    """Return the gradebook as JSON-ready rows, one per student."""
    return [
        {
            "student": {"email": s.email, "name": s.name},
            "scores": {a.slug: entry_json(book.entry(s, a)) for a in book.assignments},
            "total": book.total(s),
        }
        for s in book.students
    ]


def entry_json(entry: Entry) -> dict:
    """One cell of the gradebook: the counted score, how it came about, and its marks."""
    return {
        "score": entry.score,
        "max_score": entry.max_score,
        "attempts": entry.attempts,
        "raw_score": entry.raw_score,
        "penalty": entry.penalty,
        "late": entry.late,
        "overridden": entry.overridden,
        "excused": entry.excused,
    }


def gradebook_csv(book: Gradebook) -> str:
    """Return the gradebook as CSV: a points-possible row, then one row per student.

    Canvas and Moodle read the row named "Points Possible" under the header as each
    column's maximum. An excused cell reads EX, as in Canvas.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "name", *(a.slug for a in book.assignments), "total"])
    possible = [book.possible.get(a.id) for a in book.assignments]
    total = sum(p or 0.0 for p in possible)
    writer.writerow(["", "Points Possible", *(_cell(p) for p in possible), _cell(total)])
    for student in book.students:
        cells = [_entry_cell(book.entry(student, a)) for a in book.assignments]
        name = _safe(student.name)
        writer.writerow([_safe(student.email), name, *cells, _cell(book.total(student))])
    return out.getvalue()


def _entry_cell(entry: Entry) -> str:
    return "EX" if entry.excused else _cell(entry.score)


def _safe(text: str) -> str:
    """Defuse text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _cell(score: float | None) -> str:
    return "" if score is None else f"{score:g}"
