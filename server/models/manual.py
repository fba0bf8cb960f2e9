"""Points and comments a person gave a notebook submission's written answers and tasks."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.accounts import User
from server.models.exercises import Submission
from server.models.types import UTCDateTime, utcnow


class ManualGrade(db.Model):
    """One graded cell (notebook, grade_id) of one submission, graded by a TA or instructor.

    The submission's counted score is its automatic score plus these points; a regrade
    keeps the rows of cells it still finds waiting for a person with the same maximum.
    """

    __tablename__ = "manual_grade"
    __table_args__ = (sa.UniqueConstraint("submission_id", "notebook", "grade_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    submission_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("submission.id", ondelete="CASCADE")
    )
    notebook: so.Mapped[str] = so.mapped_column(sa.String(200))
    grade_id: so.Mapped[str] = so.mapped_column(sa.String(200))
    points: so.Mapped[float]
    # The cell's maximum when graded: a regrade whose cell has another maximum drops it.
    max_points: so.Mapped[float]
    comment: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # None once the grader's account is gone; their e-mail stays in graded_by.
    grader_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    graded_by: so.Mapped[str] = so.mapped_column(sa.String(254))
    graded_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    submission: so.Mapped[Submission] = so.relationship()
    grader: so.Mapped[User | None] = so.relationship()
