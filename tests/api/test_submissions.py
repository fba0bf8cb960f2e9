"""Code submissions through the API: stored before 202, graded in the background, once."""

import json
import time
from datetime import timedelta

import pytest

from server.config import PROJECT_ROOT
from server.extensions import db
from server.models import Assignment, Submission, SubmissionStatus
from server.models.types import utcnow
from server.submissions import runner, service
from server.submissions.queue import get_queue
from tests.scaleout.support import store_without_message

EXERCISE = PROJECT_ROOT / "exercises" / "l2-regularization"
URL = "/api/v1/courses/demo/assignments/l2-regularization/submissions"
REFERENCE = (EXERCISE / "reference.py").read_text()
FORGOT_TWO = REFERENCE.replace("2 * lam * w", "lam * w")


def wait_graded(client, submission_id: int, headers, timeout: float = 30) -> dict:
    """Poll a submission until it is graded (or fail after the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/submissions/{submission_id}", headers=headers).json
        if body["status"] in ("graded", "error"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"submission {submission_id} not graded in {timeout} s: {body}")


def graded(client, headers, code: str) -> dict:
    """Submit code through the API and wait until it is graded; return the graded view."""
    submission_id = client.post(URL, json={"code": code}, headers=headers).json["id"]
    return wait_graded(client, submission_id, headers)


def stored() -> list[Submission]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Submission).order_by(Submission.id)))


def test_reference_is_stored_before_202_and_graded_full(client, student):
    assert "2 * lam * w" in REFERENCE  # the mistake below depends on it
    response = client.post(URL, json={"code": REFERENCE}, headers=student)
    assert response.status_code == 202
    body = response.json
    assert body["status"] in ("queued", "running", "graded")
    assert response.headers["Location"] == f"/api/v1/submissions/{body['id']}"
    (row,) = stored()
    assert row.id == body["id"] and row.code == REFERENCE and row.exercise.version == 1
    graded = wait_graded(client, body["id"], student)
    assert graded["status"] == "graded"
    assert graded["score"] == graded["max_score"] == 10
    result = graded["result"]
    assert [part["name"] for part in result["parts"]] == [
        "l2_penalty",
        "l2_gradient",
        "weight_decay_step",
    ]
    assert {"exercise", "status", "score", "max_score", "feedback", "parts", "duration_ms"} <= set(
        result
    )


def test_known_mistake_gets_its_hint(client, student):
    submission_id = client.post(URL, json={"code": FORGOT_TWO}, headers=student).json["id"]
    graded = wait_graded(client, submission_id, student)
    assert graded["status"] == "graded" and graded["score"] < 10
    gradient = next(p for p in graded["result"]["parts"] if p["name"] == "l2_gradient")
    hints = " ".join(t["feedback"] for t in gradient["tests"])
    assert "2" in hints and "factor" in hints.lower()


def test_syntax_error_is_graded_zero_with_its_line(client, student):
    code = "import numpy as np\n\ndef l2_penalty(w, lam)\n    return 0\n"
    submission_id = client.post(URL, json={"code": code}, headers=student).json["id"]
    graded = wait_graded(client, submission_id, student)
    assert graded["status"] == "graded" and graded["score"] == 0
    assert "line 3" in graded["result"]["feedback"]


def test_idempotency_key_returns_the_first_submission(client, student):
    headers = student | {"Idempotency-Key": "retry-123"}
    first = client.post(URL, json={"code": REFERENCE}, headers=headers)
    again = client.post(URL, json={"code": REFERENCE}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json["id"] == again.json["id"]
    assert len(stored()) == 1
    other = client.post(URL, json={"code": REFERENCE}, headers=student | {"Idempotency-Key": "2"})
    assert other.json["id"] != first.json["id"]


def test_code_too_large_is_413_and_not_stored(client, student, app):
    app.config["RUBRIC_MAX_CODE_BYTES"] = 1000
    response = client.post(URL, json={"code": "#" * 1001}, headers=student)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "code_too_large"
    assert stored() == []


@pytest.mark.parametrize("body", [{}, {"code": 12}, {"code": None}])
def test_missing_code_is_422(client, student, body):
    response = client.post(URL, json=body, headers=student)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_code"
    assert stored() == []


def test_invalid_json_is_400(client, student):
    headers = student | {"Content-Type": "application/json"}
    assert client.post(URL, data="{", headers=headers).status_code == 400


def test_posting_code_to_a_quiz_is_409(client, student):
    url = URL.replace("l2-regularization/", "l2-regularization-quiz/")
    response = client.post(url, json={"code": REFERENCE}, headers=student)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "not_an_exercise"


def test_rate_limit_answers_429_with_retry_after(client, student, app):
    app.config["RUBRIC_SUBMISSION_RATE"] = "2/minute"
    codes = [
        client.post(URL, json={"code": "x = 1"}, headers=student).status_code for _ in range(3)
    ]
    assert codes == [202, 202, 429]
    response = client.post(URL, json={"code": "x = 1"}, headers=student)
    assert response.json["error"]["code"] == "too_many_requests"
    assert int(response.headers["Retry-After"]) > 0
    assert len(stored()) == 2


def test_rate_limit_is_per_user(client, student, token_for, app):
    app.config["RUBRIC_SUBMISSION_RATE"] = "1/minute"
    other = token_for("student2@example.edu")
    assert client.post(URL, json={"code": "x = 1"}, headers=student).status_code == 202
    assert client.post(URL, json={"code": "x = 1"}, headers=other).status_code == 202
    assert client.post(URL, json={"code": "x = 1"}, headers=student).status_code == 429


def test_full_course_queue_answers_429(client, student, app):
    app.config["RUBRIC_COURSE_QUEUE_CAP"] = 1
    app.config["RUBRIC_SWEEP_SECONDS"] = 0
    waiting = _queued_row()
    response = client.post(URL, json={"code": REFERENCE}, headers=student)
    assert response.status_code == 429
    assert response.json["error"]["code"] == "course_queue_full"
    assert response.headers["Retry-After"] == "5"
    assert [s.id for s in stored()] == [waiting]


def _queued_row() -> int:
    """Store a queued submission directly, as if no grader had picked it up yet."""
    return store_without_message("student2@example.edu")


def test_a_failed_grader_keeps_the_submission_in_error_and_schedules_a_retry(
    app, demo, monkeypatch
):
    def engine_down(exercise, code):
        raise RuntimeError("engine down")

    monkeypatch.setattr(runner, "grade_with_demo", engine_down)
    submission_id = _queued_row()
    before = utcnow()
    assert runner.process(submission_id) == "error"
    db.session.expire_all()
    row = db.session.get(Submission, submission_id)
    assert row.status == SubmissionStatus.ERROR and row.error == "RuntimeError: engine down"
    assert row.tries == 1 and row.claim is None and row.lease_until is None
    assert row.score is None and row.result is None and row.graded_at is None
    assert before + timedelta(seconds=5) <= row.retry_at <= utcnow() + timedelta(seconds=5)
    assert service.claim(submission_id) is None  # not before its retry is due
    # The last try leaves it in error for good, for an instructor to see. (Held as if
    # claimed a last time; made due, a scale-out worker's sweep could take it first.)
    row.status, row.claim = SubmissionStatus.RUNNING, "1-last"
    row.lease_until = utcnow() + timedelta(minutes=1)
    db.session.commit()
    last = service.Claim(submission_id, "1-last", tries=service.MAX_TRIES)
    assert service.record_failure(last, "RuntimeError: still down")
    db.session.expire_all()
    row = db.session.get(Submission, submission_id)
    assert row.status == SubmissionStatus.ERROR and row.error == "RuntimeError: still down"
    assert row.retry_at is None and row.claim is None
    assert service.claim(submission_id) is None


def test_attempt_limit_counts_submissions(client, student):
    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization"))
    assignment.attempt_limit = 1
    db.session.commit()
    assert client.post(URL, json={"code": "x = 1"}, headers=student).status_code == 202
    response = client.post(URL, json={"code": "x = 1"}, headers=student)
    assert response.status_code == 409 and response.json["error"]["code"] == "attempt_limit"


def test_a_retry_with_its_key_gets_the_first_submission_even_with_no_attempt_left(
    client, student, app
):
    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization"))
    assignment.attempt_limit = 1
    db.session.commit()
    headers = student | {"Idempotency-Key": "last-attempt"}
    first = client.post(URL, json={"code": "x = 1"}, headers=headers)
    app.config["RUBRIC_COURSE_QUEUE_CAP"] = 0  # and the course's queue is full meanwhile
    again = client.post(URL, json={"code": "x = 1"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"] and len(stored()) == 1
    refused = client.post(URL, json={"code": "x = 1"}, headers=student | {"Idempotency-Key": "n"})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "course_queue_full"


def test_only_the_owner_and_instructors_see_a_submission(client, student, token_for):
    submission_id = client.post(URL, json={"code": "x = 1"}, headers=student).json["id"]
    other = token_for("student2@example.edu")
    response = client.get(f"/api/v1/submissions/{submission_id}", headers=other)
    assert response.status_code == 404
    instructor = token_for("instructor@example.edu")
    response = client.get(f"/api/v1/submissions/{submission_id}", headers=instructor)
    assert response.status_code == 200 and response.json["id"] == submission_id
    assert client.get("/api/v1/submissions/999999", headers=student).status_code == 404


def test_sweep_grades_a_submission_whose_message_was_lost(app, student):
    submission_id = _queued_row()  # stored, never dispatched: as if the process died
    get_queue(app)  # what gunicorn's post_worker_init does in every web worker
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        db.session.expire_all()
        row = db.session.get(Submission, submission_id)
        if row.status == SubmissionStatus.GRADED:
            break
        time.sleep(0.1)
    assert row.status == SubmissionStatus.GRADED and row.score == 10
    assert row.tries == 1


def test_gradebook_counts_the_best_graded_submission(client, student, token_for):
    for code in (FORGOT_TWO, REFERENCE, FORGOT_TWO):
        wait_graded(
            client, client.post(URL, json={"code": code}, headers=student).json["id"], student
        )
    instructor = token_for("instructor@example.edu")
    book = client.get("/api/v1/courses/demo/gradebook", headers=instructor).json
    row = next(r for r in book["students"] if r["student"]["email"] == "student@example.edu")
    entry = row["scores"]["l2-regularization"]
    assert (entry["score"], entry["max_score"], entry["attempts"]) == (10.0, 10.0, 3)
    assert (entry["raw_score"], entry["penalty"], entry["late"]) == (10.0, 0.0, 0)


def test_result_is_json_in_the_spec_shape(client, student):
    submission_id = client.post(URL, json={"code": FORGOT_TWO}, headers=student).json["id"]
    result = wait_graded(client, submission_id, student)["result"]
    json.dumps(result)
    for part in result["parts"]:
        for test in part["tests"]:
            assert set(test) == {"name", "outcome", "score", "max_score", "visible", "feedback"}


def test_api_and_exercise_page_share_one_rate_limit(client, student, app):
    from tests.web.support import STUDENT, PageClient

    app.config["RUBRIC_SUBMISSION_RATE"] = "1/minute"
    assert client.post(URL, json={"code": "x = 1"}, headers=student).status_code == 202
    page = PageClient(app, app.response_class, use_cookies=True)
    page.login(*STUDENT)
    url = "/courses/demo/assignments/l2-regularization"
    token = page.csrf_token(url)
    response = page.post(url, data={"code": "x = 2", "csrf_token": token})
    assert response.status_code == 429
    assert len(stored()) == 1


def test_switched_off_limit_logs_no_error(client, student, caplog):
    for _ in range(3):
        assert client.post(URL, json={"code": "x = 1"}, headers=student).status_code == 202
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
