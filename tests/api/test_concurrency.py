"""Concurrent attempts by one student never slip past the attempt limit."""

from concurrent.futures import ThreadPoolExecutor

from server.extensions import db
from server.models import Assignment, QuizAttempt

QUIZ = "/api/v1/courses/demo/assignments/l2-regularization-quiz"


def test_simultaneous_attempts_respect_the_limit(app, demo, token_for):
    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization-quiz"))
    assignment.attempt_limit = 3
    db.session.commit()
    headers = token_for("student@example.edu")

    def attempt(_):
        with app.test_client() as client:
            return client.post(QUIZ + "/attempts", json={"answers": {"q1": "b"}}, headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(12)))
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 9
    refused = {r.json["error"]["code"] for r in responses if r.status_code == 409}
    assert refused == {"attempt_limit"}
    numbers = db.session.scalars(db.select(QuizAttempt.number).order_by(QuizAttempt.number))
    assert list(numbers) == [1, 2, 3]
