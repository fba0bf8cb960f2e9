"""Regrading pages: preview what a content fix changes student by student, then apply it."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from server.courses import NotFound, get_assignment, is_staff, require_staff
from server.models import Assignment, QuizAttempt, Submission
from server.scoring.gradebook import students_of
from server.submissions import regrade
from server.submissions.result_history import current_origin, history_of
from server.web import bp
from server.web.errors import nul_free

# Rough cost of a preview per piece of work, for the page's estimate (bench/regrade_bench.py).
SUBMISSION_SECONDS, QUIZ_SECONDS = 0.03, 0.003


@bp.get("/courses/<course>/assignments/<slug>/regrade")
@login_required
def regrade_page(course: str, slug: str):
    """The regrade form; with ?preview=1, what regrading would change (nothing recorded)."""
    assignment = _staff_assignment(course, slug)
    scope = _scope(assignment, request.args)
    previewed = _preview(scope) if request.args.get("preview") else None
    return _render(assignment, scope, previewed)


@bp.post("/courses/<course>/assignments/<slug>/regrade")
@login_required
@nul_free
def regrade_submissions(course: str, slug: str):
    """Apply the previewed regrade, if the work is still as it was previewed."""
    assignment = _staff_assignment(course, slug)
    scope = _scope(assignment, request.form)
    limit = current_app.config["RUBRIC_REGRADE_SYNC_LIMIT"]
    try:
        done = regrade.apply(scope, request.form.get("token", ""), current_user, limit)
    except regrade.StalePreview as exc:
        return _render(assignment, scope, _preview(scope), str(exc)), 409
    flash(_summary(done))
    return redirect(url_for("web.regrade_page", course=course, slug=slug))


def _staff_assignment(course: str, slug: str) -> Assignment:
    """The assignment, for its TAs and instructors only (403 for anyone else)."""
    assignment = get_assignment(current_user, course, slug)
    require_staff(current_user, assignment.course)
    return assignment


def _scope(assignment: Assignment, values) -> regrade.Scope:
    """Read who and which version from a form or query; an unknown student is a 404."""
    try:
        return regrade.scope_of(
            assignment, values.get("student", "").strip().lower(), bool(values.get("same_version"))
        )
    except NotFound as exc:
        abort(404, str(exc))


def _preview(scope: regrade.Scope) -> regrade.Preview | None:
    """Grade the work again, recording nothing; None when the content was never synced."""
    try:
        return regrade.preview(scope)
    except LookupError as exc:  # the content of the assignment was never synced
        abort(409, str(exc))


def _render(assignment, scope, previewed, error: str = "") -> str:
    students = [u.email for u in students_of(assignment.course_id)]
    waiting = None if previewed else _waiting(scope)
    return render_template(
        "regrade.html",
        assignment=assignment,
        scope=scope,
        preview=previewed,
        students=students,
        error=error,
        sync_limit=current_app.config["RUBRIC_REGRADE_SYNC_LIMIT"],
        waiting=waiting,
        estimate=None if waiting is None else _estimate(scope, waiting),
    )


def _waiting(scope: regrade.Scope) -> int | None:
    """How many pieces of work a preview would grade again (None: content never synced)."""
    try:
        return len(regrade.affected(scope))
    except LookupError:
        return None


def _estimate(scope: regrade.Scope, pieces: int) -> float:
    """Seconds a preview takes, roughly: sandbox gradings run a few at a time."""
    each = QUIZ_SECONDS if scope.is_quiz else SUBMISSION_SECONDS / regrade.GRADING_THREADS
    return pieces * each


def _summary(done: regrade.Applied) -> str:
    """Say what applying did, for the flash message."""
    if done.queued:
        return (
            f"{done.queued} submission(s) will be graded again on version {done.version} "
            "by the workers once no student's submission waits; their old scores count "
            "until then, and the old results are kept in each one's history."
        )
    return (
        f"Regraded {done.regraded} piece(s) of work of {done.students} student(s): "
        f"{done.changed} counted score(s) changed. The old results are kept in the history."
    )


@bp.app_template_global()
def result_history(work: Submission | QuizAttempt) -> dict:
    """A submission's or attempt's replaced results for its page: staff see who and why."""
    key = "attempt_id" if isinstance(work, QuizAttempt) else "submission_id"
    staff = is_staff(current_user, work.assignment.course)
    because, by = current_origin(**{key: work.id})
    return {
        "staff": staff,
        "past": history_of(**{key: work.id}),
        "because": because.value,
        "by": by,
    }
