"""Notebook exercises on the web: download the release, upload notebooks, read the result.

The assignment and submission URLs are shared with code exercises (web/pages.py,
web/exercises.py); `_notebook_pages` answers them for a notebook exercise, so those
views need not know notebooks exist.
"""

import re
from html import unescape as html_unescape
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from werkzeug.exceptions import RequestEntityTooLarge

from server.api.errors import REFUSAL_STATUS
from server.courses import NotFound, can_see_submission, get_assignment, is_staff
from server.extensions import csrf, db
from server.models import Assignment, Exercise, Submission, SubmissionStatus
from server.models.types import utcnow
from server.notebooks import nbgrader
from server.notebooks.attachments import attachment_uri
from server.notebooks.manual import grades_of, progress
from server.notebooks.result import NEEDS_MANUAL
from server.notebooks.submission import (
    MAX_UPLOAD_BYTES,
    NotebookRefused,
    check_notebooks,
    is_notebook_version,
    notebook_version,
    release_files,
    release_zip,
    stored_notebooks,
    uploaded_files,
)
from server.scoring.feedback import feedback_shown, withheld
from server.scoring.policy import AttemptRefused, attempt_status
from server.submissions.exercises import loaded_version
from server.submissions.history import counting_submission, submissions_of
from server.submissions.queue import dispatch
from server.submissions.service import submit
from server.submissions.views import submission_view
from server.web import bp
from server.web.exercises import code_submission_limit, status_text
from server.web.markdown import render_markdown
from server.web.results import OUTCOME_LABELS

LABELS = OUTCOME_LABELS | {NEEDS_MANUAL: "Waits for a grader"}
GRADED_BY_PERSON = "Graded by a person"
PENDING = (SubmissionStatus.QUEUED, SubmissionStatus.RUNNING)
# The code editor's endpoints (web/exercises.py), which a notebook exercise has no use for.
CODE_ONLY = {"web.submit_json", "web.check_json", "web.draft_json"}
# An image as the Markdown renderer writes it (server/web/markdown.py).
IMAGE = re.compile(r'<img src="([^"]*)"')
TAKES = "this assignment takes notebooks (.ipynb), not code: upload them on its page"


@bp.before_request
def _notebook_pages():
    """Answer the shared assignment and submission URLs when they are a notebook exercise's."""
    if not current_user.is_authenticated:
        return None  # the shared view sends the visitor to log in
    args = request.view_args or {}
    if request.endpoint == "web.assignment" or request.endpoint in CODE_ONLY:
        assignment = _assignment_or_none(args["course"], args["slug"])
        row = notebook_version(assignment) if assignment is not None else None
        if row is None:
            return None
        if request.endpoint in CODE_ONLY:  # the code editor's scripts: no editor here
            return jsonify({"error": {"code": "notebooks_expected", "message": TAKES}}), 409
        if request.method == "POST":  # code posted to the page's own URL
            return notebook_page(assignment, row, TAKES), 409
        return notebook_page(assignment, row)
    if request.endpoint in ("web.submission", "web.submission_json"):
        return _submission(args["course"], args["submission_id"])
    return None


def _submission(course: str, submission_id: int):
    """A notebook submission's page or JSON; None for a code submission (the shared view's)."""
    found = db.session.get(Submission, submission_id)
    if found is None or not is_notebook_version(found.exercise):
        return None
    if found.assignment.course.slug != course or not can_see_submission(current_user, found):
        abort(404)
    if request.endpoint == "web.submission_json":
        view = submission_view(found)
        if "result" in view and not _shown(found):  # as the API's (api/submissions.py)
            view["result"] = withheld(view["result"])
        return jsonify(view | {"html": str(result_html(found))})
    return submission_page(found)


def _assignment_or_none(course: str, slug: str) -> Assignment | None:
    try:
        return get_assignment(current_user, course, slug)
    except NotFound:
        return None  # the shared view says 404 in its own words


def notebook_page(assignment: Assignment, row: Exercise, refusal: str | None = None):
    """The assignment page of a notebook exercise: what to download, the upload form, history."""
    status = attempt_status(assignment, current_user)
    mine = submissions_of(assignment, current_user)
    return render_template(
        "notebook.html",
        assignment=assignment,
        exercise=row,
        notebooks=row.public.get("notebooks", []),
        files=list(release_files(row.bundle)) if _released(assignment) else [],
        status=status,
        blocked=str(status.refusal) if status.refusal else None,
        refusal=refusal,
        submissions=mine[::-1],
        counting=counting_submission(assignment.score_policy, mine),
        max_mb=MAX_UPLOAD_BYTES >> 20,
        is_instructor=is_staff(current_user, assignment.course),
    )


def _released(assignment: Assignment) -> bool:
    """Students get the notebooks once the assignment opens; staff always."""
    opens = assignment.opens_at
    return opens is None or opens <= utcnow() or is_staff(current_user, assignment.course)


def _notebook_assignment(course: str, slug: str) -> tuple[Assignment, Exercise]:
    assignment = get_assignment(current_user, course, slug)
    row = notebook_version(assignment)
    if row is None:
        abort(404)
    return assignment, row


@bp.post("/courses/<course>/assignments/<slug>/notebooks")
@csrf.exempt  # checked below, once the larger body limit of an upload is set
@login_required
@code_submission_limit
def upload_notebooks(course: str, slug: str):
    """Store uploaded notebooks (.ipynb files, or a .zip of them) and queue them for grading."""
    assignment, row = _notebook_assignment(course, slug)
    request.max_content_length = MAX_UPLOAD_BYTES
    try:
        csrf.protect()
        uploads = [(f.filename, f.read()) for f in request.files.getlist("notebooks") if f.filename]
        checked = check_notebooks(_engine(row), uploaded_files(uploads))
        stored = submit(assignment, current_user, checked.stored())
    except RequestEntityTooLarge:
        message = (
            f"the upload is larger than {MAX_UPLOAD_BYTES >> 20} MB; clear the notebooks'"
            " outputs (Jupyter: Edit > Clear Outputs of All Cells), save, and upload again"
        )
        return notebook_page(assignment, row, message), 413
    except NotebookRefused as exc:
        return notebook_page(assignment, row, str(exc)), exc.status
    except AttemptRefused as exc:
        return notebook_page(assignment, row, str(exc)), REFUSAL_STATUS.get(exc.code, 409)
    if stored.status == SubmissionStatus.QUEUED and stored.enqueued_at is None:
        dispatch(current_app._get_current_object(), stored.id)
    if checked.warning:
        flash(f"Submitted, but {checked.warning}.", "error")
    return redirect(url_for("web.submission", course=course, submission_id=stored.id), code=303)


@bp.get("/courses/<course>/assignments/<slug>/release.zip")
@login_required
def release_download(course: str, slug: str):
    """Download the student version of a notebook exercise: its notebooks and files, zipped."""
    assignment, row = _notebook_assignment(course, slug)
    if not _released(assignment):
        abort(404)
    return Response(
        release_zip(row.bundle, assignment.slug),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{assignment.slug}.zip"'},
    )


@bp.get("/courses/<course>/assignments/<slug>/release/<path:name>")
@login_required
def release_file(course: str, slug: str, name: str):
    """Download one file of the student version (a notebook, an image, data)."""
    assignment, row = _notebook_assignment(course, slug)
    files = release_files(row.bundle) if _released(assignment) else {}
    if name not in files:
        abort(404)
    kind = "application/x-ipynb+json" if name.endswith(".ipynb") else "application/octet-stream"
    filename = name.rsplit("/", 1)[-1].replace('"', "")
    return Response(
        files[name],
        mimetype=kind,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def submission_page(submission: Submission):
    """A notebook submission: each notebook with its graded cells' results, re-read until graded."""
    pending = submission.status in PENDING
    refresh = 2 if pending else 30 if submission.status == SubmissionStatus.ERROR else None
    return render_template(
        "notebook_submission.html",
        submission=submission,
        result_html=result_html(submission),
        refresh=refresh,
        others=submission.user_id != current_user.id,
    )


def _shown(submission: Submission) -> bool:
    """Whether the viewer sees hidden tests' names and output and graders' comments."""
    return feedback_shown(current_user, submission.assignment, submission.user_id)


def result_html(submission: Submission) -> Markup:
    """The result block of a notebook submission: status, then one section per notebook."""
    result = submission.result if submission.status == SubmissionStatus.GRADED else None
    grades = grades_of(submission.id) if result else {}
    return Markup(
        render_template(
            "_notebook_result.html",
            submission=submission,
            status_text=status_text(submission),
            result=result,
            progress=progress(submission, grades) if result else None,
            notebooks=notebook_views(submission, result, grades, _shown(submission))
            if result
            else [],
        )
    )


def notebook_views(
    submission: Submission, result: dict, grades: dict, released: bool
) -> list[dict[str, Any]]:
    """Each graded notebook as the page shows it: its cells in order, each graded one's result.

    Before the assignment releases feedback (released False) a hidden test is shown as the
    code path shows one (server/scoring/feedback.py) and graders' comments are left out;
    points and outcomes are always shown.
    """
    handed_in = stored_notebooks(submission.code)
    images = _release_urls(submission)
    shown = result if released else withheld(result)
    views = []
    for part, seen in zip(result.get("parts", []), shown.get("parts", []), strict=True):
        tests = zip(part["tests"], seen["tests"], strict=True)
        # Keyed by the real grade_id, which places each result at its cell.
        unshown = {
            test["name"]: _test_view(view, grades.get((part["name"], test["name"])), released)
            for test, view in tests
        }
        given = sum(t["given"] for t in unshown.values())
        waiting = sum(t["score"] is None for t in unshown.values())
        notebook = handed_in.get(f"{part['name']}.ipynb")
        cells = [_cell_view(c, unshown, images) for c in notebook.cells] if notebook else []
        views.append(
            {
                "name": part["name"],
                "score": part["score"] + given,
                "max_score": part["max_score"],
                "handed_in": notebook is not None,
                "cells": cells,
                # Test cells the student deleted still ran (from the source) and scored.
                "elsewhere": list(unshown.values()),
                "waiting": waiting,
            }
        )
    return views


def _test_view(test: dict, grade, released: bool) -> dict[str, Any]:
    """A graded cell's result; a cell a person graded shows their points (and comment)."""
    view = test | {"label": LABELS.get(test["outcome"], test["outcome"]), "given": 0.0}
    if test["outcome"] == NEEDS_MANUAL and grade is not None:
        view |= {"score": grade.points, "given": grade.points, "label": GRADED_BY_PERSON}
        view["comment"] = grade.comment if released else ""
        view["comment_later"] = bool(grade.comment) and not released
    return view


def _release_urls(submission: Submission) -> dict[str, str]:
    """The download URL of each file of the release the submission was made to, by name."""
    course, slug = submission.assignment.course.slug, submission.assignment.slug
    return {
        name: url_for("web.release_file", course=course, slug=slug, name=name)
        for name in release_files(submission.exercise.bundle)
    }


def _cell_view(cell, unshown: dict[str, dict], images: dict[str, str]) -> dict[str, Any]:
    """One submitted cell: Markdown rendered (raw HTML escaped), code as text, its result.

    A graded cell's result is taken out of `unshown` (a grade_id shows its result once).
    """
    grade_id = nbgrader.meta(cell).get("grade_id")
    if cell.cell_type == "markdown":
        body = _linked_images(render_markdown(cell.source), images, cell.get("attachments"))
    else:
        body = Markup("<pre><code>{}</code></pre>").format(escape(cell.source))
    result = unshown.pop(grade_id, None) if grade_id else None
    return {"type": cell.cell_type, "grade_id": grade_id, "html": body, "result": result}


def _linked_images(html: Markup, images: dict[str, str], attachments=None) -> Markup:
    """Point an image the notebook shows from its own folder (![](jupyter.png)) at the release,
    and one pasted into the cell (![](attachment:x.png)) at its data (PNG, JPEG, GIF only)."""

    def linked(match: re.Match) -> str:
        src = html_unescape(match[1])
        url = images.get(src) or attachment_uri(attachments, src)
        return f'<img src="{escape(url)}"' if url else match[0]

    return Markup(IMAGE.sub(linked, html))


def _engine(row: Exercise):
    return loaded_version(row.id, (row.slug, row.content_hash))
