"""The draft and the visible-tests check through the API, as the exercise page has them."""

import sqlalchemy as sa

from server.api.drafts import Check, Draft
from server.config import from_environment
from server.content.sync import sync_exercises
from server.courses.assignments import publish
from server.extensions import db
from server.models import Submission
from server.notebooks.importer import import_assignment
from tests.api.test_response_models import conforms
from tests.api.test_submissions import FORGOT_TWO, REFERENCE, URL, wait_graded
from tests.notebooks.support import EXAMPLE
from tests.web.support import STUDENT, PageClient
from tests.web.test_check_visible import check

EXERCISE = "/api/v1/courses/demo/assignments/l2-regularization"
DRAFT, CHECK = EXERCISE + "/draft", EXERCISE + "/check"
QUIZ = "/api/v1/courses/demo/assignments/l2-regularization-quiz"


def submissions() -> int:
    return db.session.scalar(sa.select(sa.func.count(Submission.id)))


def test_a_draft_is_kept_and_opens_instead_of_the_starter(client, student):
    first = conforms(client.get(DRAFT, headers=student), 200, Draft)
    assert first.source == "starter" and first.saved_at is None and "def " in first.code
    kept = conforms(client.put(DRAFT, json={"code": "# mine\n"}, headers=student), 200, Draft)
    assert kept.source == "draft" and kept.saved_at is not None
    again = conforms(client.get(DRAFT, headers=student), 200, Draft)
    assert (again.code, again.source) == ("# mine\n", "draft")
    assert submissions() == 0  # a draft is not a submission


def test_a_later_submission_opens_instead_of_an_older_draft(client, student):
    client.put(DRAFT, json={"code": "# older draft\n"}, headers=student)
    queued = client.post(URL, json={"code": REFERENCE}, headers=student).json
    wait_graded(client, queued["id"], student)
    shown = conforms(client.get(DRAFT, headers=student), 200, Draft)
    assert (shown.code, shown.source) == (REFERENCE, "submission")


def test_drafts_are_each_students_own(client, student, other):
    client.put(DRAFT, json={"code": "# student one\n"}, headers=student)
    theirs = client.get(DRAFT, headers=other).json
    assert theirs["source"] == "starter" and "student one" not in theirs["code"]


def test_bad_drafts_are_4xx(client, student, app):
    assert client.put(DRAFT, json={"code": 3}, headers=student).status_code == 422
    assert client.put(DRAFT, json={}, headers=student).status_code == 422
    big = "#" * (app.config["RUBRIC_MAX_CODE_BYTES"] + 1)
    too_big = client.put(DRAFT, json={"code": big}, headers=student)
    assert too_big.status_code == 413 and too_big.json["error"]["code"] == "code_too_large"
    assert client.get(QUIZ + "/draft", headers=student).status_code == 409
    assert (
        client.get("/api/v1/courses/nope/assignments/x/draft", headers=student).status_code == 404
    )
    assert client.get(DRAFT).status_code == 401


def test_a_check_runs_the_visible_tests_only_and_stores_nothing(client, student):
    checked = conforms(client.post(CHECK, json={"code": FORGOT_TWO}, headers=student), 200, Check)
    assert checked.loaded
    tests = [t for part in checked.parts for t in part.tests]
    assert tests and all(t.visible for t in tests)
    assert any(t.outcome == "wrong_answer" for t in tests)
    assert checked.sweep is not None and checked.sweep.student_best is not None
    assert submissions() == 0


def test_a_check_of_a_file_that_does_not_load_says_where(client, student):
    broken = "import numpy as np\n\n\ndef l2_penalty(w, lam)\n    return 0\n"
    checked = conforms(client.post(CHECK, json={"code": broken}, headers=student), 200, Check)
    assert not checked.loaded and "line 4" in checked.feedback
    assert submissions() == 0


def test_a_blank_check_is_422(client, student):
    answer = client.post(CHECK, json={"code": "  \n"}, headers=student)
    assert answer.status_code == 422 and answer.json["error"]["code"] == "invalid_code"


def test_checks_share_one_limit_with_the_page(app, client, student):
    app.config["RUBRIC_CHECK_RATE"] = "2/minute"
    page = PageClient(app, app.response_class, use_cookies=True)
    assert page.login(*STUDENT).status_code == 302
    assert check(page, REFERENCE).status_code == 200  # the page's button
    assert client.post(CHECK, json={"code": REFERENCE}, headers=student).status_code == 200
    refused = client.post(CHECK, json={"code": REFERENCE}, headers=student)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert check(page, REFERENCE).status_code == 429  # one bucket for both


def test_a_notebook_exercise_has_no_code_draft_or_check(client, student, demo, tmp_path):
    folder = tmp_path / "content" / "exercises"
    import_assignment(EXAMPLE / "source" / "ps1", folder)
    sync_exercises(tmp_path / "content")
    publish(demo, "ps1", None)
    db.session.commit()
    notebook = "/api/v1/courses/demo/assignments/ps1"
    for answer in (
        client.get(notebook + "/draft", headers=student),
        client.put(notebook + "/draft", json={"code": "x = 1\n"}, headers=student),
        client.post(notebook + "/check", json={"code": "x = 1\n"}, headers=student),
    ):
        assert answer.status_code == 409
        assert answer.json["error"]["code"] == "notebook_exercise"


def test_the_check_rate_is_read_from_the_environment(monkeypatch, tmp_path):
    assert from_environment(str(tmp_path))["RUBRIC_CHECK_RATE"] == "20/minute"
    monkeypatch.setenv("RUBRIC_CHECK_RATE", "5/minute")
    assert from_environment(str(tmp_path))["RUBRIC_CHECK_RATE"] == "5/minute"
