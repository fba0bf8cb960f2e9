"""Publishing assignments, their dates and policies, extensions and score overrides.

Instructors configure (publish, dates, policies, extensions); overrides are grading,
so a course's TAs may set and clear them too. Thin views over server/courses/.
"""

import sqlalchemy as sa
from flask import g

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.api.inputs import body
from server.api.models import (
    AccommodationRequest,
    AssignmentSettingsRequest,
    ExtensionRequest,
    OverrideRequest,
    PublishRequest,
)
from server.api.serialize import in_zone
from server.courses import (
    accommodations,
    extensions,
    get_assignment,
    get_course,
    overrides,
    require_instructor,
    require_staff,
)
from server.courses import assignments as publishing
from server.courses.people import Refused
from server.extensions import db
from server.models import Assignment
from server.scoring.gradebook import counted_entry, entry_json

SETTINGS = publishing.SETTINGS


@bp.post("/courses/<course>/assignments")
@token_required
def publish_assignment(course: str):
    """Publish a quiz or exercise of the content into the course (instructors).

    422 with `field` for unknown content, a taken slug, a time without its offset, a
    due date before the opening, late_until before the due date, a penalty outside 0..1.
    """
    found = get_course(g.user, course)
    require_instructor(g.user, found)
    wanted = body(PublishRequest)
    settings = {name: getattr(wanted, name) for name in SETTINGS if name in wanted.model_fields_set}
    made = _done(
        lambda: publishing.publish(
            found, wanted.content, g.user, wanted.slug, wanted.title or "", **settings
        )
    )
    return _settings(made, 0), 201


@bp.patch("/courses/<course>/assignments/<slug>")
@token_required
def update_assignment(course: str, slug: str):
    """Change an assignment's title, dates or policies (instructors); only given fields change.

    Counted scores follow at once; `rescored` says how many changed scores were queued
    for the LMS. null clears a date, a penalty or the attempt limit.
    """
    assignment = _configurable(course, slug)
    wanted = body(AssignmentSettingsRequest)
    changes = {name: getattr(wanted, name) for name in wanted.model_fields_set}
    queued = _done(lambda: publishing.update(assignment, g.user, **changes))
    return _settings(assignment, queued)


@bp.put("/courses/<course>/assignments/<slug>/extensions/<email>")
@token_required
def grant_extension(course: str, slug: str, email: str):
    """Give a student their own due date and late window on an assignment (instructors)."""
    assignment = _configurable(course, slug)
    wanted = body(ExtensionRequest)
    made = _done(
        lambda: extensions.grant(assignment, email, wanted.due_at, wanted.late_until, g.user)
    )
    zone = assignment.course.timezone
    return {
        "assignment": assignment.slug,
        "email": made.user.email,
        "due_at": in_zone(made.due_at, zone).isoformat(),
        "late_until": made.late_until and in_zone(made.late_until, zone).isoformat(),
    }


@bp.delete("/courses/<course>/assignments/<slug>/extensions/<email>")
@token_required
def revoke_extension(course: str, slug: str, email: str):
    """Take a student's extension back (instructors); 404 when they have none."""
    assignment = _configurable(course, slug)
    if not _done(lambda: extensions.revoke(assignment, email, g.user)):
        raise ApiError(404, "not_found", f"{email[:254]} has no extension on {slug!r}")
    return "", 204


@bp.put("/courses/<course>/assignments/<slug>/overrides/<email>")
@token_required
def set_override(course: str, slug: str, email: str):
    """Set a student's counted score by hand, or excuse them, with a reason (staff)."""
    assignment = _gradable(course, slug)
    wanted = body(OverrideRequest)
    made = _done(
        lambda: overrides.override(
            assignment, email, wanted.score, wanted.excused, wanted.reason, g.user
        )
    )
    entry = entry_json(counted_entry(assignment, made.user_id))
    return {"assignment": slug, "email": made.user.email, "entry": entry, "reason": made.reason}


@bp.delete("/courses/<course>/assignments/<slug>/overrides/<email>")
@token_required
def clear_override(course: str, slug: str, email: str):
    """Undo a student's override: their work counts again (staff); 404 when there is none."""
    assignment = _gradable(course, slug)
    if not _done(lambda: overrides.clear(assignment, email, g.user)):
        raise ApiError(404, "not_found", f"{email[:254]} has no override on {slug!r}")
    return "", 204


@bp.put("/courses/<course>/accommodations/<email>")
@token_required
def grant_accommodation(course: str, email: str):
    """Shift every due date and late window of a student in the course (instructors)."""
    found = get_course(g.user, course)
    require_instructor(g.user, found)
    wanted = body(AccommodationRequest)
    made = _done(
        lambda: accommodations.grant(found, email, wanted.shift_hours, wanted.reason, g.user)
    )
    return {"course": found.slug, "email": made.user.email} | accommodations.shown(made)


@bp.delete("/courses/<course>/accommodations/<email>")
@token_required
def revoke_accommodation(course: str, email: str):
    """Take a student's accommodation back (instructors); 404 when they have none."""
    found = get_course(g.user, course)
    require_instructor(g.user, found)
    if not _done(lambda: accommodations.revoke(found, email, g.user)):
        raise ApiError(404, "not_found", f"{email[:254]} has no accommodation in {course!r}")
    return "", 204


def _configurable(course: str, slug: str) -> Assignment:
    """An assignment the user may configure: they teach its course."""
    assignment = get_assignment(g.user, course, slug)
    require_instructor(g.user, assignment.course)
    return assignment


def _gradable(course: str, slug: str) -> Assignment:
    """An assignment the user may grade: a TA or an instructor of its course."""
    assignment = get_assignment(g.user, course, slug)
    require_staff(g.user, assignment.course)
    return assignment


def _done(change):
    """Run a change and commit it; a refusal is a 422 naming the field, nothing kept.

    Two requests making the same extension, override or slug at once: the later commit
    fails on the unique row and runs once more against what the other one stored.
    """
    for attempt in (1, 2):
        try:
            done = change()
            db.session.commit()
            return done
        except Refused as refused:
            db.session.rollback()
            raise ApiError(422, "invalid_value", str(refused), field=refused.field) from None
        except sa.exc.IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise ApiError(409, "conflict", "changed meanwhile by another request") from None
    raise AssertionError("unreachable")


def _settings(assignment: Assignment, rescored: int) -> dict:
    """An assignment's settings, times in the course's time zone."""
    zone = assignment.course.timezone
    shown = {"slug": assignment.slug, "kind": assignment.kind.value, "timezone": zone}
    for name, value in publishing.settings_of(assignment).items():
        shown[name] = value
    for name in publishing.TIMES:
        moment = getattr(assignment, name)
        shown[name] = moment and in_zone(moment, zone).isoformat()
    return shown | {"rescored": rescored}
