"""The exercise page: write, submit, follow the grading, look back; the instructor's list."""

import re
from typing import Any

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from server.api.drafts import DRAFT_RATE, check_limit, engine_of
from server.api.errors import REFUSAL_STATUS
from server.api.inputs import parse_id
from server.courses import can_see_submission, get_assignment, is_staff, require_staff
from server.extensions import (
    SUBMISSION_SCOPE,
    db,
    limiter,
    submission_rate,
    submission_rate_off,
)
from server.grading.precheck import check_visible
from server.grading.sweep import best, has_sweep, reference_sweep, settings
from server.models import Assignment, AssignmentKind, Course, Submission, SubmissionStatus
from server.scoring.feedback import feedback_shown, withheld
from server.scoring.policy import AttemptRefused, attempt_status
from server.submissions.drafts import Opening, opening_code, save_draft
from server.submissions.exercises import current_exercise
from server.submissions.history import all_submissions, counting_submission, submissions_of
from server.submissions.lambda_sweep import add_sweep
from server.submissions.queue import dispatch
from server.submissions.service import submit
from server.submissions.views import ERROR_MESSAGE, submission_view
from server.web import bp
from server.web.markdown import render_prompt
from server.web.results import (
    outcome_filter,
    parts_view,
    result_blocks,
    summary,
    visible_examples,
)

# "… (line 4, column 24)" at the end of a load error: where to put the cursor.
LOCATION = re.compile(r"\(line (\d+)(?:, column (\d+))?\)\s*$")
PENDING = (SubmissionStatus.QUEUED, SubmissionStatus.RUNNING)


class CodeProblem(Exception):
    """Posted code we refuse before storing it, with its HTTP status and a stable code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


def _not_limited() -> bool:
    """Quizzes, GETs and a switched-off limit are exempt; only code submissions count."""
    if submission_rate_off() or request.method != "POST":
        return True
    if request.endpoint != "web.assignment":
        return False
    args = request.view_args or {}
    kind = db.session.scalar(
        sa.select(Assignment.kind)
        .join(Course)
        .where(Course.slug == args.get("course"), Assignment.slug == args.get("slug"))
    )
    return kind != AssignmentKind.EXERCISE


def _user_key() -> str:
    return f"user:{current_user.get_id()}"


# One bucket for the page's form, its JSON endpoint and the API, so none doubles the limit.
code_submission_limit = limiter.shared_limit(
    submission_rate, scope=SUBMISSION_SCOPE, key_func=_user_key, exempt_when=_not_limited
)


def exercise_page(assignment: Assignment):
    """Show the exercise page, or store a submission posted by its plain form."""
    if request.method == "POST":
        return _submit_form(assignment)
    code = _restored_code(assignment, request.args.get("restore", ""))
    if code is not None:
        return _render_page(assignment, code)
    opening = opening_code(assignment, current_user, _starter(assignment))
    return _render_page(assignment, opening.code, opening=opening)


def _submit_form(assignment: Assignment):
    """Store the form's code and redirect to its submission page (no JavaScript needed)."""
    code = request.form.get("code", "")
    try:
        code = posted_code()
        submission = _store(assignment, code)
    except CodeProblem as exc:
        return _render_page(assignment, code, refusal=str(exc)), exc.status
    except AttemptRefused as exc:
        return _render_page(assignment, code, refusal=str(exc)), REFUSAL_STATUS.get(exc.code, 409)
    target = url_for("web.submission", course=assignment.course.slug, submission_id=submission.id)
    return redirect(target, code=303)


@bp.post("/courses/<course>/assignments/<slug>/submissions.json")
@login_required
@code_submission_limit
def submit_json(course: str, slug: str):
    """Store code posted by the page's script; answer 202 with the submission."""
    assignment = _exercise(course, slug)
    try:
        submission = _store(assignment, posted_code())
    except CodeProblem as exc:
        return _json_error(exc.status, exc.code, str(exc))
    except AttemptRefused as exc:
        return _json_error(REFUSAL_STATUS.get(exc.code, 409), exc.code, str(exc))
    return jsonify(page_view(submission)), 202


@bp.post("/courses/<course>/assignments/<slug>/check.json")
@login_required
@check_limit
def check_json(course: str, slug: str):
    """Run the visible tests on posted code: not stored, not a submission, no attempt spent."""
    assignment = _exercise(course, slug)
    code = request.form.get("code", "").replace("\r\n", "\n")
    if not code.strip() or "\x00" in code:
        return _json_error(422, "invalid_code", "there is no code to check")
    if len(code.encode()) > current_app.config["RUBRIC_MAX_CODE_BYTES"]:
        return _json_error(413, "code_too_large", "the code is too large")
    exercise = current_exercise(assignment)
    checked = check_visible(engine_of(exercise), code)
    blocks = parts_view(checked["parts"], visible_examples(exercise), {})
    html = render_template(
        "_check.html",
        checked=checked,
        blocks=blocks,
        summary=summary(blocks),
        prefix="check",
        location=error_location(checked),
        instructor=False,
        sweep=checked.get("sweep"),
    )
    return jsonify(
        {"loaded": checked["loaded"], "html": html, "error_location": error_location(checked)}
    )


@bp.post("/courses/<course>/assignments/<slug>/draft.json")
@login_required
@limiter.limit(DRAFT_RATE, key_func=_user_key)
def draft_json(course: str, slug: str):
    """Save the editor's code as the student's draft (autosave; not a submission)."""
    assignment = _exercise(course, slug)
    code = request.form.get("code", "").replace("\r\n", "\n")
    if "\x00" in code:
        return _json_error(422, "invalid_code", "the code holds a NUL character")
    if len(code.encode()) > current_app.config["RUBRIC_MAX_CODE_BYTES"]:
        return _json_error(413, "code_too_large", "the code is too large to save")
    draft = save_draft(assignment, current_user, code)
    return jsonify({"saved_at": draft.saved_at.isoformat()})


@bp.get("/courses/<course>/submissions/<int:submission_id>.json")
@login_required
def submission_json(course: str, submission_id: int):
    """Return a submission's status and, once graded, its result rendered for the page."""
    return jsonify(page_view(_visible_submission(course, submission_id)))


@bp.get("/courses/<course>/submissions/<int:submission_id>")
@login_required
def submission(course: str, submission_id: int):
    """Show one submission: its code and result; refreshes itself until graded."""
    found = _visible_submission(course, submission_id)
    add_sweep(found)
    return render_template(
        "submission.html",
        submission=found,
        result_html=result_html(found),
        refresh=_refresh_seconds(found),
        others=found.user_id != current_user.id,
    )


@bp.get("/courses/<course>/assignments/<slug>/submissions")
@login_required
def submissions(course: str, slug: str):
    """List every submission to an assignment, filtered by student and outcome (instructors)."""
    assignment = _exercise(course, slug)
    require_staff(current_user, assignment.course)
    student, outcome = request.args.get("student", ""), request.args.get("outcome", "")
    everyone = all_submissions(assignment)
    newest = current_exercise(assignment)
    shown = [
        s
        for s in everyone
        if (not student or s.user.email == student) and outcome_filter(s, outcome)
    ]
    return render_template(
        "submissions.html",
        assignment=assignment,
        submissions=shown,
        students=sorted({s.user.email for s in everyone}),
        student=student,
        outcome=outcome,
        total=len(everyone),
        newest=newest.version,
        older=sum(s.exercise_id != newest.id for s in everyone),
    )


def page_view(submission: Submission) -> dict[str, Any]:
    """Return the API's view of a submission plus what the page's script shows of it."""
    add_sweep(submission)  # on first view of the result, not in the grading path
    view = submission_view(submission)
    if "result" in view:
        view["result"] = shown_result(submission)
    view["url"] = _submission_url(submission)
    view["json_url"] = _submission_url(submission, ".json")
    view["status_text"] = status_text(submission)
    if submission.status not in PENDING:
        view["html"] = result_html(submission)
        view["history_html"] = _history_html(submission.assignment, submission.user)
        view["error_location"] = error_location(submission.result)
    return view


def status_text(submission: Submission) -> str:
    """Say in words where a submission is, for the live status line."""
    if submission.status == SubmissionStatus.QUEUED:
        return f"Submission {submission.number} is waiting for a grader…"
    if submission.status == SubmissionStatus.RUNNING:
        return f"Submission {submission.number} is being graded…"
    if submission.status == SubmissionStatus.ERROR:
        return ERROR_MESSAGE
    return f"Submission {submission.number} graded."  # the result below shows the score, once


def result_html(submission: Submission) -> str:
    """Render a submission's result the same way for the page, its script and instructors."""
    instructor = is_staff(current_user, submission.assignment.course)
    blocks = result_blocks(submission, shown_result(submission), hidden_details=instructor)
    return render_template(
        "_result.html",
        submission=submission,
        released=feedback_shown(current_user, submission.assignment, submission.user_id),
        status_text=status_text(submission),
        blocks=blocks,
        summary=summary(blocks),
        prefix=submission.id,
        instructor=instructor,
        location=error_location(submission.result),
        demo=(submission.result or {}).get("demo"),
        sweep=(submission.result or {}).get("sweep"),
    )


def shown_result(submission: Submission) -> dict | None:
    """Return the result as the user may see it: hidden tests withheld until released."""
    if feedback_shown(current_user, submission.assignment, submission.user_id):
        return submission.result
    return withheld(submission.result)


def error_location(result: dict | None) -> dict[str, int] | None:
    """Return the line and column of a file that did not load, for the editor."""
    if not result or result.get("parts") and any(p["score"] for p in result["parts"]):
        return None
    feedback = result.get("feedback", "")
    match = LOCATION.search(feedback) if feedback.startswith("Your file") else None
    if not match:
        return None
    return {"line": int(match[1]), "column": int(match[2] or 1)}


def posted_code() -> str:
    """Return the posted code: an uploaded .py file if there is one, else the text box."""
    upload = request.files.get("upload")
    if upload is None or not upload.filename:
        return request.form.get("code", "").replace("\r\n", "\n")
    limit = current_app.config["RUBRIC_MAX_CODE_BYTES"]
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise CodeProblem(413, "code_too_large", f"the file is larger than {limit} bytes")
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise CodeProblem(422, "invalid_code", "the uploaded file is not UTF-8 text") from None


def _store(assignment: Assignment, code: str) -> Submission:
    """Store a submission and queue it for grading (in the background, never here)."""
    if not code.strip():
        raise CodeProblem(422, "invalid_code", "there is no code to submit")
    if "\x00" in code:  # not Python source, and PostgreSQL's text cannot hold it
        raise CodeProblem(422, "invalid_code", "the code holds a NUL character")
    stored = submit(assignment, current_user, code)
    if stored.status == SubmissionStatus.QUEUED and stored.enqueued_at is None:
        dispatch(current_app._get_current_object(), stored.id)
    return stored


def _render_page(
    assignment: Assignment, code: str, refusal: str | None = None, opening: Opening | None = None
) -> str:
    """Render the exercise page with the editor holding code."""
    exercise = current_exercise(assignment)
    status = attempt_status(assignment, current_user)
    return render_template(
        "exercise.html",
        assignment=assignment,
        exercise=exercise,
        prompt=render_prompt(exercise.public["prompt"]),
        functions=exercise.public["functions"],
        status=status,
        blocked=str(status.refusal) if status.refusal else None,
        refusal=refusal,
        code=code,
        opening=opening,
        history_html=_history_html(assignment, current_user),
        max_bytes=current_app.config["RUBRIC_MAX_CODE_BYTES"],
        reference_sweep=_reference_sweep(exercise),
        is_instructor=is_staff(current_user, assignment.course),
    )


def _reference_sweep(exercise) -> dict | None:
    """Return the reference's lambda sweep for the page (trusted code, cached per version)."""
    grading = engine_of(exercise)
    if not has_sweep(grading):
        return None
    s = settings(grading)
    lams, reference = s["lams"], reference_sweep(grading)
    return {
        "lams": lams,
        "steps": s["steps"],
        "degree": s["degree"],
        "reference": reference,
        "reference_best": best(lams, reference["validation"]),
    }


def _history_html(assignment: Assignment, user) -> str:
    """Render a student's submissions to an assignment, marking the one that counts."""
    mine = submissions_of(assignment, user)
    return render_template(
        "_history.html",
        assignment=assignment,
        submissions=mine[::-1],
        counting=counting_submission(assignment.score_policy, mine),
        own=user.id == current_user.id,
    )


def _starter(assignment: Assignment) -> str:
    return current_exercise(assignment).public["starter"]


def _restored_code(assignment: Assignment, restore: str) -> str | None:
    """Return the code of one of the user's own earlier submissions, to edit again."""
    if not restore:
        return None
    submission_id = parse_id(restore)
    found = db.session.get(Submission, submission_id) if submission_id else None
    if found is None or found.assignment_id != assignment.id or found.user_id != current_user.id:
        abort(404)
    return found.code


def _exercise(course: str, slug: str) -> Assignment:
    """Return an exercise assignment the user may see; 404 for quizzes and strangers."""
    assignment = get_assignment(current_user, course, slug)
    if assignment.kind != AssignmentKind.EXERCISE:
        abort(404)
    return assignment


def _visible_submission(course: str, submission_id: int) -> Submission:
    """Return a submission the user may see; someone else's looks exactly like a missing one."""
    found = db.session.get(Submission, submission_id)
    if (
        found is None
        or found.assignment.course.slug != course
        or not can_see_submission(current_user, found)
    ):
        abort(404)
    return found


def _submission_url(submission: Submission, suffix: str = "") -> str:
    course = submission.assignment.course.slug
    url = url_for("web.submission", course=course, submission_id=submission.id)
    return url + suffix


def _refresh_seconds(submission: Submission) -> int | None:
    """Refresh a pending page quickly; one in error (retried later) slowly; a graded one never."""
    if submission.status in PENDING:
        return 2
    return 30 if submission.status == SubmissionStatus.ERROR else None


def _json_error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status
