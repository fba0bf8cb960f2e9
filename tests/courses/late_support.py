"""Helpers of the late-work tests: quiz attempts through the API, gradebook cells, times."""

from datetime import datetime, timedelta

from server.extensions import db
from server.models import Assignment
from tests.api.test_quiz_api import correct_answers

QUIZ = "l2-regularization-quiz"
BASE = "/api/v1/courses/demo/assignments"
STUDENT, STUDENT2 = "student@example.edu", "student2@example.edu"


def attempt(client, headers, email: str = STUDENT) -> dict:
    """A fully right quiz attempt, as stored: its score, maximum and submission time."""
    answer = client.post(
        f"{BASE}/{QUIZ}/attempts", json={"answers": correct_answers(email)}, headers=headers
    )
    assert answer.status_code == 201, answer.json
    return answer.json


def stored_at(result: dict) -> datetime:
    return datetime.fromisoformat(result["submitted_at"])


def iso(moment: datetime, seconds: float = 0) -> str:
    """A moment moved by some seconds, in ISO 8601 with its offset."""
    return (moment + timedelta(seconds=seconds)).isoformat()


def cell(client, headers, email: str, slug: str = QUIZ) -> dict:
    """A student's gradebook entry on an assignment, as the API gives it."""
    book = client.get("/api/v1/courses/demo/gradebook", headers=headers)
    assert book.status_code == 200, book.json
    row = next(r for r in book.json["students"] if r["student"]["email"] == email)
    return row["scores"][slug]


def patch(client, headers, changes: dict, slug: str = QUIZ):
    """Change the assignment through the API; the answer must be 200."""
    answer = client.patch(f"{BASE}/{slug}", json=changes, headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def assignment(slug: str = QUIZ) -> Assignment:
    db.session.remove()
    return db.session.scalar(db.select(Assignment).filter_by(slug=slug))
