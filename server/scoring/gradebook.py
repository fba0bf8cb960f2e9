"""The gradebook: every student's counted score on every assignment of a course."""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from server.extensions import db
from server.models import (
    Assignment,
    Course,
    Enrollment,
    QuizAttempt,
    Role,
    ScorePolicy,
    Submission,
    User,
)


@dataclass(frozen=True)
class Entry:
    """The score that counts for one student on one assignment."""

    score: float | None  # None: not attempted
    max_score: float | None
    attempts: int


@dataclass(frozen=True)
class Gradebook:
    """Rows of students by columns of assignments."""

    assignments: list[Assignment]
    students: list[User]
    entries: dict[tuple[int, int], Entry]  # (user id, assignment id) -> entry

    def entry(self, student: User, assignment: Assignment) -> Entry:
        """Return a student's entry for an assignment (empty when not attempted)."""
        return self.entries.get((student.id, assignment.id), Entry(None, None, 0))

    def total(self, student: User) -> float:
        """Return the sum of a student's counted scores."""
        return sum(self.entry(student, a).score or 0.0 for a in self.assignments)


def counted(policy: ScorePolicy, scores: list[tuple[float, float]]) -> tuple[float, float]:
    """Pick the (score, max) that counts from attempts in submission order."""
    if policy == ScorePolicy.LAST:
        return scores[-1]
    return max(scores, key=lambda pair: pair[0])


def counted_score(assignment_id: int, user_id: int) -> tuple[float, float] | None:
    """The (score, max) that counts for one student on one assignment; None before any grade.

    The one score that grade passback sends (server/lti/passback.py).
    """
    policy = db.session.scalar(
        sa.select(Assignment.score_policy).where(Assignment.id == assignment_id)
    )
    scores = []
    for model in (QuizAttempt, Submission):
        query = (
            sa.select(model.score, model.max_score)
            .where(
                model.assignment_id == assignment_id,
                model.user_id == user_id,
                model.score.is_not(None),
            )
            .order_by(model.number)
        )
        scores += [tuple(row) for row in db.session.execute(query)]
    return counted(policy, scores) if scores and policy is not None else None


def build_gradebook(course: Course) -> Gradebook:
    """Compute every enrolled student's counted score on every assignment."""
    assignments = list(course.assignments)
    students = list(
        db.session.scalars(
            sa.select(User)
            .join(Enrollment)
            .where(Enrollment.course_id == course.id, Enrollment.role == Role.STUDENT)
            .order_by(User.email)
        )
    )
    scores: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for user_id, assignment_id, score, max_score in _scored_work(course):
        scores[(user_id, assignment_id)].append((score, max_score))
    policies = {a.id: a.score_policy for a in assignments}
    entries = {
        key: Entry(*counted(policies[key[1]], pairs), attempts=len(pairs))
        for key, pairs in scores.items()
    }
    return Gradebook(assignments, students, entries)


def _scored_work(course: Course):
    """Yield (user, assignment, score, max) of graded quiz attempts and code, oldest first."""
    for model in (QuizAttempt, Submission):
        query = (
            sa.select(model.user_id, model.assignment_id, model.score, model.max_score)
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
            "scores": {
                a.slug: {"score": e.score, "max_score": e.max_score, "attempts": e.attempts}
                for a in book.assignments
                for e in [book.entry(s, a)]
            },
            "total": book.total(s),
        }
        for s in book.students
    ]


def gradebook_csv(book: Gradebook) -> str:
    """Return the gradebook as CSV: one row per student, one column per assignment."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "name", *(a.slug for a in book.assignments), "total"])
    for student in book.students:
        cells = [_cell(book.entry(student, a).score) for a in book.assignments]
        name = _safe(student.name)
        writer.writerow([_safe(student.email), name, *cells, _cell(book.total(student))])
    return out.getvalue()


def _safe(text: str) -> str:
    """Defuse text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _cell(score: float | None) -> str:
    return "" if score is None else f"{score:g}"
