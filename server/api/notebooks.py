"""Notebook exercises through the API: notebooks handed in as JSON, the release as a zip."""

from flask import Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.api.inputs import json_body, validated
from server.api.models import ExerciseSubmissionRequest
from server.courses import get_assignment, is_staff
from server.models import Assignment, Submission, User
from server.models.types import utcnow
from server.notebooks.submission import (
    MAX_UPLOAD_BYTES,
    NotebookRefused,
    check_notebooks,
    notebook_version,
    release_zip,
)
from server.submissions.exercises import loaded_version
from server.submissions.service import submit

# The code editor's endpoints (api/drafts.py): a notebook exercise has no code to keep or check.
CODE_ONLY = {"api.show_draft", "api.put_draft", "api.check_code"}
SHAPE = '{"notebooks": {"NAME.ipynb": NOTEBOOK_JSON, ...}}'


def notebook_submission(assignment: Assignment, user: User, key: str | None) -> Submission | None:
    """Store the posted notebooks if the assignment is a notebook exercise; None if it takes code.

    A code exercise posted 'notebooks' (and no 'code') is refused here, saying so.
    """
    row = notebook_version(assignment)
    if row is None:
        if "notebooks" in json_body() and "code" not in json_body():
            raise ApiError(
                422,
                "code_expected",
                f"{assignment.slug!r} is a code exercise: send 'code', not 'notebooks'",
                field="notebooks",
            )
        return None
    notebooks = _posted_notebooks(assignment)
    exercise = loaded_version(row.id, (row.slug, row.content_hash))
    try:
        checked = check_notebooks(exercise, notebooks)
    except NotebookRefused as exc:
        raise ApiError(exc.status, exc.code, str(exc), field="notebooks") from None
    g.missing_notebooks = list(checked.missing)
    return submit(assignment, user, checked.stored(), key)


def missing_notebooks() -> dict:
    """For the 202: the notebooks this request did not hand in (each of their cells scores 0)."""
    missing = g.get("missing_notebooks")
    return {"missing_notebooks": missing} if missing else {}


def _posted_notebooks(assignment: Assignment) -> dict:
    """The body's {"NAME.ipynb": notebook} object; up to 20 MB of body for a notebook exercise."""
    request.max_content_length = MAX_UPLOAD_BYTES
    try:
        raw = json_body()
    except RequestEntityTooLarge:
        raise ApiError(
            413,
            "upload_too_large",
            f"the request is larger than {MAX_UPLOAD_BYTES >> 20} MB; clear the notebooks'"
            " outputs (Jupyter: Edit > Clear Outputs of All Cells) and send them again",
        ) from None
    notebooks = raw.get("notebooks")
    if notebooks is None and "code" in raw:
        message = f"{assignment.slug!r} is a notebook exercise: send {SHAPE}, not 'code'"
        raise ApiError(422, "notebooks_expected", message, field="code")
    if not isinstance(notebooks, dict):
        raise ApiError(422, "invalid_notebooks", f"the body must be {SHAPE}", field="notebooks")
    validated(ExerciseSubmissionRequest, raw)  # as documented: a `code` beside it a string too
    return notebooks


@bp.before_request
def _no_code_for_notebooks() -> None:
    """The code editor's draft and visible-tests endpoints refuse a notebook exercise (409)."""
    if request.endpoint not in CODE_ONLY:
        return
    token_required(lambda: None)()  # sets g.user, or answers 401 as the view would
    args = request.view_args or {}
    if notebook_version(get_assignment(g.user, args["course"], args["slug"])) is not None:
        message = f"{args['slug']!r} is a notebook exercise: it has no code draft or visible tests"
        raise ApiError(409, "notebook_exercise", message)


@bp.get("/courses/<course>/assignments/<slug>/release.zip")
@token_required
def download_release(course: str, slug: str):
    """Download a notebook exercise's student version (its notebooks and files) as a zip."""
    assignment, row = released_version(g.user, course, slug)
    if row is None:
        raise ApiError(409, "not_a_notebook_exercise", f"{slug!r} has no notebooks to download")
    return zip_response(release_zip(row.bundle, assignment.slug), assignment.slug)


def released_version(user: User, course: str, slug: str):
    """The assignment and its notebook version (None if it has none); students: once it opens."""
    assignment = get_assignment(user, course, slug)
    opens = assignment.opens_at
    if opens is not None and utcnow() < opens and not is_staff(user, assignment.course):
        raise ApiError(409, "not_open", f"{slug!r} opens at {opens.isoformat()}")
    return assignment, notebook_version(assignment)


def zip_response(data: bytes, slug: str) -> Response:
    """A zip as a download named after the assignment."""
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{slug}.zip"'},
    )
