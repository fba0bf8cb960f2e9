"""A student's unsubmitted code, saved as they type, so it follows them to another computer."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.types import UTCDateTime, utcnow


class Draft(db.Model):
    """The latest editor contents of one student for one exercise assignment (one row each)."""

    __table_args__ = (sa.UniqueConstraint("user_id", "assignment_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    assignment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("assignment.id", ondelete="CASCADE"), index=True
    )
    code: so.Mapped[str] = so.mapped_column(sa.Text)
    saved_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
