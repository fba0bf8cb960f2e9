"""Malformed requests get a 4xx JSON error naming what is wrong, never a 5xx."""

import pytest

from server.api.inputs import MAX_ID
from tests.api.test_quiz_api import QUIZ, attempts_recorded, correct_answers
from tests.api.test_submissions import REFERENCE, URL, stored

BEYOND_64_BIT = str(2**63)  # 9223372036854775808


def error_of(response, status: int) -> dict:
    """Check a JSON error answer's status and shape; return its error object."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


@pytest.mark.parametrize(
    "submission_id", [BEYOND_64_BIT, str(MAX_ID + 1), "99999999999999999999999", "٣", "0"]
)
def test_an_id_no_row_can_have_is_404(client, student, submission_id):
    response = client.get(f"/api/v1/submissions/{submission_id}", headers=student)
    assert error_of(response, 404)["code"] == "not_found"


def test_the_largest_possible_id_is_looked_up(client, student):
    response = client.get(f"/api/v1/submissions/{MAX_ID}", headers=student)
    assert error_of(response, 404)["message"] == f"no submission {MAX_ID}"


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": "\\ud800"}',  # a lone surrogate, as a raw JSON escape
        b'{"code": "def f(): return \\udfff"}',
        b'{"code": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"code": NaN}',
        b'{"code": "x"',
    ],
)
def test_json_no_database_can_store_is_400_and_nothing_is_stored(client, student, body):
    response = client.post(URL, data=body, headers=student, content_type="application/json")
    assert error_of(response, 400)["code"] == "invalid_json"
    assert stored() == []


def test_a_lone_surrogate_in_a_quiz_answer_is_400(client, student):
    body = b'{"answers": {"q1": "\\ud800"}}'
    response = client.post(
        QUIZ + "/attempts", data=body, headers=student, content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "invalid_json"
    assert attempts_recorded() == 0


def test_json_nested_deep_in_a_quiz_answer_is_400(client, student):
    body = b'{"answers": {"q4": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    response = client.post(
        QUIZ + "/attempts", data=body, headers=student, content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "invalid_json"


def test_a_deep_but_parseable_answer_is_422_naming_the_question(client, student):
    body = b'{"answers": {"q4": ' + b"[" * 1000 + b"]" * 1000 + b"}}"
    response = client.post(
        QUIZ + "/attempts", data=body, headers=student, content_type="application/json"
    )
    assert "q4" in error_of(response, 422)["questions"]


@pytest.mark.parametrize("code", ["", "   \n\t  "])
def test_blank_code_is_422_as_on_the_form(client, student, code):
    response = client.post(URL, json={"code": code}, headers=student)
    assert error_of(response, 422)["code"] == "invalid_code"
    assert stored() == []


def test_a_regrade_body_with_a_lone_surrogate_is_400(client, instructor):
    url = "/api/v1/courses/demo/assignments/l2-regularization/regrade"
    response = client.post(
        url, data=b'{"student": "\\udc00"}', headers=instructor, content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("get", QUIZ + "/attempts", {"POST"}),
        ("delete", URL, {"GET", "POST"}),
        ("post", "/api/v1/submissions/1", {"GET"}),
    ],
)
def test_405_names_the_allowed_methods(client, student, method, url, allowed):
    response = getattr(client, method)(url, headers=student)
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_a_correct_quiz_still_scores_full(client, student):
    """The stricter parsing keeps every answer a student would type."""
    response = client.post(QUIZ + "/attempts", json={"answers": correct_answers()}, headers=student)
    assert response.status_code == 201 and response.json["score"] == response.json["max_score"]


def test_the_reference_still_submits(client, student):
    assert client.post(URL, json={"code": REFERENCE}, headers=student).status_code == 202


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/courses/de%00mo/assignments",
        "/api/v1/courses/demo/assignments/l2-regularization/submissions?student=a%00b",
        "/api/v1/courses/demo/assignments/l2-regularization/submissions?status=%00",
    ],
)
def test_a_nul_in_the_url_is_400_not_a_database_error(client, student, path):
    # PostgreSQL's text cannot hold NUL: the driver's error read as "database down" (503).
    assert error_of(client.get(path, headers=student), 400)["code"] == "bad_request"


@pytest.mark.parametrize("body", [b'{"code": "x = 1\\u0000"}', b'{"code": "x = 1", "\\u0000": 1}'])
def test_a_nul_in_a_json_string_is_400_and_nothing_is_stored(client, student, body):
    response = client.post(URL, data=body, headers=student, content_type="application/json")
    assert error_of(response, 400)["code"] == "invalid_json"
    assert stored() == []


def test_a_nul_in_a_quiz_answer_is_400(client, student):
    body = b'{"answers": {"q1": "b\\u0000"}}'
    response = client.post(
        QUIZ + "/attempts", data=body, headers=student, content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("url", "body", "code", "field"),
    [
        (URL, {"code": 7}, "invalid_code", "code"),
        (URL, {"source": "x = 1"}, "invalid_code", "code"),
        (QUIZ + "/attempts", {"answer": {}}, "invalid_answer", "answers"),
    ],
)
def test_a_body_error_names_its_field(client, student, url, body, code, field):
    error = error_of(client.post(url, json=body, headers=student), 422)
    assert (error["code"], error["field"]) == (code, field)


def test_a_regrade_body_error_names_its_field(client, instructor):
    url = "/api/v1/courses/demo/assignments/l2-regularization/regrade"
    error = error_of(client.post(url, json={"student": ["a@b"]}, headers=instructor), 422)
    assert error == {
        "code": "invalid_student",
        "message": "'student' is a student's e-mail address",
        "field": "student",
    }


def test_code_beside_notebooks_that_are_not_notebooks_is_422_and_nothing_is_stored(client, student):
    body = {"code": REFERENCE, "notebooks": {"problem1.ipynb": 5}}
    response = client.post(URL, json=body, headers=student)
    assert error_of(response, 422)["field"] == "notebooks"
    assert stored() == []
