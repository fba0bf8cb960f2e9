"""Past results of a submission or a quiz attempt, kept whenever a regrade replaces one."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.types import UTCDateTime, enum_column, utcnow


class GradedBecause(enum.StrEnum):
    """Why a result was recorded: the first grading, or a regrade someone asked for."""

    FIRST_GRADING = "first_grading"
    REGRADE = "regrade"


class ResultHistory(db.Model):
    """A result that was replaced: what it said, what it was graded on, why, and who replaced it.

    Exactly one of submission_id and attempt_id is set. Rows are only ever added.
    """

    __tablename__ = "result_history"
    __table_args__ = (
        sa.CheckConstraint(
            "(submission_id IS NULL) <> (attempt_id IS NULL)", name="one_piece_of_work"
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    submission_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    attempt_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("quiz_attempt.id", ondelete="CASCADE"), index=True
    )
    version: so.Mapped[int]  # of the exercise or quiz the result was graded against
    score: so.Mapped[float | None]
    max_score: so.Mapped[float]
    # A submission's result JSON; a quiz attempt's per-question outcomes and scores.
    result: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON, deferred=True)
    graded_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    graded_because: so.Mapped[GradedBecause] = so.mapped_column(enum_column(GradedBecause))
    # Who asked for the regrade that produced this result ("" for a first grading).
    graded_by: so.Mapped[str] = so.mapped_column(sa.String(254), default="")
    replaced_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    replaced_by: so.Mapped[str] = so.mapped_column(sa.String(254))
