"""Run visible tests: the sandbox runs the examples only, nothing is stored, no attempt spent."""

import sqlalchemy as sa

from server.extensions import db
from server.grading.exercise import load_exercise
from server.models import Submission

from .support import csrf_token_in
from .test_exercise_pages import EXERCISE_DIR, FORGOT_TWO, REFERENCE, SYNTAX_ERROR, URL

CHECK_URL = URL + "/check.json"


def check(client, code: str):
    token = csrf_token_in(client.get(URL).get_data(as_text=True))
    return client.post(CHECK_URL, data={"code": code, "csrf_token": token})


def submissions() -> int:
    return db.session.scalar(sa.select(sa.func.count(Submission.id)))


def test_the_page_offers_the_check(student):
    page = student.get(URL).get_data(as_text=True)
    assert f'data-check-url="{CHECK_URL}"' in page
    # Without JavaScript the button could do nothing: it is hidden until the script runs.
    assert '<button type="button" class="secondary" id="check-button" hidden>' in page


def test_a_check_runs_only_the_visible_tests_and_stores_nothing(student):
    response = check(student, FORGOT_TWO)
    assert response.status_code == 200 and response.json["loaded"] is True
    html = response.json["html"]
    visible = [t for t in load_exercise(EXERCISE_DIR).tests if t.visible]
    assert html.count("<dt>Expected</dt>") == len(visible)  # each example, passed or not
    assert ">hidden<" not in html and "hidden test" not in html  # no hidden test ran
    assert "not a submission" in html and "factor 2" in html
    assert submissions() == 0
    assert '<dd id="attempts-left">unlimited</dd>' in student.get(URL).get_data(as_text=True)


def test_a_syntax_error_found_by_a_check_costs_no_attempt(student):
    response = check(student, SYNTAX_ERROR)
    assert response.status_code == 200 and response.json["loaded"] is False
    assert response.json["error_location"] == {"line": 4, "column": 23}
    assert "Line 4, column 23" in response.json["html"]
    assert submissions() == 0


def test_the_reference_passes_every_visible_test(student):
    html = check(student, REFERENCE).json["html"]
    assert "fails" not in html and html.count(" passes ") == 3


def test_checks_are_rate_limited_per_student(app, student):
    app.config["RUBRIC_CHECK_RATE"] = "2/minute"
    assert [check(student, REFERENCE).status_code for _ in range(3)] == [200, 200, 429]
    assert check(student, REFERENCE).json["error"]["code"]


def test_empty_code_is_a_clear_refusal(student):
    response = check(student, "  \n")
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_code"
