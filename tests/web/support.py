"""Helpers for the page tests: a client that logs in and reads CSRF tokens, and answers."""

import re

import sqlalchemy as sa

from server.accounts import find_user
from server.extensions import db
from server.models import Assignment, QuizAttempt
from server.scoring.questions import kind_of
from server.scoring.quizzes import current_quiz, question_params
from tests.conftest import FreshContextClient

STUDENT = ("student@example.edu", "student")
STUDENT2 = ("student2@example.edu", "student")
INSTRUCTOR = ("instructor@example.edu", "instructor")
QUIZ_SLUG = "l2-regularization-quiz"
QUIZ_URL = f"/courses/demo/assignments/{QUIZ_SLUG}"


class PageClient(FreshContextClient):
    """A test client for pages: logs in through the form and reads CSRF tokens."""

    def csrf_token(self, path: str) -> str:
        """Fetch a page and return the CSRF token of its first form."""
        return csrf_token_in(self.get(path).get_data(as_text=True))

    def login(self, email: str, password: str, path: str = "/login"):
        """Log in through the form, as a browser would."""
        data = {"email": email, "password": password, "csrf_token": self.csrf_token("/login")}
        return self.post(path, data=data)

    def submit(self, answers: dict, url: str = QUIZ_URL, confirm_blank: bool = True, **kwargs):
        """Post answers to the quiz form with a valid CSRF token.

        confirm_blank: sent as the page's script sends it once the student agreed to leave
        questions blank; without it the server asks first (the page without a script).
        """
        data = {**answers, "csrf_token": self.csrf_token(url)}
        if confirm_blank:
            data["confirm_blank"] = "1"
        return self.post(url, data=data, **kwargs)


def csrf_token_in(html: str) -> str:
    """Return the CSRF token of the first form in a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match[1]


def correct_answers(assignment: Assignment, email: str = STUDENT[0]) -> dict:
    """Return the right form values for a student, q5 from their own numbers."""
    q5 = next(q for q in current_quiz(assignment).questions if q.key == "q5")
    params = question_params(assignment, find_user(email), q5)
    value = kind_of("numeric").correct_value(q5.spec, params)
    return {"q1": "b", "q2": "0.998", "q3": "b", "q4": ["a", "b"], "q5": repr(value)}


def attempts_recorded() -> int:
    """Count every quiz attempt in the database."""
    return db.session.scalar(sa.select(sa.func.count(QuizAttempt.id)))
