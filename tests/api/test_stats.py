"""GET .../assignments/SLUG/stats: SPEC's shape, counted work, staff of the course only."""

import pytest
import sqlalchemy as sa

from bench.stats_seed import mistake_code, reference_code, store
from server.accounts import ensure_user, find_user
from server.api.stats import AssignmentStats
from server.courses import enroll
from server.courses.people import create_course
from server.extensions import db
from server.models import Assignment, Role
from tests.api.test_quiz_api import correct_answers

BASE = "/api/v1/courses/demo/assignments"
EXERCISE, QUIZ = f"{BASE}/l2-regularization/stats", f"{BASE}/l2-regularization-quiz/stats"


@pytest.fixture
def people(demo, token_for) -> dict:
    """Headers of the demo's instructor, a TA, a student, and another course's instructor and TA."""
    enroll(ensure_user("ta@example.edu", "Tess", "ta-password"), demo, Role.TA)
    other = create_course("other", "Another course")
    enroll(ensure_user("olga@example.edu", "Olga", "other-pass"), other, Role.INSTRUCTOR)
    enroll(ensure_user("otto@example.edu", "Otto", "other-pass"), other, Role.TA)
    db.session.commit()
    emails = {
        "instructor": "instructor@example.edu",
        "ta": "ta@example.edu",
        "student": "student@example.edu",
        "other": "olga@example.edu",
        "other_ta": "otto@example.edu",
    }
    return {who: token_for(email) for who, email in emails.items()}


def exercise() -> Assignment:
    return db.session.scalar(sa.select(Assignment).where(Assignment.slug == "l2-regularization"))


def test_the_exercise_stats_have_specs_shape_and_count_the_counted_work(client, people):
    found = exercise()
    store(found, find_user("student@example.edu").id, [mistake_code(found, "forgot_factor_two")])
    store(found, find_user("student2@example.edu").id, [mistake_code(found, "norm_not_squared")])
    store(
        found,
        find_user("student3@example.edu").id,
        [mistake_code(found, "forgot_factor_two"), reference_code(found)],
    )
    answer = client.get(EXERCISE, headers=people["instructor"])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    stats = AssignmentStats.model_validate_json(answer.get_data(), strict=True)
    body = answer.json
    assert list(body)[:6] == ["students", "submitted", "score", "tests", "mistakes", "questions"]
    assert (stats.students, stats.submitted) == (9, 3)
    top = [(m.name, m.students) for m in stats.mistakes[:2]]
    # student3's reference (full marks) counts, not their earlier mistake.
    assert top == [("forgot_factor_two", 1), ("norm_not_squared", 1)]
    assert all(m.students == 0 for m in stats.mistakes[2:])
    assert sum(b.count for b in stats.score.histogram) == 3
    assert stats.attempts_to_full_marks.reached == 1
    assert stats.tests and stats.questions == []
    assert set(body["score"]["histogram"][0]) == {"from", "to", "count"}


def test_the_quiz_stats_give_each_question(client, people):
    quiz = f"{BASE}/l2-regularization-quiz/attempts"
    for email, who in (("student@example.edu", "student"),):
        body = {"answers": correct_answers(email)}
        assert client.post(quiz, json=body, headers=people[who]).status_code == 201
    answer = client.get(QUIZ, headers=people["ta"])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    stats = AssignmentStats.model_validate_json(answer.get_data(), strict=True)
    assert [q.id for q in stats.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert all(q.correct_rate == 1.0 for q in stats.questions)
    assert all(q.discrimination is None for q in stats.questions)  # one attempt: no groups
    assert stats.questions[0].choices == {"a": 0.0, "b": 1.0, "c": 0.0, "d": 0.0}
    assert stats.tests == [] and stats.mistakes == []


@pytest.mark.parametrize(("who", "status"), [("student", 403), ("other", 404), ("other_ta", 404)])
def test_only_the_courses_staff_read_them(client, people, who, status):
    answer = client.get(EXERCISE, headers=people[who])
    assert answer.status_code == status
    assert answer.json["error"]["code"] in ("forbidden", "not_found")


def test_unknown_assignment_and_missing_token(client, people):
    assert client.get(f"{BASE}/nope/stats", headers=people["instructor"]).status_code == 404
    assert (
        client.get("/api/v1/courses/nope/assignments/x/stats", headers=people["ta"]).status_code
        == 404
    )
    assert client.get(EXERCISE).status_code == 401
