"""The instructor's "Pull roster from the LMS" button on an LTI-linked course's page."""

import logging

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

from server.courses import Forbidden, NotFound, course_role, get_course, require_instructor
from server.lti import roster
from server.models import Course, Role
from server.web.errors import error_page

bp = Blueprint("lti_roster", __name__)
log = logging.getLogger("rubric.lti")


@bp.app_context_processor
def _roster_button():
    """Let course.html ask whether to show the button: the user teaches an NRPS course."""
    return {"lti_roster_offered": _offered}


def _offered(course: Course) -> bool:
    teaches = course_role(current_user, course) == Role.INSTRUCTOR
    return teaches and bool(roster.linked_contexts(course))


def _course_taught(slug: str) -> Course:
    """The course, if the user teaches it; NotFound or Forbidden otherwise."""
    found = get_course(current_user, slug)
    require_instructor(current_user, found)
    return found


@bp.post("/courses/<course>/lti/roster")
@login_required
def pull(course: str):
    """Pull the roster from the LMS (NRPS), then show the gradebook with everyone in it."""
    try:
        found = _course_taught(course)
    except NotFound:
        return error_page(404, "Not Found")
    except Forbidden as exc:
        return error_page(403, "Forbidden", f"You may not do this: {exc}.")
    try:
        counts = roster.pull(found)
    except roster.RosterError as exc:
        log.warning("lti: roster of %s not pulled: %s", course, exc)
        return error_page(400, "Roster not pulled", str(exc))
    flash(f"Roster pulled from the LMS: {counts}.", "info")
    return redirect(url_for("web.gradebook", course=found.slug), code=303)
