"""The audit log of a course, and the one-time links that set a password."""

import enum
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.accounts import User
from server.models.types import UTCDateTime, enum_column, utcnow


class AuditEntry(db.Model):
    """One change in a course: who, when, what, before and after. Written once, never edited."""

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_course_id_at", "course_id", "at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # No cascade: a course with a history is not deleted by accident.
    course_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("course.id"))
    # None: the command line (an operator on the server); the e-mail stays in `actor`.
    actor_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    actor: so.Mapped[str] = so.mapped_column(sa.String(254))
    action: so.Mapped[str] = so.mapped_column(sa.String(64))
    target: so.Mapped[str] = so.mapped_column(sa.String(300))
    # JSON text (server.models.types.json_text), or None where there was nothing.
    before: so.Mapped[str | None] = so.mapped_column(sa.Text)
    after: so.Mapped[str | None] = so.mapped_column(sa.Text)
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class PasswordPurpose(enum.StrEnum):
    """Why a password link was made."""

    SET = "set"  # a new account's first password
    RESET = "reset"  # "forgot password"


class PasswordToken(db.Model):
    """A one-time link to set a password; only its SHA-256 digest is stored."""

    __tablename__ = "password_token"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    purpose: so.Mapped[PasswordPurpose] = so.mapped_column(enum_column(PasswordPurpose))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)

    user: so.Mapped[User] = so.relationship()
