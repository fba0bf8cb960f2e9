"""Code submissions: stored before 202, graded in the background, polled by id."""

import json
import re

from flask import current_app, g, request

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.api.inputs import body
from server.api.models import ExerciseSubmissionRequest, SubmissionRequest
from server.api.notebooks import missing_notebooks, notebook_submission
from server.courses import NotFound, can_see_work_of, get_assignment
from server.extensions import (
    SUBMISSION_SCOPE,
    db,
    limiter,
    submission_rate,
    submission_rate_off,
)
from server.models import Assignment, AssignmentKind, SubmissionStatus
from server.scoring.feedback import feedback_shown, withheld
from server.submissions.history import visible_submissions
from server.submissions.notify import wait_slots, wait_until_finished
from server.submissions.queue import dispatch
from server.submissions.service import submit
from server.submissions.views import (
    listed_view,
    shown_submission,
    submission_json,
    submission_view,
)


def _user_key() -> str:
    return f"user:{g.user.id}"


@bp.post("/courses/<course>/assignments/<slug>/submissions")
@token_required
@limiter.shared_limit(
    submission_rate, scope=SUBMISSION_SCOPE, key_func=_user_key, exempt_when=submission_rate_off
)
def create_submission(course: str, slug: str):
    """Store a code submission and queue it for grading."""
    assignment = _exercise(course, slug)
    submission = notebook_submission(assignment, g.user, _idempotency_key())
    if submission is None:  # a code exercise
        body(ExerciseSubmissionRequest)  # as documented: `notebooks` beside it well-formed too
        code = body(SubmissionRequest).code
        submission = submit(assignment, g.user, code, _idempotency_key())
    if submission.status == "queued" and submission.enqueued_at is None:
        dispatch(current_app._get_current_object(), submission.id)
    view = submission_view(submission) | missing_notebooks()
    return view, 202, {"Location": f"/api/v1/submissions/{submission.id}"}


@bp.get("/courses/<course>/assignments/<slug>/submissions")
@token_required
def list_submissions(course: str, slug: str):
    """List submissions to an exercise, newest first, without their results.

    A student gets their own; an instructor everyone's (?student=EMAIL for one). Each
    says whether it is the one that counts in the gradebook. ?status= keeps one state.
    """
    assignment = _exercise(course, slug)
    listed = visible_submissions(
        g.user, assignment, request.args.get("student", ""), _status_filter()
    )
    return {"assignment": slug, "submissions": [listed_view(item, slug) for item in listed]}


# The longest Idempotency-Key kept (the column's width): a longer one is refused, not cut,
# since two keys cut to the same prefix would be taken for one request.
MAX_KEY_LENGTH = 128


def _idempotency_key() -> str | None:
    """Read the Idempotency-Key header: None without one, 422 when too long."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            422,
            "invalid_idempotency_key",
            f"'Idempotency-Key' is at most {MAX_KEY_LENGTH} characters",
            field="Idempotency-Key",
        )
    return key or None


def _exercise(course: str, slug: str) -> Assignment:
    """Return a code exercise assignment the user belongs to; 409 for a quiz."""
    assignment = get_assignment(g.user, course, slug)
    if assignment.kind != AssignmentKind.EXERCISE:
        raise ApiError(409, "not_an_exercise", f"{slug!r} is a quiz; post attempts instead")
    return assignment


def _status_filter() -> SubmissionStatus | None:
    """Read ?status=: one of the submission states, or none."""
    raw = request.args.get("status")
    if raw is None:
        return None
    try:
        return SubmissionStatus(raw)
    except ValueError:
        states = ", ".join(s.value for s in SubmissionStatus)
        raise ApiError(422, "invalid_status", f"'status' is one of {states}") from None


# The longest a GET may wait for a grading (?wait=S), as the OpenAPI document says.
MAX_WAIT_SECONDS = 20.0
# Seconds as JSON or a person writes a number, in ASCII: float() alone would also take
# "١٠", "1_0", "nan" and "infinity".
SECONDS = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


@bp.get("/submissions/<int:submission_id>")
@token_required
def show_submission(submission_id: int):
    """Return a submission's status and, once graded, its result.

    With ?wait=S, answer once it is graded (or failed grading) or after S seconds,
    whichever comes first: one request instead of a poll every few milliseconds.
    """
    wait = _wait_seconds()
    shown = shown_submission(submission_id)
    if shown is None or not can_see_work_of(g.user, shown.user_id, shown.course_id):
        raise NotFound(f"no submission {submission_id}")
    if wait and shown.status not in (SubmissionStatus.GRADED, SubmissionStatus.ERROR):
        slots = wait_slots(current_app)
        if slots.acquire(blocking=False):  # else every other thread waits: answer now
            try:
                wait_until_finished(submission_id, wait)
            finally:
                slots.release()
            shown = shown_submission(submission_id)
    return current_app.response_class(_released_json(shown), mimetype="application/json")


def _released_json(shown) -> str:
    """The submission as JSON; a student's hidden tests withheld until feedback is released."""
    text = submission_json(shown)
    assignment = db.session.get(Assignment, shown.assignment_id)
    if shown.status != SubmissionStatus.GRADED or feedback_shown(g.user, assignment, shown.user_id):
        return text
    view = json.loads(text)
    view["result"] = withheld(view["result"])
    return json.dumps(view)


def _wait_seconds() -> float:
    """Read ?wait=S: how long to wait for the grading (0 without it), 0 to 20 s, else 422."""
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    if not SECONDS.fullmatch(raw) or float(raw) > MAX_WAIT_SECONDS:
        raise ApiError(
            422,
            "invalid_wait",
            f"'wait' is a number of seconds from 0 to {MAX_WAIT_SECONDS:g}",
            field="wait",
        )
    return float(raw)
