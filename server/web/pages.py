"""Course pages."""

from flask import redirect, url_for
from flask_login import current_user, login_required

from server.courses import courses_for
from server.web import bp


@bp.get("/")
@login_required
def index():
    """Send the user to their course (or list their courses)."""
    courses = courses_for(current_user)
    return redirect(url_for("web.course", course=courses[0].slug)) if courses else "No courses"


@bp.get("/courses/<course>")
@login_required
def course(course: str):
    """Show a course's assignments."""
    return course
