"""Grading notebook answers by hand through the API: the queue, a submission's grades.

Thin views over server/notebooks/manual.py; the request and answer models live here,
beside their only routes.
"""

from typing import Annotated, ClassVar

from flask import g
from pydantic import BaseModel, Field, StrictStr

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.api.inputs import body, parse_id
from server.api.models import Answer, Body
from server.courses import get_assignment, is_staff, require_staff
from server.extensions import db
from server.models import Assignment, Submission
from server.notebooks import manual


class ManualGradeInput(BaseModel):
    """Points and a comment for one cell waiting for a person."""

    notebook: StrictStr = Field(description="the notebook's file name without .ipynb")
    grade_id: StrictStr = Field(description="the cell's nbgrader grade_id")
    points: float = Field(description="from 0 to the cell's maximum, in steps of 0.5")
    comment: StrictStr = Field("", description="shown to the student; 10,000 characters at most")


class ManualGradesRequest(Body):
    """Grades for some of a submission's cells; all are checked before any is stored."""

    error_code: ClassVar[str] = "invalid_grades"
    error_message: ClassVar[str] = (
        "the body needs 'grades', a list of {notebook, grade_id, points, comment}"
    )

    grades: Annotated[list[ManualGradeInput], Field(min_length=1, max_length=500)]


class ManualCell(Answer):
    """A cell of the submission that a person grades, and its grade if given."""

    notebook: str
    grade_id: str
    max_points: float
    points: float | None = Field(description="null until a person grades it")
    comment: str
    graded_by: str | None
    graded_at: str | None = Field(description="ISO 8601 in UTC")


class ManualGrades(Answer):
    """A submission's automatic score, the points a person gave, and its cells for one."""

    submission_id: int
    student: str
    auto_score: float
    manual_score: float
    score: float = Field(description="auto_score + manual_score")
    max_score: float
    complete: bool = Field(description="false: partly graded, some cells still wait")
    waiting: int
    cells: list[ManualCell]


class QueuedSubmission(Answer):
    """A student's counted submission with cells for a person."""

    submission_id: int
    number: int
    student: str
    score: float
    max_score: float
    graded: int = Field(description="cells graded by a person")
    waiting: int = Field(description="cells still waiting")
    complete: bool


class GradingQueue(Answer):
    """An assignment's "needs grading" list: each student's counted submission."""

    assignment: str
    graded: int = Field(description="submissions with every cell graded")
    total: int
    submissions: list[QueuedSubmission]


@bp.get("/courses/<course>/assignments/<slug>/grading")
@token_required
def show_grading_queue(course: str, slug: str):
    """The counted submissions with answers waiting for a person, and how many are done."""
    assignment = get_assignment(g.user, course, slug)
    queue = manual.grading_queue(assignment, g.user)
    return {
        "assignment": assignment.slug,
        "graded": queue.graded,
        "total": queue.total,
        "submissions": [
            {
                "submission_id": e.submission.id,
                "number": e.submission.number,
                "student": e.submission.user.email,
                "score": e.progress.score,
                "max_score": e.progress.max_score,
                "graded": e.progress.graded,
                "waiting": e.progress.waiting,
                "complete": e.progress.complete,
            }
            for e in queue.entries
        ],
    }


# The id is read by parse_id, not by an int converter in the route: a PUT to an id the
# converter refuses would otherwise answer 405 (the GET's URL), not 404, and the reverse.
@bp.get("/courses/<course>/assignments/<slug>/submissions/<submission_id>/grades")
@token_required
def show_manual_grades(course: str, slug: str, submission_id: str):
    """A submission's cells for a person with their grades; its student once released."""
    assignment = get_assignment(g.user, course, slug)
    submission = _submission(assignment, submission_id)
    if not is_staff(g.user, assignment.course):
        if submission.user_id != g.user.id:
            raise ApiError(404, "not_found", f"no submission {submission_id}")
        if not manual.released(assignment, g.user.id):
            raise ApiError(403, "not_released", "the graders' points and comments come later")
    return _grades(submission)


@bp.put("/courses/<course>/assignments/<slug>/submissions/<submission_id>/grades")
@token_required
def set_manual_grades(course: str, slug: str, submission_id: str):
    """Give points and comments to cells waiting for a person (TAs and instructors).

    422 invalid_grade names the cell for points outside 0..max or not in halves, a cell
    that does not wait for a person, or a submission without a result; nothing is kept.
    """
    assignment = get_assignment(g.user, course, slug)
    require_staff(g.user, assignment.course)
    submission = _submission(assignment, submission_id)
    wanted = body(ManualGradesRequest)
    given = [manual.GradeInput(i.notebook, i.grade_id, i.points, i.comment) for i in wanted.grades]
    try:
        manual.save(submission, g.user, given)
    except manual.GradeRefused as refused:
        db.session.rollback()
        raise ApiError(422, "invalid_grade", str(refused)) from None
    return _grades(submission)


def _submission(assignment: Assignment, raw_id: str) -> Submission:
    number = parse_id(raw_id)
    submission = db.session.get(Submission, number) if number else None
    if submission is None or submission.assignment_id != assignment.id:
        raise ApiError(404, "not_found", f"no submission {raw_id[:20]!r} of {assignment.slug!r}")
    return submission


def _grades(submission: Submission) -> dict:
    grades = manual.grades_of(submission.id)
    state = manual.progress(submission, grades)
    cells = []
    for waiting in manual.waiting_cells(submission.result):
        grade = grades.get((waiting.notebook, waiting.grade_id))
        cells.append(
            {
                "notebook": waiting.notebook,
                "grade_id": waiting.grade_id,
                "max_points": waiting.max_points,
                "points": grade.points if grade else None,
                "comment": grade.comment if grade else "",
                "graded_by": grade.graded_by if grade else None,
                "graded_at": grade.graded_at.isoformat() if grade else None,
            }
        )
    return {
        "submission_id": submission.id,
        "student": submission.user.email,
        "auto_score": state.auto,
        "manual_score": state.manual,
        "score": state.score,
        "max_score": state.max_score,
        "complete": state.complete,
        "waiting": state.waiting,
        "cells": cells,
    }
