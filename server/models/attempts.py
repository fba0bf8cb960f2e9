"""Graded quiz attempts and the answer given to each question."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.accounts import User
from server.models.content import Question, Quiz
from server.models.courses import Assignment
from server.models.types import UTCDateTime, utcnow


class QuizAttempt(db.Model):
    """A student's graded attempt at a quiz assignment.

    `number` counts attempts per student and assignment; its uniqueness is what
    stops two concurrent requests from both slipping under the attempt limit.
    """

    __table_args__ = (sa.UniqueConstraint("assignment_id", "user_id", "number"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    assignment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("assignment.id", ondelete="CASCADE")
    )
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    quiz_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("quiz.id"))
    number: so.Mapped[int]
    score: so.Mapped[float]
    max_score: so.Mapped[float]
    submitted_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    assignment: so.Mapped[Assignment] = so.relationship()
    user: so.Mapped[User] = so.relationship()
    quiz: so.Mapped[Quiz] = so.relationship()
    answers: so.Mapped[list["QuizAnswer"]] = so.relationship(
        back_populates="attempt", cascade="all, delete-orphan", order_by="QuizAnswer.id"
    )


class QuizAnswer(db.Model):
    """The response to one question within an attempt, with its score."""

    __table_args__ = (sa.UniqueConstraint("attempt_id", "question_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    attempt_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("quiz_attempt.id", ondelete="CASCADE")
    )
    question_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("question.id"))
    response: so.Mapped[Any | None] = so.mapped_column(sa.JSON)
    params: so.Mapped[dict[str, float] | None] = so.mapped_column(sa.JSON)
    outcome: so.Mapped[str] = so.mapped_column(sa.String(16))
    score: so.Mapped[float]
    max_score: so.Mapped[float]

    attempt: so.Mapped[QuizAttempt] = so.relationship(back_populates="answers")
    question: so.Mapped[Question] = so.relationship()
