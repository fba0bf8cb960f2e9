"""The lambda sweep on the pages: the reference's before submitting, the student's after."""

import html
import json
import re

from server.extensions import db
from server.grading.exercise import load_exercise
from server.grading.sweep import reference_sweep
from server.models import Submission

from .test_check_visible import check
from .test_exercise_pages import (
    EXERCISE_DIR,
    REFERENCE,
    URL,
    post_code,
    submission_id,
    wait_graded,
)

STEP_WITHOUT_TWO = REFERENCE.replace("(1 - 2 * lr * lam)", "(1 - lr * lam)")


def sweep_data(page: str) -> list[dict]:
    found = re.findall(r'<script type="application/json" class="sweep-data">(.*?)</script>', page)
    return [json.loads(html.unescape(text)) for text in found]


def test_the_exercise_page_shows_the_references_sweep_before_any_submission(student):
    page = student.get(URL).get_data(as_text=True)
    (shown,) = sweep_data(page)
    assert shown["reference"] == reference_sweep(load_exercise(EXERCISE_DIR))
    assert "student" not in shown  # nothing of anyone's code yet
    assert "Lambda sweep" in page


def test_each_graded_result_carries_the_students_sweep(student):
    view = wait_graded(student, submission_id(post_code(student, STEP_WITHOUT_TWO)))
    swept = view["result"]["sweep"]  # the API's view of the result, checked by its model
    (shown,) = sweep_data(view["html"])
    assert shown == swept
    assert swept["student"]["validation"] != swept["reference"]["validation"]
    assert f'class="best-student">{swept["student_best"]}<' in view["html"]


def test_a_visible_tests_check_draws_the_sweep_of_the_code_being_written(student):
    answer = check(student, REFERENCE).json
    (shown,) = sweep_data(answer["html"])
    assert shown["student"] == shown["reference"]
    assert check(student, "def broken(:\n").json["html"].count("sweep-data") == 0


def test_grading_records_the_score_first_and_the_first_view_adds_the_sweep(student, token_for):
    number = submission_id(post_code(student, STEP_WITHOUT_TWO))
    api = token_for("student@example.edu")
    graded = student.get(f"/api/v1/submissions/{number}?wait=20", headers=api).json
    assert graded["status"] == "graded" and graded["score"] is not None
    assert "sweep" not in graded["result"]  # not in the grading path
    shown = student.get(f"/courses/demo/submissions/{number}").get_data(as_text=True)
    (drawn,) = sweep_data(shown)
    db.session.expire_all()
    kept = db.session.get(Submission, number).result["sweep"]  # stored for later views
    assert drawn == kept and kept["student_best"] is not None
    again = student.get(f"/api/v1/submissions/{number}", headers=api).json
    assert again["result"]["sweep"] == kept and again["score"] == graded["score"]
