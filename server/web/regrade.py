"""Regrading pages: preview what a content fix changes, then apply it."""

from flask import flash, redirect, url_for
from flask_login import current_user, login_required

from server.courses import get_assignment, require_staff
from server.submissions.regrade import regrade
from server.web import bp


@bp.post("/courses/<course>/assignments/<slug>/regrade")
@login_required
def regrade_submissions(course: str, slug: str):
    """Queue what was graded on an older version of the exercise to be graded again."""
    assignment = get_assignment(current_user, course, slug)
    require_staff(current_user, assignment.course)
    done = regrade(assignment)
    flash(
        f"{done.submissions} submission(s) will be graded again on version {done.version} "
        "once no student's submission waits; their old scores count until then."
    )
    return redirect(url_for("web.submissions", course=course, slug=slug))
