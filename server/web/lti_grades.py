"""The instructor's grade passback page: per student, whether the score reached the LMS."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from server.courses import (
    Forbidden,
    NotFound,
    course_role,
    get_assignment,
    get_course,
    require_instructor,
)
from server.lti import passback
from server.models import Assignment, Course, Role
from server.web.errors import error_page

bp = Blueprint("lti_grades", __name__)


@bp.app_context_processor
def _lms_grades_link():
    """Let gradebook.html ask whether to link an assignment's LMS grades page."""
    return {"lms_grades_offered": _offered, "lms_grades_linked": _linked}


def _offered(assignment: Assignment) -> bool:
    teaches = course_role(current_user, assignment.course) == Role.INSTRUCTOR
    return teaches and passback.has_links(assignment)


def _linked(course: Course) -> set[int]:
    """The assignments whose LMS grades page the gradebook links: one query per page."""
    if course_role(current_user, course) != Role.INSTRUCTOR:
        return set()
    return passback.linked_in(course.id)


def _assignment_taught(course: str, slug: str) -> Assignment:
    """The assignment, if the user teaches its course; NotFound or Forbidden otherwise."""
    found = get_assignment(current_user, course, slug)
    require_instructor(current_user, get_course(current_user, course))
    return found


def _refused(exc: Exception):
    if isinstance(exc, NotFound):
        return error_page(404, "Not Found")
    return error_page(403, "Forbidden", f"You may not see this page: {exc}.")


@bp.get("/courses/<course>/assignments/<slug>/lms-grades")
@login_required
def status(course: str, slug: str):
    """Each student's passback state on each LMS link of the assignment."""
    try:
        found = _assignment_taught(course, slug)
    except (NotFound, Forbidden) as exc:
        return _refused(exc)
    links, statuses = passback.status_of(found)
    return render_template("lti_grades.html", assignment=found, links=links, statuses=statuses)


@bp.post("/courses/<course>/assignments/<slug>/lms-grades/resend")
@login_required
def resend(course: str, slug: str):
    """Queue the scores again (one student's, or everyone's), then show the page."""
    try:
        found = _assignment_taught(course, slug)
    except (NotFound, Forbidden) as exc:
        return _refused(exc)
    student = request.form.get("student", "")
    if student and not student.isdigit():
        return error_page(400, "Bad Request", "student: not a user id")
    queued = passback.resend(found, [int(student)] if student else None)
    flash(f"{queued} score{'' if queued == 1 else 's'} queued for the LMS.", "info")
    return redirect(url_for("lti_grades.status", course=course, slug=slug), code=303)
