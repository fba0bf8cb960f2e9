"""A demo course whose gradebook holds every kind of cell, made through the API.

On the quiz (weight 3): Sam on time, Sara late (the due date moved between the two
attempts, 10% per day), Stu overridden, Sue excused, Eve (a name a spreadsheet would run
as a formula, with commas and quotes) on time, the others nothing. On the exercise: Sam
given a score by hand (no work behind it), Sara excused.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.accounts import ensure_user
from server.courses import enroll
from server.courses.people import create_course
from server.extensions import db
from server.models import Course, Role
from tests.api.test_quiz_api import correct_answers

QUIZ, EXERCISE = "l2-regularization-quiz", "l2-regularization"
API = "/api/v1/courses/demo"
SAM, SARA, STU, SUE = (f"student{n}@example.edu" for n in ("", "2", "3", "4"))
NOBODY = "student5@example.edu"
EVE = "eve@example.edu"
EVE_NAME = '=HYPERLINK("http://x.example","win"), "Eve", Jr.'
TA, OUTSIDER = "gb-ta@example.edu", "gb-other@example.edu"


@dataclass
class Graded:
    """The course, and the API headers of who looks at it."""

    course: Course
    instructor: dict
    ta: dict
    student: dict
    outsider: dict


def attempt(client, headers: dict, email: str) -> dict:
    """A fully right quiz attempt through the API, as stored."""
    answer = client.post(
        f"{API}/assignments/{QUIZ}/attempts",
        json={"answers": correct_answers(email)},
        headers=headers,
    )
    assert answer.status_code == 201, answer.json
    return answer.json


def put(client, headers: dict, url: str, body: dict) -> None:
    answer = client.put(url, json=body, headers=headers)
    assert answer.status_code == 200, answer.json


def make_graded(client, demo, token_for) -> Graded:
    """Build the course of the module docstring."""
    eve = ensure_user(EVE, EVE_NAME, "eve-password")
    enroll(eve, demo)
    enroll(ensure_user(TA, "Tia Assistant", "ta-password"), demo, Role.TA)
    other = create_course("gb-other", "Other course")
    enroll(ensure_user(OUTSIDER, "Otto Outsider", "x-password"), other, Role.INSTRUCTOR)
    db.session.commit()
    teacher = token_for("instructor@example.edu")
    on_time = attempt(client, token_for(SAM), SAM)
    late = attempt(client, token_for(SARA), SARA)
    attempt(client, token_for(STU), STU)
    attempt(client, token_for(EVE), EVE)
    # The due date falls between Sam's and Sara's attempts: Sara's is late, on read.
    first = datetime.fromisoformat(on_time["submitted_at"])
    second = datetime.fromisoformat(late["submitted_at"])
    due = first + (second - first) / 2
    settings = {
        "due_at": due.isoformat(),
        "late_until": (due + timedelta(days=7)).isoformat(),
        "late_penalty_per_day": 0.1,
        "weight": 3,
    }
    changed = client.patch(f"{API}/assignments/{QUIZ}", json=settings, headers=teacher)
    assert changed.status_code == 200, changed.json
    overrides = f"{API}/assignments/{QUIZ}/overrides"
    put(client, teacher, f"{overrides}/{STU}", {"score": 2.5, "reason": "regraded, by hand"})
    put(client, teacher, f"{overrides}/{SUE}", {"excused": True, "reason": "medical"})
    overrides = f"{API}/assignments/{EXERCISE}/overrides"
    put(client, teacher, f"{overrides}/{SAM}", {"score": 7, "reason": "oral exam"})
    put(client, teacher, f"{overrides}/{SARA}", {"excused": True, "reason": "joined late"})
    return Graded(demo, teacher, token_for(TA), token_for(SAM), token_for(OUTSIDER))
