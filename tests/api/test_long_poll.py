"""GET /api/v1/submissions/ID?wait=S: one request that answers once the grading is done."""

import time
from functools import partial

import pytest
import sqlalchemy as sa

import server.api.submissions as submissions_api
from server.config import PROJECT_ROOT
from server.extensions import db
from server.models import Submission
from server.submissions import notify
from server.submissions.exercises import loaded_version
from server.submissions.views import submission_view
from tests.conftest import SCALE_OUT
from tests.scaleout.support import graded, store_without_message, wait_while

URL = "/api/v1/courses/demo/assignments/l2-regularization/submissions"
REFERENCE = (PROJECT_ROOT / "exercises" / "l2-regularization" / "reference.py").read_text()


def show(client, submission_id: int, headers, wait: str | float) -> tuple[float, object]:
    started = time.monotonic()
    response = client.get(f"/api/v1/submissions/{submission_id}?wait={wait}", headers=headers)
    return time.monotonic() - started, response


def test_wait_answers_once_graded_in_one_request(client, student):
    submission_id = client.post(URL, json={"code": REFERENCE}, headers=student).json["id"]
    elapsed, response = show(client, submission_id, student, 20)
    assert response.status_code == 200
    assert response.json["status"] == "graded" and response.json["score"] == 10
    assert elapsed < 15  # answered when graded, not at the end of the wait
    assert notify.waiting_count() == 0


def test_wait_ends_after_the_given_seconds_when_nobody_grades(client, student):
    submission_id = store_without_message("student@example.edu")  # no grader knows of it
    elapsed, response = show(client, submission_id, student, 0.6)
    assert response.status_code == 200 and response.json["status"] == "queued"
    assert 0.55 <= elapsed < 3
    assert notify.waiting_count() == 0


def test_a_wait_up_to_the_maximum_is_kept(client, student, monkeypatch):
    monkeypatch.setattr(submissions_api, "MAX_WAIT_SECONDS", 0.3)
    submission_id = store_without_message("student@example.edu")
    elapsed, response = show(client, submission_id, student, "3e-1")
    assert response.json["status"] == "queued" and 0.25 <= elapsed < 2


@pytest.mark.parametrize("wait", ["21", "20.001", "3600", "1e400"])
def test_a_wait_beyond_the_documented_maximum_is_422_naming_it(client, student, wait):
    """The OpenAPI document says at most 20: a longer one is refused, not silently cut."""
    submission_id = store_without_message("student@example.edu")
    _, response = show(client, submission_id, student, wait)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_wait"
    assert response.json["error"]["field"] == "wait" and "20" in response.json["error"]["message"]


def test_without_a_free_slot_the_answer_comes_at_once(app, client, student):
    app.config["RUBRIC_WAIT_SLOTS"] = 0  # as a gunicorn worker with a single thread
    app.extensions.pop("rubric_wait_slots", None)
    submission_id = store_without_message("student@example.edu")
    elapsed, response = show(client, submission_id, student, 5)
    assert response.json["status"] == "queued" and elapsed < 1


@pytest.mark.parametrize("wait", ["soon", "-1", "nan", "inf", "", "²", "١", "1_0", " 1"])
def test_invalid_wait_is_422(client, student, wait):
    submission_id = store_without_message("student@example.edu")
    _, response = show(client, submission_id, student, wait)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_wait"


def test_wait_does_not_show_another_students_submission(client, student, token_for):
    submission_id = store_without_message("student@example.edu")
    other = token_for("student2@example.edu")
    elapsed, response = show(client, submission_id, other, 5)
    assert response.status_code == 404 and elapsed < 1


def test_graded_answer_is_the_submission_view(app, client, student):
    """The stored result is sent as stored: the same JSON as the view built from the row."""
    submission_id = client.post(URL, json={"code": REFERENCE}, headers=student).json["id"]
    _, response = show(client, submission_id, student, 20)
    assert response.json["status"] == "graded"
    assert response.headers["Content-Type"] == "application/json"
    db.session.expire_all()
    assert response.json == submission_view(db.session.get(Submission, submission_id))
    assert response.json["result"]["parts"]  # not an empty or missing result


def test_a_grader_in_this_process_wakes_the_waiter_at_once(app, student, monkeypatch):
    monkeypatch.setattr(notify, "LOOK_AFTER", (30.0,))  # no look at the database meanwhile
    submission_id = store_without_message("student@example.edu")
    finished, seconds = wait_while(
        app, submission_id, 20, 0.3, graded(submission_id), partial(notify.finished, submission_id)
    )
    assert finished is True and seconds < 3


def test_a_grader_elsewhere_is_seen_in_the_database(app, student, monkeypatch):
    monkeypatch.setattr(notify, "LOOK_AFTER", (0.05,))
    submission_id = store_without_message("student@example.edu")
    # Graded, and nobody in this process says so.
    finished, seconds = wait_while(app, submission_id, 20, 0.3, graded(submission_id))
    assert finished is True and seconds < 3


@pytest.mark.skipif(SCALE_OUT, reason="checks this process's cache of exercise versions")
def test_an_exercise_version_is_checked_against_its_hash(app, demo):
    from server.models import Exercise

    row = db.session.scalar(sa.select(Exercise).filter_by(slug="l2-regularization"))
    assert loaded_version(row.id, (row.slug, row.content_hash)).functions
    with pytest.raises(LookupError):
        loaded_version(row.id, (row.slug, "0" * 64))


@pytest.fixture
def status_looks(app):
    """Record each query of a submission's status: a waiter's look at the database."""
    looks = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT submission.status"):
            looks.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    yield looks
    sa.event.remove(db.engine, "before_cursor_execute", seen)


def test_while_a_grader_here_holds_it_the_waiter_does_not_poll(
    app, student, monkeypatch, status_looks
):
    monkeypatch.setattr(notify, "LOOK_AFTER", (0.01,))  # would look ~100 times a second
    monkeypatch.setattr(notify, "LOOK_WHEN_TOLD", 30.0)  # only the wake-up ends it
    submission_id = store_without_message("student@example.edu")
    notify.grading_here(submission_id)
    finished, seconds = wait_while(
        app, submission_id, 20, 0.5, graded(submission_id), partial(notify.done_here, submission_id)
    )
    assert finished is True and seconds < 3
    # Only the look the wake-up asked for: the caller's own look stands for the first.
    assert len(status_looks) == 1


def test_a_grader_here_that_finished_before_the_wait_began_is_seen_at_once(
    app, student, monkeypatch, status_looks
):
    monkeypatch.setattr(notify, "LOOK_AFTER", (30.0,))
    monkeypatch.setattr(notify, "LOOK_WHEN_TOLD", 30.0)
    submission_id = store_without_message("student@example.edu")
    notify.grading_here(submission_id)
    graded(submission_id)()
    notify.done_here(submission_id)  # between the caller's look and its wait: no waiter yet
    started = time.monotonic()
    assert notify.wait_until_finished(submission_id, 20) is True
    assert time.monotonic() - started < 3 and len(status_looks) == 1


def test_a_grader_here_that_gives_up_hands_back_to_polling(app, student, monkeypatch):
    monkeypatch.setattr(notify, "LOOK_AFTER", (0.05,))
    monkeypatch.setattr(notify, "LOOK_WHEN_TOLD", 30.0)
    submission_id = store_without_message("student@example.edu")
    notify.grading_here(submission_id)
    # The grader here gives up (e.g. it lost the claim), and the one elsewhere cannot say.
    finished, seconds = wait_while(
        app,
        submission_id,
        20,
        0.3,
        partial(notify.done_here, submission_id),
        0.3,
        graded(submission_id),
    )
    assert finished is True and seconds < 3


def test_waiters_count_on_announcements_while_any_listener_hears_them(
    app, student, monkeypatch, status_looks
):
    monkeypatch.setattr(notify, "LOOK_AFTER", (0.01,))
    monkeypatch.setattr(notify, "LOOK_WHEN_TOLD", 30.0)
    notify.listener_live(True)
    notify.listener_live(True)
    notify.listener_live(False)  # one of two listeners lost Redis; the other still hears
    try:
        submission_id = store_without_message("student@example.edu")
        # notify.finished is what the live listener does when the grading is announced.
        finished, _ = wait_while(
            app,
            submission_id,
            20,
            0.5,
            graded(submission_id),
            partial(notify.finished, submission_id),
        )
    finally:
        notify.listener_live(False)
    assert finished is True
    assert len(status_looks) == 2
