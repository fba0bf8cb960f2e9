"""Courses and assignments as JSON, shared by the API and the web pages' data."""

from typing import Any

from server.courses import course_role
from server.models import Assignment, AssignmentKind, Course, User
from server.scoring.quizzes import attempt_status, current_quiz, public_questions


def course_summary(course: Course, user: User) -> dict[str, Any]:
    """Return a course's listing fields and the user's role in it."""
    return {"slug": course.slug, "title": course.title, "role": course_role(user, course).value}


def assignment_summary(assignment: Assignment, user: User) -> dict[str, Any]:
    """Return an assignment's listing fields and the user's attempts so far."""
    status = attempt_status(assignment, user)
    return {
        "slug": assignment.slug,
        "title": assignment.title,
        "kind": assignment.kind.value,
        "due_at": assignment.due_at.isoformat() if assignment.due_at else None,
        "attempt_limit": assignment.attempt_limit,
        "score_policy": assignment.score_policy.value,
        "attempts_used": status.used,
        "attempts_left": status.left,
    }


def assignment_detail(assignment: Assignment, user: User) -> dict[str, Any]:
    """Return what a student sees of an assignment: prompt and questions, no answers."""
    detail = assignment_summary(assignment, user)
    if assignment.kind == AssignmentKind.QUIZ:
        quiz = current_quiz(assignment)
        detail |= {
            "description": quiz.description.strip(),
            "version": quiz.version,
            "max_score": sum(q.points for q in quiz.questions),
            "questions": public_questions(assignment, user, quiz),
        }
    return detail
