"""Courses and assignments as JSON, shared by the API and the web pages' data."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.courses import course_role
from server.models import Assignment, AssignmentKind, Course, User
from server.notebooks.submission import notebook_detail, notebook_version
from server.scoring import late
from server.scoring.quizzes import attempt_status, current_quiz, public_questions


def course_summary(course: Course, user: User) -> dict[str, Any]:
    """Return a course's listing fields and the user's role in it."""
    return {"slug": course.slug, "title": course.title, "role": course_role(user, course).value}


def assignment_summary(assignment: Assignment, user: User) -> dict[str, Any]:
    """Return an assignment's listing fields and the user's attempts so far."""
    status = attempt_status(assignment, user)
    dates = late.dates_for(assignment, user.id)  # the user's own: an extension moves them
    return {
        "slug": assignment.slug,
        "title": assignment.title,
        "kind": assignment.kind.value,
        "opens_at": _shown(dates.opens_at, assignment),
        "due_at": _shown(dates.due_at, assignment),
        "late_until": _shown(dates.late_until, assignment),
        "extended": dates.extended,
        "attempt_limit": assignment.attempt_limit,
        "score_policy": assignment.score_policy.value,
        "attempts_used": status.used,
        "attempts_left": status.left,
    }


def _shown(moment: datetime | None, assignment: Assignment) -> str | None:
    """A time in ISO 8601 in the course's time zone, with its offset."""
    return None if moment is None else in_zone(moment, assignment.course.timezone).isoformat()


def in_zone(moment: datetime, timezone: str) -> datetime:
    """The same moment in a time zone (UTC if the name is unknown)."""
    try:
        return moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError, OverflowError):
        return moment


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
    elif (row := notebook_version(assignment)) is not None:
        detail |= notebook_detail(row)
    return detail
