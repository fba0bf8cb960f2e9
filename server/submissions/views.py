"""A submission as the API and the pages show it."""

import json
from typing import Any

from server.models import Submission, SubmissionStatus

ERROR_MESSAGE = "The grader itself failed; your submission is kept and will be graded again."


def submission_view(submission: Submission) -> dict[str, Any]:
    """Return a submission's status, and its result once graded."""
    view = _fields(submission)
    if submission.status == SubmissionStatus.GRADED:
        view["result"] = submission.result
    if submission.status == SubmissionStatus.ERROR:
        view["error"] = ERROR_MESSAGE
    return view


def submission_json(submission: Submission, stored_result: str | None) -> str:
    """submission_view as JSON text, given the result's JSON text as the database keeps it.

    A result is ~25 kB of JSON, mostly floats: decoding it from the database and
    encoding it again would cost ~1.5 ms of CPU per answer, for the same JSON.
    """
    view = _fields(submission)
    if submission.status == SubmissionStatus.ERROR:
        view["error"] = ERROR_MESSAGE
    text = json.dumps(view)
    if submission.status != SubmissionStatus.GRADED:
        return text
    # The result comes last, as in submission_view.
    return text[:-1] + ', "result": ' + (stored_result or "null") + "}"


def _fields(submission: Submission) -> dict[str, Any]:
    """Return the fields every view of a submission has, before its result or error."""
    return {
        "id": submission.id,
        "assignment": submission.assignment.slug,
        "number": submission.number,
        "status": submission.status.value,
        "submitted_at": submission.submitted_at.isoformat(),
        "graded_at": submission.graded_at.isoformat() if submission.graded_at else None,
        "score": submission.score,
        "max_score": submission.max_score,
    }
