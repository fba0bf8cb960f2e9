"""Class statistics pages for instructors and TAs: an assignment's, and the course overview."""

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, render_template, request
from flask_login import current_user, login_required

from server.analytics.assignment import assignment_stats
from server.analytics.overview import DUE_SOON_DAYS, MAX_DAYS, course_overview
from server.courses import get_assignment, get_course, require_staff
from server.extensions import db
from server.models import Assignment, AssignmentKind, Submission, User
from server.web import bp
from server.web.errors import error_page


def _staff_assignment(course: str, slug: str) -> Assignment:
    """The assignment, if the user is on its course's staff (Forbidden/NotFound otherwise)."""
    found = get_assignment(current_user, course, slug)
    require_staff(current_user, found.course)
    return found


@bp.get("/courses/<course>/assignments/<slug>/stats")
@login_required
def assignment_stats_page(course: str, slug: str):
    """Show an assignment's class statistics, each chart with its table."""
    found = _staff_assignment(course, slug)
    stats = assignment_stats(found)
    return render_template(
        "stats.html",
        assignment=found,
        course=found.course,
        stats=stats,
        quiz=found.kind == AssignmentKind.QUIZ,
    )


@bp.get("/courses/<course>/assignments/<slug>/stats/mistakes/<name>")
@login_required
def mistake_submissions(course: str, slug: str, name: str):
    """List the counted submissions that made one known mistake, with links to each."""
    found = _staff_assignment(course, slug)
    if found.kind != AssignmentKind.EXERCISE:
        abort(404)
    stats = assignment_stats(found)
    mistake = next((m for m in stats["mistakes"] if m["name"] == name), None)
    if mistake is None:
        return error_page(404, "Unknown mistake", f"This exercise has no known mistake {name!r}.")
    return render_template(
        "stats_mistake.html",
        assignment=found,
        course=found.course,
        mistake=mistake,
        submissions=_listed(mistake["submissions"]),
    )


def _listed(ids: list[int]) -> list[Submission]:
    """These submissions with their students, by e-mail: one query, results left unread."""
    query = (
        sa.select(Submission)
        .join(Submission.user)
        .options(
            so.load_only(Submission.id, Submission.number, Submission.submitted_at,
                         Submission.score, Submission.max_score),
            so.contains_eager(Submission.user),
        )
        .where(Submission.id.in_(ids))
        .order_by(User.email)
    )  # fmt: skip
    return list(db.session.scalars(query))


@bp.get("/courses/<course>/overview")
@login_required
def course_overview_page(course: str):
    """Per assignment: submitted, graded, late, missing; who has not started what is due soon."""
    found = get_course(current_user, course)
    require_staff(current_user, found)
    raw = request.args.get("days", str(DUE_SOON_DAYS))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        return error_page(
            400, "Bad number of days", f"'days' is a whole number from 1 to {MAX_DAYS}."
        )
    return render_template(
        "course_overview.html", course=found, overview=course_overview(found, int(raw))
    )
