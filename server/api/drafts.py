"""A student's draft and visible-tests check through the API, as the exercise page has them.

The draft is the editor's autosave (one per student and assignment, on the server); a
check runs only the visible tests in the sandbox: nothing is stored, no attempt is spent.
"""

from datetime import datetime
from typing import ClassVar, Literal

from flask import current_app, g
from flask_login import current_user
from pydantic import Field, StrictStr

from server.api import bp
from server.api import models as m
from server.api.auth import token_required
from server.api.errors import ApiError
from server.api.inputs import body
from server.api.submissions import _exercise
from server.extensions import limiter
from server.grading.precheck import check_visible
from server.submissions.drafts import opening_code, save_draft
from server.submissions.exercises import current_exercise, loaded_version

CHECK_RATE = "20/minute"  # visible-tests checks per student, page and API together
DRAFT_RATE = "60/minute"  # autosaves per student: the editor saves at most every 2 s


def user_key() -> str:
    """The limit's key: the API's token user, or the page's logged-in user (one bucket)."""
    user = g.get("user") or current_user
    return f"user:{user.get_id()}"


def check_rate() -> str:
    """Checks are cheap but run code: a few a minute per student (RUBRIC_CHECK_RATE)."""
    return current_app.config.get("RUBRIC_CHECK_RATE", CHECK_RATE)


# One bucket for the page's button and the API, so neither doubles the other's limit.
check_limit = limiter.shared_limit(check_rate, scope="visible-checks", key_func=user_key)


def engine_of(exercise):
    """Return the grading engine's exercise, its files read and hashed once per version."""
    return loaded_version(exercise.id, (exercise.slug, exercise.content_hash))


class DraftRequest(m.Body):
    """The editor's code to keep as the student's draft."""

    error_code: ClassVar[str] = "invalid_code"
    error_message: ClassVar[str] = "the body needs a 'code' string"

    code: StrictStr = Field(description="the whole file as it stands; may be blank")


class Draft(m.Answer):
    """The code the exercise page opens with for this student."""

    assignment: str
    code: str
    source: Literal["draft", "submission", "starter"] = Field(
        description="the newer of the student's draft and latest submission, else the starter"
    )
    saved_at: datetime | None = Field(description="when the draft or submission was stored")


class Check(m.Answer):
    """The visible tests run on posted code: not stored, not a submission, no attempt spent."""

    loaded: bool = Field(description="false: the file did not load (see feedback)")
    feedback: str = Field(description="why the file did not load, with its line; else ''")
    parts: list[m.PartResult] = Field(description="visible tests only, one part per function")
    sweep: m.LambdaSweep | None = Field(None, description="exercises that ship data/sweep.json")


@bp.get("/courses/<course>/assignments/<slug>/draft")
@token_required
def show_draft(course: str, slug: str):
    """Return the code the exercise page opens with: the newer of draft and latest submission."""
    assignment = _exercise(course, slug)
    opening = opening_code(assignment, g.user, current_exercise(assignment).public["starter"])
    saved = opening.saved_at.isoformat() if opening.saved_at else None
    return {"assignment": slug, "code": opening.code, "source": opening.source, "saved_at": saved}


@bp.put("/courses/<course>/assignments/<slug>/draft")
@token_required
@limiter.limit(DRAFT_RATE, key_func=user_key)
def put_draft(course: str, slug: str):
    """Keep the code as the student's draft (not a submission); the page opens on it."""
    assignment = _exercise(course, slug)
    code = _sized(body(DraftRequest).code.replace("\r\n", "\n"))
    draft = save_draft(assignment, g.user, code)
    return {
        "assignment": slug,
        "code": code,
        "source": "draft",
        "saved_at": draft.saved_at.isoformat(),
    }


@bp.post("/courses/<course>/assignments/<slug>/check")
@token_required
@check_limit
def check_code(course: str, slug: str):
    """Run the visible tests on the code: not stored, not a submission, no attempt spent.

    Shares its per-student limit (RUBRIC_CHECK_RATE, 20 a minute) with the page's button.
    """
    assignment = _exercise(course, slug)
    code = _sized(body(m.SubmissionRequest).code.replace("\r\n", "\n"))
    return check_visible(engine_of(current_exercise(assignment)), code)


def _sized(code: str) -> str:
    """Refuse code larger than RUBRIC_MAX_CODE_BYTES (413), as a submission would be."""
    limit = current_app.config["RUBRIC_MAX_CODE_BYTES"]
    if len(code.encode()) > limit:
        raise ApiError(413, "code_too_large", f"the code is larger than {limit} bytes")
    return code
