"""Courses, their assignments, and quiz attempts."""

from flask import g

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.api.inputs import body
from server.api.models import AttemptRequest
from server.api.serialize import assignment_detail, assignment_summary, course_summary
from server.courses import courses_for, get_assignment, get_course
from server.models import AssignmentKind
from server.scoring.quizzes import submit_attempt


@bp.get("/courses")
@token_required
def list_courses():
    """List the courses the user belongs to, with the user's role in each."""
    return {"courses": [course_summary(c, g.user) for c in courses_for(g.user)]}


@bp.get("/courses/<course>/assignments")
@token_required
def list_assignments(course: str):
    """List the assignments of a course the user belongs to."""
    found = get_course(g.user, course)
    return {"assignments": [assignment_summary(a, g.user) for a in found.assignments]}


@bp.get("/courses/<course>/assignments/<slug>")
@token_required
def show_assignment(course: str, slug: str):
    """Show an assignment with its questions, never its answers."""
    return assignment_detail(get_assignment(g.user, course, slug), g.user)


@bp.post("/courses/<course>/assignments/<slug>/attempts")
@token_required
def create_attempt(course: str, slug: str):
    """Score and record a quiz attempt."""
    assignment = get_assignment(g.user, course, slug)
    if assignment.kind != AssignmentKind.QUIZ:
        raise ApiError(409, "not_a_quiz", f"{slug!r} is not a quiz; submit code instead")
    answers = body(AttemptRequest).answers
    return submit_attempt(assignment, g.user, answers).result, 201
