"""The results a regrade replaced: kept before each is overwritten, listed oldest first.

A submission or quiz attempt holds its current result; each time a regrade replaces
it, the old one is copied here first with the version it was graded on, when, why
(the first grading, or a regrade and who asked for it) and who replaced it. The
current result's own "why" is the newest row's replaced_by (no row: first grading).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models import Exercise, QuizAttempt, Submission, User
from server.models.history import GradedBecause, ResultHistory
from server.models.types import utcnow
from server.scoring.quizzes import quiz_version

HISTORY = ResultHistory.__table__


def actor_name(actor: User | str | None) -> str:
    """Name who asked for a regrade as the audit log does: an e-mail, or 'command line'."""
    if isinstance(actor, User):
        return actor.email
    return (actor or "command line")[:254]


def _last_replaced_by(owner: sa.ColumnElement, owner_id: Any) -> sa.ScalarSelect:
    """Who replaced the owner's newest archived result: who asked for its current one."""
    return (
        sa.select(HISTORY.c.replaced_by)
        .where(owner == owner_id)
        .order_by(HISTORY.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _origin(owner: sa.ColumnElement, owner_id: Any) -> tuple[sa.ColumnElement, sa.ColumnElement]:
    """The (graded_because, graded_by) of an owner's current result, as SQL expressions."""
    previous = _last_replaced_by(owner, owner_id)
    because = sa.case(
        (previous.is_(None), GradedBecause.FIRST_GRADING.value), else_=GradedBecause.REGRADE.value
    )
    return because, sa.func.coalesce(previous, "")


def archive_submissions(which: sa.ColumnElement[bool], actor: User | str | None) -> int:
    """Copy the current result of every graded submission `which` selects into the history.

    One INSERT ... SELECT, so 300 students' results never pass through Python. A result
    already archived (a regrade asked twice before it ran) is not copied again.
    """
    archived = sa.exists().where(
        HISTORY.c.submission_id == Submission.id, HISTORY.c.graded_at == Submission.graded_at
    )
    because, by = _origin(HISTORY.c.submission_id, Submission.id)
    rows = (
        sa.select(
            Submission.id,
            Exercise.version,
            Submission.score,
            Submission.max_score,
            Submission.result,
            Submission.graded_at,
            because,
            by,
            sa.literal(utcnow(), HISTORY.c.replaced_at.type),
            sa.literal(actor_name(actor)),
        )
        .join(Exercise, Exercise.id == Submission.exercise_id)
        .where(which, Submission.score.is_not(None), Submission.graded_at.is_not(None), ~archived)
    )
    columns = [
        "submission_id",
        "version",
        "score",
        "max_score",
        "result",
        "graded_at",
        "graded_because",
        "graded_by",
        "replaced_at",
        "replaced_by",
    ]
    return db.session.execute(sa.insert(HISTORY).from_select(columns, rows)).rowcount


def archive_attempts(attempts: list[QuizAttempt], actor: User | str | None) -> None:
    """Copy quiz attempts' current scores and per-question marks into the history."""
    if not attempts:
        return
    earlier = db.session.execute(
        sa.select(HISTORY.c.attempt_id, HISTORY.c.replaced_at, HISTORY.c.replaced_by)
        .where(HISTORY.c.attempt_id.in_([a.id for a in attempts]))
        .order_by(HISTORY.c.id)
    )
    last = {attempt_id: (at, by) for attempt_id, at, by in earlier}  # the newest wins
    now, name = utcnow(), actor_name(actor)
    db.session.execute(
        sa.insert(HISTORY), [_attempt_row(a, last.get(a.id), now, name) for a in attempts]
    )


def _attempt_row(attempt: QuizAttempt, last: tuple | None, now: datetime, actor: str) -> dict:
    """One attempt's history row; `last` is its newest earlier row's (replaced_at, by)."""
    quiz = quiz_version(attempt.quiz_id)
    marks = [
        {
            "id": quiz.question(a.question_id).key,
            "outcome": a.outcome,
            "score": a.score,
            "max_score": a.max_score,
        }
        for a in attempt.answers
    ]
    because = GradedBecause.FIRST_GRADING if last is None else GradedBecause.REGRADE
    return {
        "attempt_id": attempt.id,
        "version": quiz.version,
        "score": attempt.score,
        "max_score": attempt.max_score,
        "result": {"questions": marks},
        "graded_at": attempt.submitted_at if last is None else last[0],
        "graded_because": because.value,
        "graded_by": "" if last is None else last[1],
        "replaced_at": now,
        "replaced_by": actor,
    }


@dataclass(frozen=True)
class Past:
    """One replaced result, as pages and the API show it."""

    version: int
    score: float | None
    max_score: float
    graded_at: datetime
    graded_because: GradedBecause
    graded_by: str
    replaced_at: datetime
    replaced_by: str
    result: dict[str, Any] | None

    def as_dict(self, staff: bool) -> dict[str, Any]:
        """JSON-ready: a student sees the scores and dates; staff also who and the result."""
        shown = {
            "version": self.version,
            "score": self.score,
            "max_score": self.max_score,
            "graded_at": self.graded_at.isoformat(),
            "replaced_at": self.replaced_at.isoformat(),
        }
        if not staff:
            return shown
        return shown | {
            "graded_because": self.graded_because.value,
            "graded_by": self.graded_by,
            "replaced_by": self.replaced_by,
            "result": self.result,
        }


def history_of(*, submission_id: int | None = None, attempt_id: int | None = None) -> list[Past]:
    """The replaced results of one submission or attempt, oldest first."""
    owner = (
        ResultHistory.submission_id == submission_id
        if submission_id is not None
        else ResultHistory.attempt_id == attempt_id
    )
    query = (
        sa.select(ResultHistory)
        .where(owner)
        .options(so.undefer(ResultHistory.result))
        .order_by(ResultHistory.id)
    )
    return [
        Past(
            row.version,
            row.score,
            row.max_score,
            row.graded_at,
            row.graded_because,
            row.graded_by,
            row.replaced_at,
            row.replaced_by,
            row.result,
        )
        for row in db.session.scalars(query)
    ]


def current_origin(
    *, submission_id: int | None = None, attempt_id: int | None = None
) -> tuple[GradedBecause, str]:
    """Why the current result is there, and who asked for it ('' for a first grading)."""
    owner, owner_id = (
        (HISTORY.c.submission_id, submission_id)
        if submission_id is not None
        else (HISTORY.c.attempt_id, attempt_id)
    )
    by = db.session.scalar(sa.select(_last_replaced_by(owner, owner_id)))
    return (GradedBecause.FIRST_GRADING, "") if by is None else (GradedBecause.REGRADE, by)
