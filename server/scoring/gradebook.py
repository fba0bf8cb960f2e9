"""The gradebook: every student's counted score on every assignment of a course."""

import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from typing import NamedTuple

import sqlalchemy as sa

from server.extensions import db
from server.models import (
    Accommodation,
    Assignment,
    AssignmentKind,
    Course,
    Enrollment,
    Exercise,
    Extension,
    Question,
    Quiz,
    QuizAttempt,
    Role,
    ScoreOverride,
    ScorePolicy,
    Submission,
    User,
)
from server.models.manual import ManualGrade
from server.scoring import late


class Entry(NamedTuple):
    """The score that counts for one student on one assignment, and how it came about.

    A named tuple, not a dataclass: the gradebook makes one per cell, 9,000 at 300 x 30.
    """

    score: float | None  # None: not attempted, or excused
    max_score: float | None
    attempts: int
    raw_score: float | None = None  # the counted work's score before any late penalty
    penalty: float = 0.0  # points taken off it for lateness
    late: int = 0  # seconds the counted work was late
    overridden: bool = False  # the score was set by hand
    excused: bool = False
    work_id: int | None = None  # the quiz attempt or submission that counts (else the last)
    reason: str = ""  # why the score was set by hand, or the student excused


@dataclass(frozen=True)
class Totals:
    """A student's sum of counted points, the points they could have had, and the weighted %."""

    points: float
    possible: float  # the maxima of the assignments they are not excused from
    percent: float | None  # weighted; None when nothing counts (all excused, no maxima)


@dataclass(frozen=True)
class Average:
    """The class average of a column: the mean counted score of the students graded in it."""

    mean: float | None
    graded: int


EMPTY = Entry(None, None, 0)


@dataclass(frozen=True)
class Gradebook:
    """Rows of students by columns of assignments."""

    assignments: list[Assignment]
    students: list[User]
    entries: dict[tuple[int, int], Entry]  # (user id, assignment id) -> entry
    possible: dict[int, float | None]  # assignment id -> points possible (newest version)

    def entry(self, student: User, assignment: Assignment) -> Entry:
        """Return a student's entry for an assignment (empty when not attempted)."""
        return self.entries.get((student.id, assignment.id), EMPTY)

    def total(self, student: User) -> float:
        """Return the sum of a student's counted scores."""
        return self.totals(student).points

    def totals(self, student: User) -> Totals:
        """A student's points, points possible and weighted percentage (computed once)."""
        found = self._totals.get(student.id)
        return found if found is not None else self._count(student)

    @cached_property
    def _totals(self) -> dict[int, "Totals"]:
        """Every student's totals, counted on first use: the page sorts by them."""
        return {s.id: self._count(s) for s in self.students}

    @cached_property
    def _columns(self) -> list[tuple[int, float, float | None]]:
        """Each assignment's id, weight and points possible, read off the ORM objects once."""
        return [(a.id, a.weight, self.possible.get(a.id)) for a in self.assignments]

    def _count(self, student: User) -> Totals:
        """A student's points, points possible and weighted percentage.

        Each assignment counts its score over its maximum (the counted work's, else the
        column's points possible), times its weight; excused ones drop out of both sides,
        and work not handed in counts 0.
        """
        points = possible = weighted = weights = 0.0
        user_id, entries = student.id, self.entries
        for assignment_id, weight, column_max in self._columns:
            entry = entries.get((user_id, assignment_id), EMPTY)
            if entry.excused:
                continue
            score = entry.score or 0.0
            maximum = (entry.max_score if entry.score is not None else None) or column_max
            points += score
            if not maximum:
                continue
            possible += maximum
            weights += weight
            weighted += weight * score / maximum
        percent = round(100 * weighted / weights, 4) if weights else None
        return Totals(round(points, 6), round(possible, 6), percent)

    def average(self, assignment: Assignment) -> Average:
        """The mean counted score on an assignment of the students with one."""
        return self._averages.get(assignment.id) or Average(None, 0)

    @cached_property
    def _averages(self) -> dict[int, Average]:
        """Every column's average, in one pass over the cells."""
        sums: dict[int, list[float]] = defaultdict(list)
        enrolled = {s.id for s in self.students}
        for (user_id, assignment_id), entry in self.entries.items():
            if entry.score is not None and user_id in enrolled:
                sums[assignment_id].append(entry.score)
        return {
            a: Average(round(sum(scores) / len(scores), 4), len(scores))
            for a, scores in sums.items()
        }

    def class_totals(self) -> Average:
        """The mean of the students' weighted percentages (those with one)."""
        shown = [p for s in self.students if (p := self.totals(s).percent) is not None]
        return Average(round(sum(shown) / len(shown), 4) if shown else None, len(shown))


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
            sa.select(model.id, score_of(model), model.max_score, model.submitted_at)
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
    """Count a student's graded work (id, score, max, submitted at; in order) and any override.

    A submission time of None means on time for certain (the bulk query leaves out the time
    of work that was not after the assignment's own due date, see _scored_work).
    """
    if override is not None:
        return _overridden(override, len(work), work[-1][0] if work else None)
    if not work:
        return None
    rule = rule or late.rule_of(assignment)
    due = dates.due_at
    if assignment.score_policy == ScorePolicy.LAST:
        chosen = work[-1]
        marked = late.mark(chosen[1], chosen[2], chosen[3] or due, dates, rule)
    else:  # the best counted score; the earliest of equals
        best, chosen, marked = None, None, None
        for piece in work:
            _, score, maximum, at = piece
            if at is None or due is None or at <= due:  # on time: counted as is
                if best is None or score > best:
                    best, chosen, marked = score, piece, None
                continue
            this = late.mark(score, maximum, at, dates, rule)
            if best is None or this.score > best:
                best, chosen, marked = this.score, piece, this
        if marked is None:  # on time
            marked = late.Marked(chosen[1], chosen[2], 0, 0.0, chosen[1])
    return Entry(
        marked.score,
        marked.max_score,
        len(work),
        marked.raw_score,
        marked.penalty,
        marked.late,
        work_id=chosen[0],
    )


def score_of(model) -> sa.ColumnElement:
    """The score of graded work: a submission's includes the points a person gave its
    notebook answers (server/notebooks/manual.py)."""
    if model is not Submission:
        return model.score
    given = sa.select(sa.func.sum(ManualGrade.points)).where(
        ManualGrade.submission_id == Submission.id
    )
    return (model.score + sa.func.coalesce(given.scalar_subquery(), 0.0)).label("score")


def _overridden(override: ScoreOverride, attempts: int, last: int | None) -> Entry:
    """The entry an instructor set by hand; it still points at the student's last work."""
    return Entry(
        override.score,
        override.max_score,
        attempts,
        raw_score=None,
        overridden=not override.excused,
        excused=override.excused,
        work_id=last,
        reason=override.reason,
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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while the gradebook allocates its cells.

    Tens of thousands of rows and cells set off full collections that walk every object
    of the process, doubling the build's time at 300 x 30; nothing here makes cycles, so
    reference counting frees it all the same.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def build_gradebook(course: Course) -> Gradebook:
    """Compute every enrolled student's counted score on every assignment.

    One query per table, whatever the size: the work, extensions, accommodations,
    overrides, students and the points possible; the counting is done in Python.
    """
    with _collector_paused():
        return _build(course)


def _build(course: Course) -> Gradebook:
    """build_gradebook's work."""
    assignments = list(course.assignments)
    students = students_of(course.id)
    work: dict[tuple[int, int], list] = defaultdict(list)
    for user_id, assignment_id, work_id, score, maximum, at in _scored_work(course):
        work[(user_id, assignment_id)].append((work_id, score, maximum, at))
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
    return Gradebook(assignments, students, entries, _possible_in(assignments))


def _possible_in(assignments: list[Assignment]) -> dict[int, float | None]:
    """points_possible of each assignment: one query for the quizzes, one for the exercises."""
    slugs = {a.content_slug for a in assignments}
    newest_quiz = (
        sa.select(Quiz.slug, sa.func.max(Quiz.version).label("version"))
        .where(Quiz.slug.in_(slugs))
        .group_by(Quiz.slug)
        .subquery()
    )
    quizzes = (
        sa.select(Quiz.slug, sa.func.sum(Question.points))
        .join(
            newest_quiz, (Quiz.slug == newest_quiz.c.slug) & (Quiz.version == newest_quiz.c.version)
        )
        .join(Question, Question.quiz_id == Quiz.id)
        .group_by(Quiz.slug)
    )
    newest_exercise = (
        sa.select(Exercise.slug, sa.func.max(Exercise.version).label("version"))
        .where(Exercise.slug.in_(slugs))
        .group_by(Exercise.slug)
        .subquery()
    )
    exercises = sa.select(Exercise.slug, Exercise.max_score).join(
        newest_exercise,
        (Exercise.slug == newest_exercise.c.slug) & (Exercise.version == newest_exercise.c.version),
    )
    quiz_points = dict(db.session.execute(quizzes).all())
    exercise_points = dict(db.session.execute(exercises).all())
    return {
        a.id: (quiz_points if a.kind == AssignmentKind.QUIZ else exercise_points).get(
            a.content_slug
        )
        for a in assignments
    }


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
    """Yield (user, assignment, id, score, max, submitted at) of graded work, oldest first.

    The time is read (and parsed) only where it can matter: work after the assignment's
    own due date, or of a student whose dates on it are their own (an extension, or an
    accommodation that moves them earlier); for the rest it is None, on time for certain.
    Most work is on time, and parsing its time was most of the gradebook's cost.
    """
    connection = db.session.connection()
    for model in (QuizAttempt, Submission):
        yield from connection.execute(_work_query(model), {"course_id": course.id}).all()


@cache
def _work_query(model) -> sa.Select:
    """_scored_work's query of one table, built once and bound per course."""
    course_id = sa.bindparam("course_id")
    own_dates = sa.or_(
        model.submitted_at > Assignment.due_at,
        Extension.id.is_not(None),
        Accommodation.shift_seconds < 0,
    )
    score, manual = model.score, _manual_points()
    if model is Submission:  # with the points people gave its notebook answers
        score = model.score + sa.func.coalesce(manual.c.points, 0.0)
    query = (
        sa.select(
            model.user_id,
            model.assignment_id,
            model.id,
            score.label("score"),
            model.max_score,
            sa.case((own_dates, model.submitted_at), else_=sa.null()).label("at"),
        )
        .join(Assignment, Assignment.id == model.assignment_id)
        .outerjoin(
            Extension,
            (Extension.assignment_id == model.assignment_id) & (Extension.user_id == model.user_id),
        )
        .outerjoin(
            Accommodation,
            (Accommodation.course_id == course_id) & (Accommodation.user_id == model.user_id),
        )
        .where(Assignment.course_id == course_id, model.score.is_not(None))
        .order_by(model.number)
    )
    if model is Submission:
        query = query.outerjoin(manual, manual.c.id == Submission.id)
    return query


def _manual_points():
    """Points people gave notebook answers, summed per submission (one aggregate)."""
    return (
        sa.select(
            ManualGrade.submission_id.label("id"), sa.func.sum(ManualGrade.points).label("points")
        )
        .group_by(ManualGrade.submission_id)
        .subquery("manual")
    )


def gradebook_json(book: Gradebook) -> dict:
    """The gradebook's columns (with maxima, weights, class averages) and rows, JSON-ready."""
    columns = []
    for a in book.assignments:
        average = book.average(a)
        columns.append(
            {
                "slug": a.slug,
                "title": a.title,
                "points_possible": book.possible.get(a.id),
                "weight": a.weight,
                "average": average.mean,
                "graded": average.graded,
            }
        )
    overall = book.class_totals()
    return {
        "assignments": columns,
        "students": gradebook_rows(book),
        "average_percent": overall.mean,
    }


def gradebook_rows(book: Gradebook) -> list[dict]:
    """Return the gradebook as JSON-ready rows, one per student."""
    rows = []
    for s in book.students:
        totals = book.totals(s)
        rows.append(
            {
                "student": {"email": s.email, "name": s.name},
                "scores": {a.slug: entry_json(book.entry(s, a)) for a in book.assignments},
                "total": totals.points,
                "possible": totals.possible,
                "percent": totals.percent,
            }
        )
    return rows


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
