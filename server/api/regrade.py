"""Regrading through the API: queue, preview (?dry_run=true) or apply a previewed regrade."""

from typing import ClassVar

from flask import current_app, g, request
from pydantic import BaseModel, Field, StrictBool, StrictStr

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.api.inputs import json_body
from server.api.models import Answer, Body
from server.courses import get_assignment, require_staff
from server.scoring.gradebook import Entry
from server.submissions import regrade as regrading

FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


class RegradeBody(Body):
    """Which work to grade again, and the preview being confirmed."""

    error_code: ClassVar[str] = "invalid_regrade"
    error_message: ClassVar[str] = "see the field"

    student: StrictStr = Field("", description="only this student's work (e-mail)")
    same_version: StrictBool = Field(
        False, description="true: grade each piece of work again on its own version"
    )
    token: StrictStr = Field(
        "",
        description="the token of a preview (?dry_run=true) to apply: recorded now if the "
        "work is still as previewed (409 stale_preview otherwise)",
    )


class RegradeQuery(BaseModel):
    """?dry_run= of a regrade."""

    dry_run: bool = Field(
        False,
        description="true: grade again and report what would change, record nothing; the "
        "answer's token applies it. 422 invalid_dry_run when not true or false",
    )


FIELDS = {
    "student": (str, "'student' is a student's e-mail address"),
    "same_version": (bool, "'same_version' is true or false"),
    "token": (str, "'token' is the token of a preview"),
}


class Counted(Answer):
    """A student's counted score on the assignment, as the gradebook counts it."""

    score: float | None
    max_score: float | None
    attempts: int
    raw_score: float | None
    penalty: float
    late: int
    overridden: bool
    excused: bool


class RegradedWork(Answer):
    """One submission or quiz attempt graded again."""

    id: int
    number: int
    version_before: int
    score_before: float | None
    max_score_before: float
    version_after: int | None = Field(description="null when the grader failed on it")
    score_after: float | None
    max_score_after: float | None
    error: str = Field("", description="why the grader failed on it (it is left as it was)")


class RegradedStudent(Answer):
    """One student's counted score before and after."""

    email: str
    name: str
    changed: bool
    before: Counted | None
    after: Counted | None
    work: list[RegradedWork]


class RegradeReport(Answer):
    """What a regrade changes (a preview) or changed (applied), student by student."""

    assignment: str
    dry_run: bool
    version: int | None = Field(description="the version graded on; null: each one's own")
    same_version: bool
    students: list[RegradedStudent]
    changed: int = Field(description="students whose counted score changes")
    total: int = Field(description="students whose work was graded again")
    graded: int = Field(description="pieces of work graded again")
    recorded: int = Field(description="new results recorded (0 in a dry run)")
    seconds: float = Field(description="the time grading took")
    token: str = Field(description="give it back to apply this preview")


@bp.post("/courses/<course>/assignments/<slug>/regrade")
@token_required
def regrade_submissions(course: str, slug: str):
    """Grade an assignment's work again after a content fix (instructors and TAs).

    Body (optional) {"student": EMAIL, "same_version": BOOL, "token": TOKEN}. With
    ?dry_run=true: 200, each student's counted score before and after, nothing recorded,
    and a token. Given that token back: 200 with what was recorded, or 202 when more
    submissions than the server grades at once are queued for the workers instead.
    Without one: an exercise's submissions are queued again (202; the old scores count
    until the new results land, regrades wait for an idle queue); a quiz's attempts are
    rescored at once (200).
    """
    assignment = get_assignment(g.user, course, slug)
    require_staff(g.user, assignment.course)
    fields, dry_run = _regrade_body(), _dry_run()
    scope = regrading.scope_of(assignment, fields["student"].strip(), fields["same_version"])
    try:
        return _regrade(scope, fields["token"], dry_run)
    except regrading.StalePreview as exc:
        raise ApiError(409, "stale_preview", str(exc)) from None
    except LookupError as exc:  # the assignment's content was never synced
        raise ApiError(409, "not_synced", str(exc)) from None


def _regrade(scope: regrading.Scope, token: str, dry_run: bool):
    """Preview, apply a preview, queue again, or rescore a quiz."""
    if dry_run:
        return _report(regrading.preview(scope), dry_run=True, recorded=0)
    if token:
        limit = current_app.config["RUBRIC_REGRADE_SYNC_LIMIT"]
        done = regrading.apply(scope, token, g.user, limit)
    elif scope.is_quiz:
        done = regrading.apply_previewed(regrading.preview(scope), g.user)
    else:
        done = regrading.requeue(scope, g.user)
        return _queued(scope, done.submissions, done.version)
    if done.preview is None:
        return _queued(scope, done.queued, done.version)
    return _report(done.preview, dry_run=False, recorded=done.regraded)


def _queued(scope: regrading.Scope, queued: int, version: int | None):
    return {"assignment": scope.assignment.slug, "queued": queued, "version": version}, 202


def _regrade_body() -> dict:
    """Read the optional body; 422 naming the field of a wrong type."""
    raw = json_body() if request.get_data(cache=True) else {}
    fields = {"student": "", "same_version": False, "token": ""} | raw
    for name, (kind, message) in FIELDS.items():
        value = fields[name]
        if not isinstance(value, kind) or (kind is str and "\x00" in value):
            raise ApiError(422, f"invalid_{name}", message, field=name)
    return fields


def _dry_run() -> bool:
    """?dry_run=true|false; 422 naming it otherwise."""
    value = request.args.get("dry_run", "").strip().lower()
    if value not in FLAGS:
        raise ApiError(422, "invalid_dry_run", "'dry_run' is true or false", field="dry_run")
    return FLAGS[value]


def _report(previewed: regrading.Preview, dry_run: bool, recorded: int) -> dict:
    """The preview (or what was applied) as JSON."""
    return {
        "assignment": previewed.scope.assignment.slug,
        "dry_run": dry_run,
        "version": previewed.version,
        "same_version": previewed.scope.same_version,
        "students": [_student(row) for row in previewed.students],
        "changed": previewed.changed,
        "total": len(previewed.students),
        "graded": len(previewed.work),
        "recorded": recorded,
        "seconds": round(previewed.seconds, 3),
        "token": previewed.token,
    }


def _student(row: regrading.StudentChange) -> dict:
    return {
        "email": row.student.email,
        "name": row.student.name,
        "changed": row.changed,
        "before": _counted(row.before),
        "after": _counted(row.after),
        "work": [_work(item) for item in row.work],
    }


def _counted(entry: Entry | None) -> dict | None:
    if entry is None:
        return None
    names = ("score", "max_score", "attempts", "raw_score", "penalty", "late")
    return {name: getattr(entry, name) for name in names} | {
        "overridden": entry.overridden,
        "excused": entry.excused,
    }


def _work(item: regrading.Work) -> dict:
    failed = bool(item.failed)
    return {
        "id": item.id,
        "number": item.number,
        "version_before": item.version_before,
        "score_before": item.score_before,
        "max_score_before": item.max_before,
        "version_after": None if failed else item.version_after,
        "score_after": None if failed else item.score_after,
        "max_score_after": None if failed else item.max_after,
        "error": item.failed,
    }
