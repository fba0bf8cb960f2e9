"""Server-rendered pages: log-in, courses, quizzes, exercises, results and the gradebook."""

from flask import Blueprint

bp = Blueprint("web", __name__)

from server.web import auth, errors, exercises, filters, pages, people, regrade  # noqa: E402, F401
from server.web import stats  # noqa: E402, F401
from server.web import notebooks  # noqa: E402, F401
from server.web import course_admin  # noqa: E402, F401
