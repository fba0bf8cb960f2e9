"""Code submissions: stored before 202, graded in the background, polled by id."""

from flask import current_app, g, request

from server.api import bp
from server.api.assignments import json_body
from server.api.auth import token_required
from server.api.errors import ApiError
from server.courses import NotFound, can_see_submission, get_assignment
from server.extensions import (
    SUBMISSION_SCOPE,
    db,
    limiter,
    submission_rate,
    submission_rate_off,
)
from server.models import AssignmentKind, Submission
from server.submissions.queue import dispatch
from server.submissions.service import submit
from server.submissions.views import submission_view


def _user_key() -> str:
    return f"user:{g.user.id}"


@bp.post("/courses/<course>/assignments/<slug>/submissions")
@token_required
@limiter.shared_limit(
    submission_rate, scope=SUBMISSION_SCOPE, key_func=_user_key, exempt_when=submission_rate_off
)
def create_submission(course: str, slug: str):
    """Store a code submission and queue it for grading."""
    assignment = get_assignment(g.user, course, slug)
    if assignment.kind != AssignmentKind.EXERCISE:
        raise ApiError(409, "not_an_exercise", f"{slug!r} is a quiz; post attempts instead")
    code = json_body().get("code")
    if not isinstance(code, str):
        raise ApiError(422, "invalid_code", "the body needs a 'code' string")
    key = request.headers.get("Idempotency-Key", "").strip()[:128] or None
    submission = submit(assignment, g.user, code, key)
    if submission.status == "queued" and submission.enqueued_at is None:
        dispatch(current_app._get_current_object(), submission.id)
    return submission_view(submission), 202, {"Location": f"/api/v1/submissions/{submission.id}"}


@bp.get("/submissions/<int:submission_id>")
@token_required
def show_submission(submission_id: int):
    """Return a submission's status and, once graded, its result."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or not can_see_submission(g.user, submission):
        raise NotFound(f"no submission {submission_id}")
    return submission_view(submission)
