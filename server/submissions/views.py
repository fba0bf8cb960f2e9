"""A submission as the API and the pages show it."""

from typing import Any

from server.models import Submission, SubmissionStatus

ERROR_MESSAGE = "The grader itself failed; your submission is kept and will be graded again."


def submission_view(submission: Submission) -> dict[str, Any]:
    """Return a submission's status, and its result once graded."""
    view: dict[str, Any] = {
        "id": submission.id,
        "assignment": submission.assignment.slug,
        "number": submission.number,
        "status": submission.status.value,
        "submitted_at": submission.submitted_at.isoformat(),
        "graded_at": submission.graded_at.isoformat() if submission.graded_at else None,
        "score": submission.score,
        "max_score": submission.max_score,
    }
    if submission.status == SubmissionStatus.GRADED:
        view["result"] = submission.result
    if submission.status == SubmissionStatus.ERROR:
        view["error"] = ERROR_MESSAGE
    return view
