"""Versioned exercises and the code submitted to them."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.accounts import User
from server.models.courses import Assignment
from server.models.types import UTCDateTime, enum_column, utcnow


class Exercise(db.Model):
    """One version of an exercise folder, with every file kept in `bundle`.

    Keeping the files lets any worker, on any machine, grade a submission against
    exactly the version it was submitted to, even after the folder changed.
    """

    __table_args__ = (sa.UniqueConstraint("slug", "version"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    slug: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    version: so.Mapped[int]
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    max_score: so.Mapped[float]
    # Deferred: large JSON that most queries (every submission, every poll) never read.
    public: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, deferred=True)
    bundle: so.Mapped[dict[str, str]] = so.mapped_column(sa.JSON, deferred=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class SubmissionStatus(enum.StrEnum):
    """Where a submission is in its life: stored, being graded, graded, or failed to grade."""

    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"
    ERROR = "error"


class Submission(db.Model):
    """Code a student submitted to an exercise assignment, stored before we answer 202.

    A grader claims it by setting `claim` and `lease_until` in one conditional
    UPDATE, and only the holder of the claim may record the result: delivery may
    happen twice, recording happens once.
    """

    __table_args__ = (
        sa.UniqueConstraint("assignment_id", "user_id", "number"),
        sa.UniqueConstraint("user_id", "idempotency_key"),
        sa.Index(None, "status", "lease_until"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    assignment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("assignment.id", ondelete="CASCADE")
    )
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    exercise_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("exercise.id"))
    number: so.Mapped[int]
    # Deferred: a poll for the status needs neither the code nor the full result.
    code: so.Mapped[str] = so.mapped_column(sa.Text, deferred=True)
    idempotency_key: so.Mapped[str | None] = so.mapped_column(sa.String(128))
    status: so.Mapped[SubmissionStatus] = so.mapped_column(
        enum_column(SubmissionStatus), default=SubmissionStatus.QUEUED
    )
    submitted_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    started_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    graded_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Set when an instructor queued it to be graded again (a fixed exercise): until the
    # new result lands, the old score keeps counting.
    regraded_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    claim: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    lease_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    tries: so.Mapped[int] = so.mapped_column(default=0)
    retry_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    error: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    score: so.Mapped[float | None]
    max_score: so.Mapped[float]
    result: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON, deferred=True)

    assignment: so.Mapped[Assignment] = so.relationship()
    user: so.Mapped[User] = so.relationship()
    exercise: so.Mapped[Exercise] = so.relationship()
