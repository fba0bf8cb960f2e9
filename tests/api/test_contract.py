"""What the OpenAPI document and docs/api.md promise: idempotency keys and answer formats."""

import pytest

from server.extensions import db
from server.models import Assignment, AssignmentKind
from tests.api.test_bad_input import error_of
from tests.api.test_quiz_api import QUIZ, attempts_recorded
from tests.api.test_submissions import REFERENCE, URL, stored

OTHER_EXERCISE = "/api/v1/courses/demo/assignments/l2-again/submissions"


@pytest.fixture
def second_exercise(demo):
    """The same exercise published a second time in the demo course, as 'l2-again'."""
    db.session.add(
        Assignment(
            course_id=demo.id,
            slug="l2-again",
            title="L2 again",
            kind=AssignmentKind.EXERCISE,
            content_slug="l2-regularization",
        )
    )
    db.session.commit()


def test_an_idempotency_key_longer_than_128_is_refused_not_cut(client, student):
    first = client.post(
        URL, json={"code": REFERENCE}, headers=student | {"Idempotency-Key": "k" * 128}
    )
    assert first.status_code == 202
    longer = client.post(
        URL, json={"code": "x = 2"}, headers=student | {"Idempotency-Key": "k" * 129}
    )
    error = error_of(longer, 422)
    assert error["code"] == "invalid_idempotency_key" and "128" in error["message"]
    assert [s.code for s in stored()] == [REFERENCE]


def test_a_key_reused_with_other_code_is_422_and_the_first_is_kept(client, student):
    headers = student | {"Idempotency-Key": "homework-1"}
    first = client.post(URL, json={"code": REFERENCE}, headers=headers)
    assert first.status_code == 202
    changed = client.post(URL, json={"code": REFERENCE + "\n# v2\n"}, headers=headers)
    assert error_of(changed, 422)["code"] == "idempotency_key_reused"
    again = client.post(URL, json={"code": REFERENCE}, headers=headers)
    assert again.status_code == 202 and again.json["id"] == first.json["id"]
    assert [s.code for s in stored()] == [REFERENCE]


def test_a_key_reused_on_another_assignment_is_422(client, student, second_exercise):
    headers = student | {"Idempotency-Key": "same-key"}
    assert client.post(URL, json={"code": REFERENCE}, headers=headers).status_code == 202
    elsewhere = client.post(OTHER_EXERCISE, json={"code": REFERENCE}, headers=headers)
    assert error_of(elsewhere, 422)["code"] == "idempotency_key_reused"
    assert len(stored()) == 1


@pytest.mark.parametrize(
    "typed",
    ["0.998", " 0.998 ", "+0.998", "9.98e-1", "998E-3", ".998", 0.998],
)
def test_numbers_as_a_student_types_them_are_scored(client, student, typed):
    response = client.post(QUIZ + "/attempts", json={"answers": {"q2": typed}}, headers=student)
    assert response.status_code == 201
    q2 = next(q for q in response.json["questions"] if q["id"] == "q2")
    assert q2["outcome"] == "correct"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("٠.٩٩٨", "expected a number"),  # Arabic-Indic digits: float() takes them
        ("0.99_8", "expected a number"),  # an underscore: float() takes it too
        ("0,998", "decimal point"),
        ("０.９９８", "expected a number"),  # full-width digits
        ("infinity", "expected a number"),
        ("0x1p-1", "expected a number"),
        ("1" + "0" * 400, "finite"),
    ],
)
def test_other_spellings_of_a_number_are_422_naming_the_question(client, student, typed, says):
    response = client.post(QUIZ + "/attempts", json={"answers": {"q2": typed}}, headers=student)
    error = error_of(response, 422)
    assert error["code"] == "invalid_answer" and says in error["questions"]["q2"]
    assert attempts_recorded() == 0


@pytest.mark.parametrize("value", [[], [0.998], {}, {"v": 1}, True, False])
def test_a_list_object_or_boolean_for_a_number_is_422_not_blank(client, student, value):
    response = client.post(QUIZ + "/attempts", json={"answers": {"q2": value}}, headers=student)
    assert "q2" in error_of(response, 422)["questions"]
    assert attempts_recorded() == 0


@pytest.mark.parametrize("value", [[], {}, True])
def test_a_list_object_or_boolean_for_a_single_choice_is_422(client, student, value):
    response = client.post(QUIZ + "/attempts", json={"answers": {"q1": value}}, headers=student)
    assert "q1" in error_of(response, 422)["questions"]


@pytest.mark.parametrize(("q2", "q4"), [(None, []), ("", None), ("   ", [])])
def test_null_blank_and_no_box_ticked_are_unanswered(client, student, q2, q4):
    answers = {"q1": "b", "q2": q2, "q4": q4}
    response = client.post(QUIZ + "/attempts", json={"answers": answers}, headers=student)
    assert response.status_code == 201
    outcomes = {q["id"]: q["outcome"] for q in response.json["questions"]}
    assert outcomes["q2"] == outcomes["q4"] == "unanswered"


def test_an_unknown_gradebook_format_is_422_not_json(client, instructor):
    """Found by the schemathesis run: the document says json or csv."""
    response = client.get("/api/v1/courses/demo/gradebook?format=xml", headers=instructor)
    error = error_of(response, 422)
    assert error["code"] == "invalid_format" and error["field"] == "format"
    assert client.get("/api/v1/courses/demo/gradebook?format=json", headers=instructor).json
