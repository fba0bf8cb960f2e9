"""Pages for grading notebooks by hand: the "needs grading" queue, one submission's
cells beside the source's solutions, the students' feedback and its zip. Thin: the work
is in server/notebooks/manual.py and feedback.py.
"""

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from server.courses import Forbidden, NotFound, get_assignment, is_staff, require_staff
from server.extensions import db
from server.models import Assignment, Submission
from server.notebooks import feedback, manual
from server.web.errors import error_page, nul_free

bp = Blueprint("manual_grading", __name__)


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound):
    return error_page(404, "Not Found")


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    return error_page(403, "Forbidden", f"You may not see this page: {exc}.")


@bp.app_template_global("manual_tallies")
def manual_tallies(submissions) -> dict[int, manual.Tally]:
    """For a listing: the points people gave its notebook submissions so far, by id."""
    return manual.tallies(s.id for s in submissions)


def _staff_assignment(course: str, slug: str) -> Assignment:
    """The assignment, if the current user grades its course (404 if not theirs, 403 else)."""
    assignment = get_assignment(current_user, course, slug)
    require_staff(current_user, assignment.course)
    return assignment


def _submission_of(assignment: Assignment, submission_id: int) -> Submission:
    submission = db.session.get(Submission, submission_id)
    if submission is None or submission.assignment_id != assignment.id:
        abort(404)
    return submission


@bp.get("/courses/<course>/assignments/<slug>/grading")
@login_required
def queue(course: str, slug: str):
    """The counted submissions with answers waiting for a person, and how many are done."""
    assignment = _staff_assignment(course, slug)
    waiting = manual.grading_queue(assignment, current_user)
    return render_template("manual_queue.html", assignment=assignment, queue=waiting)


@bp.get("/courses/<course>/assignments/<slug>/grading/<int:submission_id>")
@login_required
def grade(course: str, slug: str, submission_id: int):
    """One submission's answers for a person, each beside the source's solution."""
    assignment = _staff_assignment(course, slug)
    return _sheet(assignment, _submission_of(assignment, submission_id))


def _sheet(assignment: Assignment, submission: Submission, status: int = 200, values=None):
    try:
        cells = manual.sheet(submission, current_user)
    except manual.GradeRefused as refused:
        flash(str(refused), "error")
        cells = []
    waiting = manual.grading_queue(assignment, current_user)
    page = render_template(
        "manual_grade.html",
        assignment=assignment,
        submission=submission,
        cells=cells,
        queue=waiting,
        progress=manual.progress(submission),
        values=values or {},
        next_entry=waiting.next_after(submission.id),
    )
    return page, status


@bp.post("/courses/<course>/assignments/<slug>/grading/<int:submission_id>")
@login_required
@nul_free
def save(course: str, slug: str, submission_id: int):
    """Store the points and comments of the form's cells; then the next one waiting."""
    assignment = _staff_assignment(course, slug)
    submission = _submission_of(assignment, submission_id)
    given, values = _form_grades(request.form)
    try:
        manual.save(submission, current_user, given)
    except manual.GradeRefused as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return _sheet(assignment, submission, 400, values)
    flash(f"Saved the grades of {submission.user.email}.", "info")
    if request.form.get("then") == "next":
        following = manual.grading_queue(assignment, current_user).next_after(submission.id)
        if following is not None:
            return redirect(_grade_url(assignment, following.submission.id))
        return redirect(url_for(".queue", course=course, slug=slug))
    return redirect(_grade_url(assignment, submission.id))


def _grade_url(assignment: Assignment, submission_id: int) -> str:
    return url_for(
        ".grade",
        course=assignment.course.slug,
        slug=assignment.slug,
        submission_id=submission_id,
    )


def _form_grades(form) -> tuple[list[manual.GradeInput], dict]:
    """The cells of the form (cell-N = "notebook/grade_id", points-N, comment-N).

    A cell whose points are left blank is not graded yet: a grader may save some first.
    """
    given, values = [], {}
    count = min(int(form.get("cells", "0")) if form.get("cells", "0").isdigit() else 0, 500)
    for i in range(count):
        notebook, _, grade_id = form.get(f"cell-{i}", "").partition("/")
        points, comment = form.get(f"points-{i}", ""), form.get(f"comment-{i}", "")
        values[(notebook, grade_id)] = {"points": points, "comment": comment}
        if points.strip():
            given.append(manual.GradeInput(notebook, grade_id, points, comment))
    return given, values


@bp.get("/courses/<course>/assignments/<slug>/submissions/<int:submission_id>/feedback")
@login_required
def student_feedback(course: str, slug: str, submission_id: int):
    """A graded notebook submission with each cell's points and comments (once released)."""
    assignment = get_assignment(current_user, course, slug)
    submission = _submission_of(assignment, submission_id)
    staff = is_staff(current_user, assignment.course)
    if submission.user_id != current_user.id and not staff:
        abort(404)
    shown = staff or manual.released(assignment, submission.user_id)
    try:
        found = feedback.feedback_for(submission) if shown else None
    except manual.GradeRefused as refused:
        flash(str(refused), "error")
        found = None
    return render_template(
        "manual_student.html",
        assignment=assignment,
        submission=submission,
        feedback=found,
        shown=shown,
        staff=staff,
    )


@bp.get("/courses/<course>/assignments/<slug>/feedback.zip")
@login_required
def feedback_zip(course: str, slug: str):
    """Every student's graded notebooks with feedback, one HTML file per notebook (staff)."""
    assignment = _staff_assignment(course, slug)
    try:
        data = feedback.feedback_zip(assignment)
    except manual.GradeRefused as refused:
        return error_page(404, "Not Found", str(refused))
    name = f"{assignment.course.slug}-{assignment.slug}-feedback.zip"
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
