"""Deep linking (an instructor adds Rubric activities to the LMS) and linking an LMS course.

An instructor's launch that needs a choice in the browser leaves a pending launch on
the server: the platform's return URL, data and deployment never travel through the
page. It is bound to the user and their log-in session, used once, and expires.
The answer to the platform is an LtiDeepLinkingResponse JWT (LTI-DL 2.0, 4.5) signed
with the tool's current key.
"""

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import sqlalchemy as sa

from server import courses
from server.courses import people
from server.extensions import db
from server.lti import accounts, keys, platforms
from server.lti.launch import CLAIM, DEEP_LINKING, DL_CLAIM, Launch
from server.lti.links import AGS, NRPS
from server.models import (
    Assignment,
    AssignmentKind,
    Course,
    LtiContext,
    LtiPendingLaunch,
    LtiPlatform,
    Role,
    User,
)
from server.models.types import utcnow
from server.scoring.quizzes import current_quiz
from server.submissions.exercises import current_exercise

# Long enough to pick an activity or name a course; short enough that a forgotten tab
# cannot be used much later.
PENDING_LIFETIME = timedelta(minutes=30)
# The signed answer is posted at once; keys.RETIRED_KEY_GRACE covers this lifetime.
RESPONSE_LIFETIME = timedelta(minutes=10)
RESOURCE_LINK_TYPE = "ltiResourceLink"
SAME_MOMENT = "this LMS course was linked at the same moment: open the activity again"
# The launch's role was a teaching one (only those get a pending launch): enrol as such.
TEACHING = ["Instructor"]


class Refused(Exception):
    """A choice that must be refused; the message says why, for the 400 page."""


def session_digest(session_id: str) -> str:
    """The SHA-256 of a log-in session's id, as the pending launch keeps it."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def is_instructor(launch: Launch) -> bool:
    """Whether the launch's LTI role teaches (Instructor, TA, ContentDeveloper)."""
    roles = accounts.launch_roles(launch)
    return isinstance(roles, list) and any(role in accounts.TEACHING_ROLES for role in roles)


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def start(launch: Launch, user: User, session_id: str) -> LtiPendingLaunch:
    """Keep what the instructor's launch asked for, server-side; purge expired ones."""
    now = utcnow()
    db.session.execute(
        sa.delete(LtiPendingLaunch).where(LtiPendingLaunch.created_at < now - PENDING_LIFETIME)
    )
    context = launch.claim("context") or {}
    settings = launch.claims.get(DL_CLAIM + "deep_linking_settings") or {}
    ags, nrps = launch.claims.get(AGS) or {}, launch.claims.get(NRPS) or {}
    pending = LtiPendingLaunch(
        token=secrets.token_urlsafe(32),
        user_id=user.id,
        session_digest=session_digest(session_id),
        platform_id=launch.platform.id,
        deployment_id=launch.claim("deployment_id"),
        message_type=launch.claim("message_type"),
        context_id=context["id"],
        context_title=_text(context.get("title"), 200),
        context_label=_text(context.get("label"), 200),
        lineitems_url=_text(ags.get("lineitems"), 1000) or None,
        memberships_url=_text(nrps.get("context_memberships_url"), 1000) or None,
        return_url=settings.get("deep_link_return_url"),
        data=json.dumps(settings["data"]) if "data" in settings else None,
        accept_multiple=settings.get("accept_multiple") is True,
        created_at=now,
    )
    db.session.add(pending)
    db.session.commit()
    return pending


def pending_for(token: str, user: User, session_id: str) -> LtiPendingLaunch:
    """The user's pending launch of this log-in session, if still fresh."""
    pending = db.session.get(LtiPendingLaunch, token)
    if pending is None:
        raise Refused("unknown or already used choice: open the activity again from the LMS")
    mine = pending.user_id == user.id and secrets.compare_digest(
        pending.session_digest, session_digest(session_id)
    )
    if not mine:
        raise Refused("this choice belongs to another log-in: open the activity from your LMS")
    if pending.created_at < utcnow() - PENDING_LIFETIME:
        raise Refused("this choice has expired: open the activity again from the LMS")
    return pending


def take(pending: LtiPendingLaunch) -> None:
    """Use the pending launch up; a second, concurrent use is refused."""
    deleted = db.session.execute(
        sa.delete(LtiPendingLaunch).where(LtiPendingLaunch.token == pending.token)
    )
    if deleted.rowcount != 1:
        db.session.rollback()
        raise Refused("this choice was already used: open the activity again from the LMS")
    db.session.commit()


def is_deep_linking(pending: LtiPendingLaunch) -> bool:
    """Whether the pending launch waits for activities to add (else only for a link)."""
    return pending.message_type == DEEP_LINKING


def platform_of(pending: LtiPendingLaunch) -> LtiPlatform:
    """The platform the pending launch came from."""
    return db.session.get(LtiPlatform, pending.platform_id)


def linked_context(pending: LtiPendingLaunch) -> LtiContext | None:
    """The link of the pending launch's LMS course, if it has one."""
    return platforms.find_context(platform_of(pending).issuer, pending.context_id)


def keep_services(context: LtiContext, pending: LtiPendingLaunch) -> None:
    """Keep the AGS line items and NRPS URLs the launch offered, as links.py does."""
    context.lineitems_url = pending.lineitems_url or context.lineitems_url
    context.memberships_url = pending.memberships_url or context.memberships_url
    db.session.commit()


# Linking an unlinked LMS course.


def courses_to_link(user: User) -> list[Course]:
    """The Rubric courses the user instructs (any course for an admin)."""
    return [c for c in courses.courses_for(user) if courses.course_role(user, c) == Role.INSTRUCTOR]


def suggested_title(pending: LtiPendingLaunch) -> str:
    """The new course's title: the LMS course's title, else its label."""
    return pending.context_title or pending.context_label or "LMS course"


def _check_unlinked(pending: LtiPendingLaunch) -> None:
    if linked_context(pending) is not None:
        raise Refused("this LMS course is already linked: open the activity again")


def link_existing(pending: LtiPendingLaunch, user: User, slug: str) -> Course:
    """Link the pending launch's LMS course to a Rubric course the user instructs."""
    _check_unlinked(pending)
    course = next((c for c in courses_to_link(user) if c.slug == slug), None)
    if course is None:
        raise Refused(f"you do not instruct a Rubric course {slug!r}")
    return _bind(pending, user, course)


def create_course(pending: LtiPendingLaunch, user: User, title: str) -> Course:
    """Create a Rubric course from the LMS course and link it; the user instructs it."""
    _check_unlinked(pending)
    title = " ".join(title.split())
    if not 0 < len(title) <= 200:
        raise Refused("the course title must have 1 to 200 characters")
    slug = _free_slug(pending.context_label or title)
    try:
        # The LMS says they teach this course: they create it, as an audited change.
        course = people.create_course(slug, title, actor=user)
    except people.Refused as exc:
        raise Refused(str(exc)) from None
    except sa.exc.IntegrityError:
        db.session.rollback()  # the slug was taken at the same moment
        raise Refused(SAME_MOMENT) from None
    return _bind(pending, user, course)


def _free_slug(name: str) -> str:
    """A course slug from a name (lowercase letters, digits, dashes), made unique."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:56].strip("-") or "course"
    taken = set(db.session.scalars(sa.select(Course.slug).where(Course.slug.like(f"{base}%"))))
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


def _bind(pending: LtiPendingLaunch, user: User, course: Course) -> Course:
    try:
        db.session.flush()  # a new course's row, and its id
        context = platforms.link_context(
            platform_of(pending).issuer, pending.context_id, course, suggested_title(pending)
        )
    except sa.exc.IntegrityError:
        # Another instructor linked this LMS course, or took the slug, at the same moment.
        db.session.rollback()
        raise Refused(SAME_MOMENT) from None
    keep_services(context, pending)
    accounts.enrol(user, course, TEACHING, platform_of(pending).issuer)
    return course


# The picker and the signed answer.


@dataclass(frozen=True)
class Choice:
    """An assignment offered in the picker, with the points its gradebook column takes."""

    assignment: Assignment
    score_maximum: float | None  # None: its content is not synced, it cannot be added


def score_maximum(assignment: Assignment) -> float | None:
    """The assignment's current quiz or exercise maximum, None if never synced."""
    try:
        if assignment.kind == AssignmentKind.QUIZ:
            return float(sum(q.points for q in current_quiz(assignment).questions))
        return float(current_exercise(assignment).max_score)
    except LookupError:
        return None


def picker_course(pending: LtiPendingLaunch, user: User) -> Course:
    """The linked course whose assignments the user may add: they must instruct it."""
    context = linked_context(pending)
    if context is None:
        raise Refused("this LMS course is not linked to a Rubric course yet")
    if courses.course_role(user, context.course) not in (Role.INSTRUCTOR, Role.TA):
        raise Refused("only the course's instructors can add its activities")
    return context.course


def choices(course: Course) -> list[Choice]:
    """The course's assignments, in order, with their maximum points."""
    return [Choice(a, score_maximum(a)) for a in course.assignments]


def chosen(pending: LtiPendingLaunch, course: Course, slugs: list[str]) -> list[Choice]:
    """The choices named by the form, checked against the course and the platform's settings."""
    if not slugs:
        raise Refused("choose an assignment to add")
    if len(slugs) > 1 and not pending.accept_multiple:
        raise Refused("the LMS accepts one activity here (accept_multiple is false)")
    offered = {choice.assignment.slug: choice for choice in choices(course)}
    picked = []
    for slug in dict.fromkeys(slugs):
        choice = offered.get(slug)
        if choice is None:
            raise Refused(f"no assignment {slug!r} in course {course.slug!r}")
        if choice.score_maximum is None:
            raise Refused(f"assignment {slug!r} has no synced content yet")
        picked.append(choice)
    return picked


def content_item(choice: Choice, launch_url: str) -> dict[str, Any]:
    """An ltiResourceLink content item with its gradebook column (LTI-DL 2.0, 3.1)."""
    assignment = choice.assignment
    return {
        "type": RESOURCE_LINK_TYPE,
        "title": assignment.title,
        "url": launch_url,
        "custom": {"assignment": assignment.slug},
        "lineItem": {
            "label": assignment.title,
            "scoreMaximum": choice.score_maximum,
            "resourceId": assignment.slug,
        },
    }


def response_token(pending: LtiPendingLaunch, items: list[dict], key_folder: Path) -> str:
    """The LtiDeepLinkingResponse, RS256-signed by the tool's current key under its kid."""
    platform = platform_of(pending)
    now = utcnow()
    claims = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": int(now.timestamp()),
        "exp": int((now + RESPONSE_LIFETIME).timestamp()),
        "nonce": secrets.token_urlsafe(24),
        CLAIM + "deployment_id": pending.deployment_id,
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
        DL_CLAIM + "content_items": items,
    }
    if pending.data is not None:
        claims[DL_CLAIM + "data"] = json.loads(pending.data)
    key = keys.current_key(key_folder)
    private = keys.private_pem(key_folder, key.kid)
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": key.kid})
