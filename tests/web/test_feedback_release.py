"""Feedback release: hidden-test names, hints, quiz explanations and right choices, by setting.

immediately: shown at once; after_due: after the student's own due date (an extension
moves it); never: never to students. Staff of the course always see everything, on the
pages, the pages' JSON and the API.
"""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.extensions import db
from server.grading.exercise import load_exercise
from server.models import Assignment, Extension, FeedbackRelease
from server.models.types import utcnow

from .support import QUIZ_SLUG, STUDENT
from .test_exercise_pages import EXERCISE_DIR, FORGOT_TWO, post_code, submission_id, wait_graded

HIDDEN = {t.name for t in load_exercise(EXERCISE_DIR).tests if not t.visible}
HINT = "don't forget the factor 2"
Q1_EXPLANATION = "every weight shrinks by the factor (1 − 2αλ)"


def configure(slug: str, release: FeedbackRelease, due_in_hours: float | None = None) -> None:
    """Set an assignment's release setting and due date (hours from now; None: no date)."""
    assignment = db.session.scalar(sa.select(Assignment).where(Assignment.slug == slug))
    assignment.feedback_release = release
    assignment.due_at = None if due_in_hours is None else utcnow() + timedelta(hours=due_in_hours)
    db.session.commit()


def hidden_tests(result: dict) -> list[dict]:
    return [t for part in result["parts"] for t in part["tests"] if not t["visible"]]


def graded_forgot_two(student) -> int:
    """Submit code with a known mistake on visible and hidden tests; wait for its grade."""
    number = submission_id(post_code(student, FORGOT_TWO))
    wait_graded(student, number)
    return number


def assert_withheld(result: dict) -> None:
    tests = hidden_tests(result)
    names = {t["name"] for t in tests}
    assert names.isdisjoint(HIDDEN) and "hidden test 1" in names
    for test in tests:  # outcome and score only, in the grader's fixed words
        assert HINT not in test["feedback"]
        assert test["feedback"] in ("", "Wrong answer on a hidden test.")
    assert any(t["outcome"] == "wrong_answer" and t["score"] == 0 for t in tests)


def assert_released(result: dict) -> None:
    tests = hidden_tests(result)
    assert {t["name"] for t in tests} == HIDDEN
    assert any(HINT in t["feedback"] for t in tests)


def views(client, number: int, headers: dict) -> tuple[dict, str, dict]:
    """The pages' JSON result, the submission page, and the API's result."""
    page_json = client.get(f"/courses/demo/submissions/{number}.json").json
    page = client.get(f"/courses/demo/submissions/{number}").get_data(as_text=True)
    api = client.get(f"/api/v1/submissions/{number}", headers=headers).json
    return page_json["result"], page_json["html"] + page, api["result"]


@pytest.mark.parametrize(
    ("release", "due_in_hours", "released"),
    [
        (FeedbackRelease.IMMEDIATELY, 24, True),
        (FeedbackRelease.AFTER_DUE, 24, False),
        (FeedbackRelease.AFTER_DUE, None, True),  # no due date: nothing to wait for
        (FeedbackRelease.NEVER, None, False),
    ],
)
def test_a_students_hidden_tests_follow_the_release_setting(
    student, token_for, release, due_in_hours, released
):
    configure("l2-regularization", release, due_in_hours)
    number = graded_forgot_two(student)
    page_result, html, api_result = views(student, number, token_for(STUDENT[0]))
    for result in (page_result, api_result):
        (assert_released if released else assert_withheld)(result)
    some_hidden = sorted(HIDDEN)[0]
    assert (some_hidden in html) is released
    assert ("feedback-withheld" in html) is not released


def test_after_the_due_date_the_same_result_is_released(student, token_for):
    configure("l2-regularization", FeedbackRelease.AFTER_DUE, 24)
    number = graded_forgot_two(student)
    assert_withheld(views(student, number, token_for(STUDENT[0]))[2])
    configure("l2-regularization", FeedbackRelease.AFTER_DUE, -1)  # the due date passed
    page_result, _, api_result = views(student, number, token_for(STUDENT[0]))
    assert_released(page_result)
    assert_released(api_result)


def test_an_extension_keeps_feedback_back_until_the_students_own_due_date(student, token_for):
    configure("l2-regularization", FeedbackRelease.AFTER_DUE, 24)
    number = graded_forgot_two(student)
    configure("l2-regularization", FeedbackRelease.AFTER_DUE, -1)  # the class's date passed
    assignment = db.session.scalar(
        sa.select(Assignment).where(Assignment.slug == "l2-regularization")
    )
    db.session.add(
        Extension(
            assignment_id=assignment.id,
            user_id=find_user(STUDENT[0]).id,
            due_at=utcnow() + timedelta(hours=24),
        )
    )
    db.session.commit()
    assert_withheld(views(student, number, token_for(STUDENT[0]))[2])


def test_staff_always_see_every_hidden_test(student, instructor, token_for):
    configure("l2-regularization", FeedbackRelease.NEVER)
    number = graded_forgot_two(student)
    page_result, html, api_result = views(instructor, number, token_for("instructor@example.edu"))
    assert_released(page_result)
    assert_released(api_result)
    assert "feedback-withheld" not in html


def quiz_attempt(client) -> tuple[int, str]:
    """Post a quiz attempt with q1 wrong; return its id and its page."""
    response = client.submit({"q1": "a", "q2": "0.5"})
    assert response.status_code == 303
    attempt_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return attempt_id, client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("release", "due_in_hours", "released"),
    [
        (FeedbackRelease.IMMEDIATELY, None, True),
        (FeedbackRelease.AFTER_DUE, 24, False),
        (FeedbackRelease.NEVER, None, False),
    ],
)
def test_a_quiz_shows_explanations_and_right_choices_per_setting(
    student, instructor, token_for, release, due_in_hours, released
):
    configure(QUIZ_SLUG, release, due_in_hours)
    attempt_id, page = quiz_attempt(student)
    assert (Q1_EXPLANATION in page) is released
    assert ("choice-right" in page) is released
    assert ("feedback-withheld" in page) is not released
    api = student.post(
        f"/api/v1/courses/demo/assignments/{QUIZ_SLUG}/attempts",
        json={"answers": {"q1": "a"}},
        headers=token_for(STUDENT[0]),
    ).json
    assert api["feedback_released"] is released
    q1 = api["questions"][0]
    assert (q1.get("right") == ["b"]) is released
    assert bool(q1["explanation"]) is released
    # The instructor reading the student's attempt always sees both.
    theirs = instructor.get(f"/courses/demo/attempts/{attempt_id}").get_data(as_text=True)
    assert Q1_EXPLANATION in theirs and "choice-right" in theirs


def test_a_quiz_after_its_due_date_shows_what_was_right(student):
    configure(QUIZ_SLUG, FeedbackRelease.AFTER_DUE, 24)
    attempt_id, page = quiz_attempt(student)
    assert "choice-right" not in page
    configure(QUIZ_SLUG, FeedbackRelease.AFTER_DUE, -1)
    page = student.get(f"/courses/demo/attempts/{attempt_id}").get_data(as_text=True)
    assert Q1_EXPLANATION in page and "choice-right" in page
