"""Courses, who is enrolled in them, and the assignments published in them."""

import enum
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.accounts import Role, User
from server.models.types import UTCDateTime, enum_column, utcnow


class AssignmentKind(enum.StrEnum):
    """What kind of content an assignment publishes."""

    QUIZ = "quiz"
    EXERCISE = "exercise"


class ScorePolicy(enum.StrEnum):
    """Which attempt counts in the gradebook."""

    BEST = "best"
    LAST = "last"


class FeedbackRelease(enum.StrEnum):
    """When students see hidden-test names, quiz explanations and the right choices."""

    IMMEDIATELY = "immediately"
    AFTER_DUE = "after_due"  # after the student's own due date (extension, accommodation)
    NEVER = "never"


class Course(db.Model):
    """A course, addressed by its slug in URLs."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    slug: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    # e.g. "Fall 2026"; free text, shown beside the title.
    term: so.Mapped[str] = so.mapped_column(sa.String(64), default="", server_default="")
    # An IANA zone name: the course's dates are entered and shown in it.
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="UTC", server_default="UTC")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    assignments: so.Mapped[list["Assignment"]] = so.relationship(
        back_populates="course", order_by="Assignment.id"
    )


class Enrollment(db.Model):
    """A user's membership of a course, as a student, a TA or an instructor."""

    __table_args__ = (sa.UniqueConstraint("course_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    course_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("course.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    role: so.Mapped[Role] = so.mapped_column(enum_column(Role), default=Role.STUDENT)

    course: so.Mapped[Course] = so.relationship()
    user: so.Mapped[User] = so.relationship()


class Assignment(db.Model):
    """A quiz or exercise published in a course, with its due date and grading policy.

    It names its content by slug: new attempts use the newest synced version, while
    recorded attempts keep pointing at the version they were graded against.
    """

    __table_args__ = (sa.UniqueConstraint("course_id", "slug"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    course_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("course.id", ondelete="CASCADE"))
    slug: so.Mapped[str] = so.mapped_column(sa.String(64))
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    kind: so.Mapped[AssignmentKind] = so.mapped_column(enum_column(AssignmentKind))
    content_slug: so.Mapped[str] = so.mapped_column(sa.String(64))
    # Before opens_at nobody may submit; None: open at once.
    opens_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    due_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # The late policy (server/scoring/late.py): work is accepted until late_until (None:
    # the due date is a hard cutoff), less a fraction of the maximum per started day or
    # hour late, at most late_penalty_cap of it in all.
    late_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    late_penalty_per_day: so.Mapped[float | None]
    late_penalty_per_hour: so.Mapped[float | None]
    late_penalty_cap: so.Mapped[float | None]
    attempt_limit: so.Mapped[int | None]
    score_policy: so.Mapped[ScorePolicy] = so.mapped_column(
        enum_column(ScorePolicy), default=ScorePolicy.BEST
    )
    feedback_release: so.Mapped[FeedbackRelease] = so.mapped_column(
        enum_column(FeedbackRelease),
        default=FeedbackRelease.IMMEDIATELY,
        server_default=FeedbackRelease.IMMEDIATELY.value,
    )
    # How much the assignment counts in a student's weighted percentage (gradebook).
    weight: so.Mapped[float] = so.mapped_column(default=1.0, server_default=sa.text("1"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    course: so.Mapped[Course] = so.relationship(back_populates="assignments")


class Extension(db.Model):
    """A student's own dates for one assignment: a new due date and late window."""

    __table_args__ = (sa.UniqueConstraint("assignment_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    assignment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("assignment.id", ondelete="CASCADE")
    )
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    due_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    # None: the assignment's late window, moved with the due date.
    late_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    granted_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    user: so.Mapped[User] = so.relationship()


class ScoreOverride(db.Model):
    """A score set by hand for one student on one assignment, or the student excused."""

    __tablename__ = "score_override"
    __table_args__ = (sa.UniqueConstraint("assignment_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    assignment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("assignment.id", ondelete="CASCADE")
    )
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    score: so.Mapped[float | None]  # None when excused
    max_score: so.Mapped[float]
    excused: so.Mapped[bool] = so.mapped_column(default=False)
    reason: so.Mapped[str] = so.mapped_column(sa.Text)
    set_by: so.Mapped[str] = so.mapped_column(sa.String(254))
    set_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    user: so.Mapped[User] = so.relationship()


class Accommodation(db.Model):
    """A course-wide shift of every due date and late window of one student."""

    __table_args__ = (sa.UniqueConstraint("course_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    course_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("course.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    # Added to the due date and the late window of every assignment of the course,
    # except where the student has an extension of their own for it.
    shift_seconds: so.Mapped[int]
    reason: so.Mapped[str] = so.mapped_column(sa.Text)
    granted_by: so.Mapped[str] = so.mapped_column(sa.String(254))
    granted_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    user: so.Mapped[User] = so.relationship()
