"""Users, their log-in sessions and API tokens, and the log-in throttle's counters."""

import enum
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from server.extensions import db
from server.models.types import UTCDateTime, utcnow


class Role(enum.StrEnum):
    """A user's site-wide role, and their role in a course (Enrollment.role).

    TA is a course role only (a user's site role is never TA): a TA sees and grades
    the course, an instructor also configures it (server/courses).
    """

    STUDENT = "student"
    TA = "ta"
    INSTRUCTOR = "instructor"
    ADMIN = "admin"


class SiteRole(sa.TypeDecorator):
    """A user's site-wide role: every Role but TA, which exists only within a course."""

    impl = sa.Enum(
        "student",
        "instructor",
        "admin",
        name="role",
        native_enum=False,
        length=16,
        create_constraint=True,
    )
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and Role(value) == Role.TA:
            raise ValueError("TA is a course role (Enrollment.role), not a site role")
        return None if value is None else Role(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else Role(value)


class User(UserMixin, db.Model):
    """Someone who logs in: a student, an instructor or an admin."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[Role] = so.mapped_column(SiteRole(), default=Role.STUDENT)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    tokens: so.WriteOnlyMapped["ApiToken"] = so.relationship(
        back_populates="user", passive_deletes=True
    )
    sessions: so.WriteOnlyMapped["LoginSession"] = so.relationship(
        back_populates="user", passive_deletes=True
    )
    # The raw id of the log-in session this request runs in; never stored (only its digest).
    session_id = None  # a str once log_in or the user loader sets it

    def get_session_id(self) -> str:
        """Return what Flask-Login keeps in the cookie: the session's id, not the user's."""
        if self.session_id is None:
            raise RuntimeError("log in through server.web.auth.log_in, which opens a session")
        return self.session_id

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # None: the token never expires (only when asked for with --no-expiry).
    expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    user: so.Mapped[User] = so.relationship(back_populates="tokens")


class LoginSession(db.Model):
    """A browser's log-in: the cookie holds its random id, the table only its SHA-256 digest."""

    __tablename__ = "login_session"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    user_agent: so.Mapped[str] = so.mapped_column(sa.String(256), default="")
    address: so.Mapped[str] = so.mapped_column(sa.String(64), default="")

    user: so.Mapped[User] = so.relationship(back_populates="sessions")


class LoginFailures(db.Model):
    """Failed log-ins counted for one account or one address, for the throttle's backoff."""

    __tablename__ = "login_failures"

    # "account:EMAIL" or "address:IP"
    key: so.Mapped[str] = so.mapped_column(sa.String(300), primary_key=True)
    count: so.Mapped[int] = so.mapped_column(default=0)
    last_failed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
