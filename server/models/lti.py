"""LTI 1.3: registered platforms, their deployments, identities and links, login state."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.extensions import db
from server.models.accounts import User
from server.models.courses import Assignment, Course
from server.models.types import UTCDateTime, enum_column, utcnow

# Issuers, client ids, subjects and context ids are opaque strings the LMS chooses.
_ID = sa.String(255)
_URL = sa.String(1000)


class LtiPlatform(db.Model):
    """An LMS registration: one (issuer, client id) with its OIDC and key-set endpoints."""

    __tablename__ = "lti_platform"
    __table_args__ = (sa.UniqueConstraint("issuer", "client_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    issuer: so.Mapped[str] = so.mapped_column(_ID)
    client_id: so.Mapped[str] = so.mapped_column(_ID)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    auth_login_url: so.Mapped[str] = so.mapped_column(_URL)
    auth_token_url: so.Mapped[str] = so.mapped_column(_URL)
    keyset_url: so.Mapped[str] = so.mapped_column(_URL)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    deployments: so.Mapped[list["LtiDeployment"]] = so.relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="LtiDeployment.id"
    )


class LtiDeployment(db.Model):
    """A deployment id the platform may launch with; any other is refused."""

    __tablename__ = "lti_deployment"
    __table_args__ = (sa.UniqueConstraint("platform_id", "deployment_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    platform_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("lti_platform.id", ondelete="CASCADE")
    )
    deployment_id: so.Mapped[str] = so.mapped_column(_ID)

    platform: so.Mapped[LtiPlatform] = so.relationship(back_populates="deployments")


class LtiUser(db.Model):
    """The Rubric account of an LMS user, known by (issuer, sub)."""

    __tablename__ = "lti_user"
    __table_args__ = (sa.UniqueConstraint("issuer", "sub"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    issuer: so.Mapped[str] = so.mapped_column(_ID)
    sub: so.Mapped[str] = so.mapped_column(_ID)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    user: so.Mapped[User] = so.relationship()


class LtiContext(db.Model):
    """An LMS course (issuer, context id) linked to a Rubric course."""

    __tablename__ = "lti_context"
    __table_args__ = (sa.UniqueConstraint("issuer", "context_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    issuer: so.Mapped[str] = so.mapped_column(_ID)
    context_id: so.Mapped[str] = so.mapped_column(_ID)
    course_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("course.id", ondelete="CASCADE"), index=True
    )
    title: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    # Service endpoints from the latest launch's claims (AGS line items, NRPS), if offered.
    lineitems_url: so.Mapped[str | None] = so.mapped_column(_URL)
    memberships_url: so.Mapped[str | None] = so.mapped_column(_URL)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    course: so.Mapped[Course] = so.relationship()


class LtiResourceLink(db.Model):
    """An LMS activity (issuer, resource link id), optionally pointing at one assignment."""

    __tablename__ = "lti_resource_link"
    __table_args__ = (sa.UniqueConstraint("issuer", "resource_link_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    issuer: so.Mapped[str] = so.mapped_column(_ID)
    resource_link_id: so.Mapped[str] = so.mapped_column(_ID)
    context_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("lti_context.id", ondelete="CASCADE"), index=True
    )
    assignment_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("assignment.id", ondelete="SET NULL"), index=True
    )
    title: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    # The AGS line item of this link, from the launch's endpoint claim, if offered.
    lineitem_url: so.Mapped[str | None] = so.mapped_column(_URL)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    context: so.Mapped[LtiContext | None] = so.relationship()
    assignment: so.Mapped[Assignment | None] = so.relationship()


class LtiLoginState(db.Model):
    """A login in progress: the state handed to the platform and the nonce it must echo.

    Deleted when a launch consumes it (single use); rows older than the login's
    lifetime are refused and purged.
    """

    __tablename__ = "lti_login_state"

    state: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    nonce: so.Mapped[str] = so.mapped_column(sa.String(64))
    platform_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("lti_platform.id", ondelete="CASCADE"), index=True
    )
    target_link_uri: so.Mapped[str] = so.mapped_column(_URL)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)


class LtiNonce(db.Model):
    """A nonce a launch has used: a second launch with it is a replay."""

    __tablename__ = "lti_nonce"

    nonce: so.Mapped[str] = so.mapped_column(sa.String(255), primary_key=True)
    used_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)


class LtiToolKey(db.Model):
    """One of the tool's RSA signing keys; the private key is a 0600 file in instance/.

    retired_at is set when a newer key takes over; the key stays published in the
    JWKS until expires_at, so tokens signed with it can still be checked.
    """

    __tablename__ = "lti_tool_key"

    kid: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    retired_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)


class LtiPendingLaunch(db.Model):
    """An instructor's launch waiting for a choice in the browser: a course to link, or
    (deep linking) the assignments to add to the LMS.

    What the platform asked for (return URL, opaque data, deployment) stays here, on the
    server, bound to the user and their log-in session; it is used once and expires.
    """

    __tablename__ = "lti_pending_launch"

    token: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the log-in session's id: another browser of the same user cannot use it.
    session_digest: so.Mapped[str] = so.mapped_column(sa.String(64))
    platform_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("lti_platform.id", ondelete="CASCADE"), index=True
    )
    deployment_id: so.Mapped[str] = so.mapped_column(_ID)
    message_type: so.Mapped[str] = so.mapped_column(sa.String(32))
    context_id: so.Mapped[str] = so.mapped_column(_ID)
    context_title: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    context_label: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    lineitems_url: so.Mapped[str | None] = so.mapped_column(_URL)
    memberships_url: so.Mapped[str | None] = so.mapped_column(_URL)
    # Deep linking only: where the answer goes, and the request's data claim as JSON text
    # (None when the request had none, so it is echoed exactly or not at all).
    return_url: so.Mapped[str | None] = so.mapped_column(_URL)
    data: so.Mapped[str | None] = so.mapped_column(sa.Text)
    accept_multiple: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)


class PassbackStatus(StrEnum):
    """Where a score stands on its way to the LMS."""

    PENDING = "pending"  # to send, now or at next_try_at
    SENT = "sent"  # the LMS accepted this version
    FAILED = "failed"  # refused for good, or retried too often: shown, resendable


class LtiPassback(db.Model):
    """The outbox of grade passback: the newest counted score of a student for one LMS link.

    Written in the same transaction as the attempt or result that changed the score, so
    no score is lost; a sender posts it to the link's line item (AGS) and marks it sent
    only if `version` is still the one it sent.
    """

    __tablename__ = "lti_passback"
    __table_args__ = (sa.UniqueConstraint("resource_link_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    resource_link_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("lti_resource_link.id", ondelete="CASCADE")
    )
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    assignment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("assignment.id", ondelete="CASCADE"), index=True
    )
    score_given: so.Mapped[float]
    score_maximum: so.Mapped[float]
    # When the score changed: the AGS timestamp, strictly increasing per row.
    changed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    version: so.Mapped[int] = so.mapped_column(default=1)  # +1 on each change
    status: so.Mapped[PassbackStatus] = so.mapped_column(
        enum_column(PassbackStatus), default=PassbackStatus.PENDING
    )
    tries: so.Mapped[int] = so.mapped_column(default=0)  # failed sends of this version
    next_try_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime, index=True)
    # A sender holds the row until then; a sender that died frees it by expiry.
    lease_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    last_error: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    resource_link: so.Mapped[LtiResourceLink] = so.relationship()
    user: so.Mapped[User] = so.relationship()
