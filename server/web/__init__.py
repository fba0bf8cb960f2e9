"""Server-rendered pages: log-in, courses, quizzes, exercises, results and the gradebook."""

from flask import Blueprint

bp = Blueprint("web", __name__)

from server.web import (  # noqa: E402, F401
    auth,
    course_admin,
    errors,
    exercises,
    filters,
    gradebook,
    notebooks,
    pages,
    people,
    regrade,
    stats,
)
