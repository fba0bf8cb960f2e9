"""A submission as the API and the pages show it."""

import json
from typing import Any

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, Submission, SubmissionStatus
from server.notebooks.manual import Tally, tallies, waiting_cells
from server.notebooks.result import NEEDS_MANUAL
from server.scoring import late
from server.submissions.history import Listed

ERROR_MESSAGE = "The grader itself failed; your submission is kept and will be graded again."


def submission_view(submission: Submission) -> dict[str, Any]:
    """Return a submission's status, and its result once graded."""
    graded = submission.status == SubmissionStatus.GRADED
    manual = _tally(submission.id) if graded and waiting_cells(submission.result) else None
    view = _fields(submission, submission.assignment.slug, manual)
    if graded:
        view["result"] = submission.result
    if submission.status == SubmissionStatus.ERROR:
        view["error"] = ERROR_MESSAGE
    return view


SUBMISSION, ASSIGNMENT = Submission.__table__, Assignment.__table__
# What the API shows of a submission, who may see it, and the result's JSON text as
# stored (CAST: PostgreSQL's driver would decode it): one query, built once, as every
# poll runs it.
_SHOWN = (
    sa.select(
        SUBMISSION.c.id,
        SUBMISSION.c.assignment_id,
        ASSIGNMENT.c.slug.label("assignment"),
        SUBMISSION.c.number,
        SUBMISSION.c.status,
        SUBMISSION.c.submitted_at,
        SUBMISSION.c.graded_at,
        SUBMISSION.c.score,
        SUBMISSION.c.max_score,
        SUBMISSION.c.user_id,
        ASSIGNMENT.c.course_id,
        sa.cast(SUBMISSION.c.result, sa.Text).label("result"),
    )
    .join(ASSIGNMENT, ASSIGNMENT.c.id == SUBMISSION.c.assignment_id)
    .where(SUBMISSION.c.id == sa.bindparam("submission_id"))
)


def shown_submission(submission_id: int) -> sa.Row | None:
    """Read what submission_json needs of a submission, its owner and course; None if unknown."""
    return db.session.execute(_SHOWN, {"submission_id": submission_id}).first()


def submission_json(shown: sa.Row) -> str:
    """submission_view as JSON text, from a shown_submission row.

    A result is ~25 kB of JSON, mostly floats: decoding it from the database and
    encoding it again would cost ~1.5 ms of CPU per answer, for the same JSON.
    """
    # Only a notebook result has cells for a person: a code result's poll skips the query.
    waits = shown.status == SubmissionStatus.GRADED and f'"{NEEDS_MANUAL}"' in (shown.result or "")
    view = _fields(shown, shown.assignment, _tally(shown.id) if waits else None)
    if shown.status == SubmissionStatus.ERROR:
        view["error"] = ERROR_MESSAGE
    text = json.dumps(view)
    if shown.status != SubmissionStatus.GRADED:
        return text
    # The result comes last, as in submission_view.
    return text[:-1] + ', "result": ' + (shown.result or "null") + "}"


def listed_view(listed: Listed, assignment: str) -> dict[str, Any]:
    """A submission in a listing: its fields without the result, its student, if it counts."""
    submission = listed.submission
    view = _fields(submission, assignment, listed.manual)
    view["student"] = {"email": submission.user.email, "name": submission.user.name}
    view["counts"] = listed.counts
    return view


def _tally(submission_id: int) -> Tally | None:
    return tallies([submission_id]).get(submission_id)


def _fields(
    submission: Submission | sa.Row, assignment: str, manual: Tally | None = None
) -> dict[str, Any]:
    """Return the fields every view of a submission has, before its result or error.

    manual: a notebook submission's points given by people, in its scores; with it, its
    automatic and manual parts and the cells still waiting (partly graded until none).
    """
    view = {
        "id": submission.id,
        "assignment": assignment,
        "number": submission.number,
        "status": submission.status.value,
        "submitted_at": submission.submitted_at.isoformat(),
        "graded_at": submission.graded_at.isoformat() if submission.graded_at else None,
        "max_score": submission.max_score,
    } | late_fields(submission, manual.points if manual else 0.0)
    if manual is not None:
        view |= {
            "auto_score": submission.score,
            "manual_score": manual.points,
            "waiting": manual.waiting,
            "partly_graded": manual.waiting > 0,
        }
    return view


def late_fields(submission: Submission | sa.Row, manual: float = 0.0) -> dict[str, Any]:
    """How late the work was stored, and its raw score, late penalty and counted score.

    By the stored submission time and the student's own dates (an extension moves them).
    raw_score includes the points people gave a notebook submission (manual).
    """
    assignment = db.session.get(Assignment, submission.assignment_id)
    raw = None if submission.score is None else submission.score + manual
    marked = late.mark(
        raw or 0.0,
        submission.max_score,
        submission.submitted_at,
        late.dates_for(assignment, submission.user_id),
        late.rule_of(assignment),
    )
    graded = submission.score is not None
    return {
        "late": marked.late,
        "raw_score": raw,
        "penalty": marked.penalty if graded else None,
        "score": marked.score if graded else None,
    }
