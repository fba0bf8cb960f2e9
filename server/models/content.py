"""Versioned quiz content, loaded from quizzes/*.toml by `rubric content sync`."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.types import UTCDateTime, utcnow


class Quiz(db.Model):
    """One version of a quiz file; a changed file becomes a new row, old rows stay."""

    __table_args__ = (sa.UniqueConstraint("slug", "version"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    slug: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    version: so.Mapped[int]
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    questions: so.Mapped[list["Question"]] = so.relationship(
        back_populates="quiz", order_by="Question.position", cascade="all, delete-orphan"
    )


class Question(db.Model):
    """One question of a quiz version; `spec` holds its kind-specific fields."""

    __table_args__ = (sa.UniqueConstraint("quiz_id", "key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    quiz_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("quiz.id", ondelete="CASCADE"))
    key: so.Mapped[str] = so.mapped_column(sa.String(64))
    position: so.Mapped[int]
    kind: so.Mapped[str] = so.mapped_column(sa.String(32))
    points: so.Mapped[float]
    spec: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)

    quiz: so.Mapped[Quiz] = so.relationship(back_populates="questions")
