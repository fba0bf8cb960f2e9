"""Instructors' pages for running a course: assignments (publish, edit), extensions,
overrides, accommodations and the course's settings. Thin: the work is in server/courses.

Times are entered and shown in the course's time zone, with its offset; they are
stored in UTC. Every write is a form with its CSRF token and is audited by the domain.
"""

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

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
from server.courses.people import Refused, members
from server.courses.settings import content_choices, update_course
from server.extensions import db
from server.models import (
    Assignment,
    Course,
    Extension,
    FeedbackRelease,
    Role,
    ScoreOverride,
    ScorePolicy,
    User,
)
from server.scoring import late
from server.web import bp
from server.web.errors import nul_free

LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
RELEASES = {
    FeedbackRelease.IMMEDIATELY.value: "at once",
    FeedbackRelease.AFTER_DUE.value: "after the student's own due date",
    FeedbackRelease.NEVER.value: "never",
}


def zone_of(course: Course) -> ZoneInfo:
    """The course's time zone (UTC if its name is unknown here)."""
    try:
        return ZoneInfo(course.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@bp.app_template_filter("zoned")
def zoned(moment: datetime | None, course: Course) -> str:
    """A moment in the course's zone with its offset, e.g. 2026-12-01 23:59 CET (UTC+01:00)."""
    if moment is None:
        return "none"
    try:
        local = moment.astimezone(zone_of(course))
    except OverflowError:  # the last moments of the year 9999, ahead of UTC
        local = moment.astimezone(UTC)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


@bp.app_template_global("my_dates")
def my_dates(assignment: Assignment) -> dict:
    """The signed-in user's own dates and the late rule of an assignment, for _dates.html."""
    return {"dates": late.dates_for(assignment, current_user.id), "rule": late.rule_of(assignment)}


def local_value(moment: datetime | None, course: Course) -> str:
    """A stored moment as a datetime-local field's value in the course's zone."""
    if moment is None:
        return ""
    local = moment.astimezone(zone_of(course))
    return local.strftime(LOCAL + (":%S" if local.second else ""))  # seconds kept if set


def from_local(text: str, course: Course, field: str) -> datetime | None:
    """A datetime-local value read in the course's zone; None when blank."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(f"{text[:30]!r} is not a date and time (2026-12-01T23:59)", field) from None
    moment = naive if naive.tzinfo is not None else naive.replace(tzinfo=zone_of(course))
    try:
        return moment.astimezone(UTC)  # stored, compared and audited in UTC
    except OverflowError:  # e.g. 0001-01-01T00:30 in Berlin is before the first UTC date
        raise Refused(f"{field} is out of range", field) from None


def _percent(text: str, field: str) -> float | None:
    """A percentage from 0 to 100 as a fraction; None when blank."""
    text = (text or "").strip().rstrip("%").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 100:
        raise Refused(f"{field.replace('_', ' ')} is a percentage from 0 to 100", field)
    return number / 100


def _whole(text: str, field: str) -> int | None:
    """A whole number, or None when blank."""
    text = (text or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise Refused(f"{field.replace('_', ' ')} is a whole number", field)
    return int(text)


def settings_from(form, course: Course) -> dict:
    """An assignment's settings from the publish or edit form."""
    late_window = form.get("late", "none") == "until"
    penalty = _percent(form.get("penalty", ""), "penalty") if late_window else None
    per_hour = form.get("penalty_unit") == "hour"
    return {
        "opens_at": from_local(form.get("opens_at", ""), course, "opens_at"),
        "due_at": from_local(form.get("due_at", ""), course, "due_at"),
        "late_until": (
            from_local(form.get("late_until", ""), course, "late_until") if late_window else None
        ),
        "late_penalty_per_day": None if per_hour else penalty,
        "late_penalty_per_hour": penalty if per_hour else None,
        "late_penalty_cap": _percent(form.get("cap", ""), "cap") if late_window else None,
        "attempt_limit": _whole(form.get("attempt_limit", ""), "attempt_limit"),
        "score_policy": form.get("score_policy") or ScorePolicy.BEST.value,
        "feedback_release": form.get("feedback_release") or FeedbackRelease.IMMEDIATELY.value,
    } | _weight(form)


def _weight(form) -> dict:
    """The weight, when the form gives one (blank keeps it; a new assignment's is 1)."""
    weight = form.get("weight", "").strip()
    return {"weight": weight} if weight else {}


def _late_window_checked(settings: dict) -> None:
    """Accepting late work needs the date it ends."""
    if settings["late_until"] is None and (
        settings["late_penalty_per_day"] or settings["late_penalty_per_hour"]
    ):
        raise Refused("late work needs the date until which it is accepted", "late_until")


def form_values(assignment: Assignment | None, course: Course) -> dict:
    """The form's fields for an assignment (blank for a new one), times in the course's zone."""
    if assignment is None:
        return {"late": "none", "penalty_unit": "day", "score_policy": "best"} | {
            "feedback_release": "immediately"
        }
    per_hour = assignment.late_penalty_per_hour is not None
    penalty = assignment.late_penalty_per_hour if per_hour else assignment.late_penalty_per_day
    cap = assignment.late_penalty_cap
    return {
        "title": assignment.title,
        "slug": assignment.slug,
        "content": assignment.content_slug,
        "opens_at": local_value(assignment.opens_at, course),
        "due_at": local_value(assignment.due_at, course),
        "late": "until" if assignment.late_until else "none",
        "late_until": local_value(assignment.late_until, course),
        "penalty": "" if penalty is None else f"{penalty * 100:g}",
        "penalty_unit": "hour" if per_hour else "day",
        "cap": "" if cap is None else f"{cap * 100:g}",
        "attempt_limit": assignment.attempt_limit or "",
        "score_policy": ScorePolicy(assignment.score_policy).value,
        "feedback_release": FeedbackRelease(assignment.feedback_release).value,
        "weight": f"{assignment.weight:g}",
    }


def _instructed(course: str) -> Course:
    """The course, if the current user configures it (404 if not theirs, 403 otherwise)."""
    found = get_course(current_user, course)
    require_instructor(current_user, found)
    return found


def _staffed(course: str, slug: str) -> Assignment:
    """An assignment of a course the current user grades (TA or instructor)."""
    assignment = get_assignment(current_user, course, slug)
    require_staff(current_user, assignment.course)
    return assignment


def _configured(course: str, slug: str) -> Assignment:
    """An assignment of a course the current user configures (instructor)."""
    assignment = get_assignment(current_user, course, slug)
    require_instructor(current_user, assignment.course)
    return assignment


def _configures(course: Course) -> bool:
    """Whether the current user configures the course (an instructor, not a TA)."""
    try:
        require_instructor(current_user, course)
    except PermissionError:
        return False
    return True


def _commit(change) -> None:
    """Run a change and commit it; a refusal rolls it back and is raised for the form."""
    try:
        change()
        db.session.commit()
    except Refused:
        db.session.rollback()
        raise
    except sa.exc.IntegrityError:  # the same row made meanwhile by another request
        db.session.rollback()
        raise Refused("changed meanwhile by someone else; look and try again") from None


# Assignments of a course


@bp.get("/courses/<course>/assignments", endpoint="course_assignments")
@login_required
def assignments_page(course: str):
    """The course's assignments with their dates and policies (staff); the publish form."""
    found = get_course(current_user, course)
    require_staff(current_user, found)
    return _assignments(found)


def _assignments(found: Course, values: dict | None = None, problem=None, status: int = 200):
    page = render_template(
        "course_assignments.html",
        course=found,
        configures=_configures(found),
        choices=content_choices(),
        values=values or form_values(None, found),
        problem=problem,
        releases=RELEASES,
    )
    return page, status


@bp.post("/courses/<course>/assignments")
@login_required
@nul_free
def publish_assignment(course: str):
    """Publish a quiz or exercise of the content into the course (instructors)."""
    found = _instructed(course)
    form = request.form
    try:
        settings = settings_from(form, found)
        _late_window_checked(settings)
        content = form.get("content", "").partition(":")[2] or form.get("content", "")
        slug, title = form.get("slug", "").strip(), form.get("title", "")
        _commit(lambda: publishing.publish(found, content, current_user, slug, title, **settings))
    except Refused as refused:
        return _assignments(found, dict(form), refused, 400)
    flash(f"Published {slug or content!r}.", "info")
    return redirect(url_for("web.course_assignments", course=found.slug))


@bp.route("/courses/<course>/assignments/<slug>/edit", methods=["GET", "POST"])
@login_required
@nul_free
def edit_assignment(course: str, slug: str):
    """Change an assignment's title, dates and policies (instructors); scores follow at once."""
    assignment = _configured(course, slug)
    found = assignment.course
    if request.method == "GET":
        return _edit(assignment, form_values(assignment, found))
    form = request.form
    try:
        settings = settings_from(form, found)
        _late_window_checked(settings)
        changes = settings | {"title": form.get("title", "")}
        _commit(lambda: publishing.update(assignment, current_user, **changes))
    except Refused as refused:
        return _edit(assignment, dict(form), refused, 400)
    flash(f"{assignment.title} is saved; counted scores follow the new settings.", "info")
    return redirect(url_for("web.course_assignments", course=found.slug))


def _edit(assignment: Assignment, values: dict, problem=None, status: int = 200):
    page = render_template(
        "assignment_edit.html",
        course=assignment.course,
        assignment=assignment,
        values=values,
        problem=problem,
        releases=RELEASES,
    )
    return page, status


# Extensions and overrides of one assignment


@bp.get("/courses/<course>/assignments/<slug>/students", endpoint="assignment_students")
@login_required
def assignment_students(course: str, slug: str):
    """An assignment's extensions and overrides, with their forms (staff)."""
    return _students(_staffed(course, slug))


def _students(assignment: Assignment, problem=None, values: dict | None = None, status=200):
    found = assignment.course
    page = render_template(
        "assignment_students.html",
        course=found,
        assignment=assignment,
        configures=_configures(found),
        students=[m for m in members(found) if m.role == Role.STUDENT],
        extensions=_extensions_of(assignment),
        overrides=_overrides_of(assignment),
        problem=problem,
        values=values or {},
    )
    return page, status


def _extensions_of(assignment: Assignment) -> list[tuple[Extension, late.Dates]]:
    query = sa.select(Extension).join(Extension.user).options(so.contains_eager(Extension.user))
    found = db.session.scalars(
        query.where(Extension.assignment_id == assignment.id).order_by(User.email)
    )
    return [(e, late.shifted(assignment, e)) for e in found]


def _overrides_of(assignment: Assignment) -> list[ScoreOverride]:
    query = sa.select(ScoreOverride).join(ScoreOverride.user)
    found = db.session.scalars(
        query.options(so.contains_eager(ScoreOverride.user))
        .where(ScoreOverride.assignment_id == assignment.id)
        .order_by(User.email)
    )
    return list(found)


def _back_to_students(assignment: Assignment, message: str):
    flash(message, "info")
    return redirect(
        url_for("web.assignment_students", course=assignment.course.slug, slug=assignment.slug)
    )


@bp.post("/courses/<course>/assignments/<slug>/extensions")
@login_required
@nul_free
def grant_extension(course: str, slug: str):
    """Give a student their own due date and late window (instructors)."""
    assignment = _configured(course, slug)
    form, found = request.form, assignment.course
    email = form.get("email", "")
    try:
        due = from_local(form.get("due_at", ""), found, "due_at")
        until = from_local(form.get("late_until", ""), found, "late_until")
        _commit(lambda: extensions.grant(assignment, email, due, until, current_user))
    except Refused as refused:
        return _students(assignment, refused, dict(form), 400)
    return _back_to_students(assignment, f"{email} has an extension on {assignment.title}.")


@bp.post("/courses/<course>/assignments/<slug>/extensions/revoke")
@login_required
@nul_free
def revoke_extension(course: str, slug: str):
    """Take a student's extension back (instructors)."""
    return _take_back(_configured(course, slug), extensions.revoke, "extension", "revoked")


@bp.post("/courses/<course>/assignments/<slug>/overrides")
@login_required
@nul_free
def set_override(course: str, slug: str):
    """Set a student's score by hand, or excuse them, with a reason (TAs and instructors)."""
    assignment = _staffed(course, slug)
    form = request.form
    email, excused = form.get("email", ""), form.get("excused") == "yes"
    score = None if excused else (form.get("score", "").strip() or None)
    try:
        _commit(
            lambda: overrides.override(
                assignment, email, score, excused, form.get("reason", ""), current_user
            )
        )
    except Refused as refused:
        return _students(assignment, refused, dict(form), 400)
    done = "is excused" if excused else f"has the score {score}"
    return _back_to_students(assignment, f"{email} {done} on {assignment.title}.")


@bp.post("/courses/<course>/assignments/<slug>/overrides/clear")
@login_required
@nul_free
def clear_override(course: str, slug: str):
    """Undo a student's override: their work counts again (TAs and instructors)."""
    return _take_back(_staffed(course, slug), overrides.clear, "override", "cleared")


def _take_back(assignment: Assignment, undo, what: str, done: str):
    """Undo a student's extension or override, named by the form's e-mail."""
    email = request.form.get("email", "")
    try:
        _commit(lambda: undo(assignment, email, current_user))
    except Refused as refused:
        return _students(assignment, refused, status=400)
    return _back_to_students(assignment, f"The {what} of {email} is {done}.")


# Accommodations and the course's settings


@bp.get("/courses/<course>/accommodations", endpoint="accommodations")
@login_required
def accommodations_page(course: str):
    """The course's accommodations, and the form to grant one (instructors)."""
    found = _instructed(course)
    return _accommodations(found, {"email": request.args.get("email", "")})


def _accommodations(found: Course, values: dict, problem=None, status: int = 200):
    page = render_template(
        "accommodations.html",
        course=found,
        found=accommodations.accommodations(found),
        students=[m for m in members(found) if m.role == Role.STUDENT],
        values=values,
        problem=problem,
    )
    return page, status


@bp.post("/courses/<course>/accommodations")
@login_required
@nul_free
def grant_accommodation(course: str):
    """Shift every due date of one student by some hours (instructors)."""
    found = _instructed(course)
    form = request.form
    email = form.get("email", "")
    try:
        hours = form.get("shift_hours", "").strip()
        _commit(
            lambda: accommodations.grant(found, email, hours, form.get("reason", ""), current_user)
        )
    except Refused as refused:
        return _accommodations(found, dict(form), refused, 400)
    flash(f"The dates of {email} move by {hours} hour(s) in every assignment.", "info")
    return redirect(url_for("web.accommodations", course=found.slug))


@bp.post("/courses/<course>/accommodations/revoke")
@login_required
@nul_free
def revoke_accommodation(course: str):
    """Take a student's accommodation back (instructors)."""
    found = _instructed(course)
    email = request.form.get("email", "")
    try:
        _commit(lambda: accommodations.revoke(found, email, current_user))
    except Refused as refused:
        return _accommodations(found, {}, refused, 400)
    flash(f"The accommodation of {email} is revoked.", "info")
    return redirect(url_for("web.accommodations", course=found.slug))


@bp.route("/courses/<course>/settings", methods=["GET", "POST"], endpoint="course_settings")
@login_required
@nul_free
def course_settings(course: str):
    """The course's title, term and time zone (instructors)."""
    found = _instructed(course)
    if request.method == "GET":
        values = {"title": found.title, "term": found.term, "timezone": found.timezone}
        return render_template("course_settings.html", course=found, values=values)
    form = request.form
    values = {k: form.get(k, "") for k in ("title", "term", "timezone")}
    try:
        _commit(lambda: update_course(found, current_user, **values))
    except Refused as refused:
        db.session.refresh(found)
        page = render_template("course_settings.html", course=found, values=values, problem=refused)
        return page, 400
    flash("The course's settings are saved.", "info")
    return redirect(url_for("web.course_settings", course=found.slug))
