"""Real answers of every API view validate against the models the OpenAPI document shows."""

import pytest
from pydantic import BaseModel

from server.api import models as m
from server.api.openapi import build_document
from server.scoring.questions import KINDS
from tests.api.test_quiz_api import QUIZ, correct_answers
from tests.api.test_submissions import FORGOT_TWO, REFERENCE, URL, wait_graded

EXERCISE = "/api/v1/courses/demo/assignments/l2-regularization"


def conforms(response, status: int, model: type[BaseModel]) -> BaseModel:
    """Check an answer's status, then its JSON against the model: no unknown field or type."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    return model.model_validate_json(response.get_data(), strict=True)


def test_listings_and_details(client, student):
    conforms(client.get("/api/v1/courses", headers=student), 200, m.CourseList)
    conforms(client.get("/api/v1/courses/demo/assignments", headers=student), 200, m.AssignmentList)
    quiz = conforms(client.get(QUIZ, headers=student), 200, m.AssignmentDetail)
    assert quiz.questions and any(q.choices for q in quiz.questions)
    conforms(client.get(EXERCISE, headers=student), 200, m.AssignmentDetail)


def test_a_graded_attempt(client, student):
    body = {"answers": correct_answers() | {"q2": "nonsense?"}}
    conforms(client.post(QUIZ + "/attempts", json=body, headers=student), 422, m.Error)
    body = {"answers": correct_answers()}
    conforms(client.post(QUIZ + "/attempts", json=body, headers=student), 201, m.Attempt)


@pytest.mark.parametrize("code", [REFERENCE, FORGOT_TWO, "def l2_penalty(:"])
def test_submissions_queued_graded_and_listed(client, student, code):
    queued = conforms(client.post(URL, json={"code": code}, headers=student), 202, m.Submission)
    wait_graded(client, queued.id, student)
    shown = client.get(f"/api/v1/submissions/{queued.id}", headers=student)
    assert conforms(shown, 200, m.Submission).result.status == "graded"
    conforms(client.get(URL, headers=student), 200, m.SubmissionList)


def test_instructor_views(client, instructor):
    conforms(client.post(EXERCISE + "/regrade", headers=instructor), 202, m.Regrade)
    gradebook = client.get("/api/v1/courses/demo/gradebook", headers=instructor)
    conforms(gradebook, 200, m.Gradebook)


def test_errors(client, student):
    conforms(client.get("/api/v1/submissions/99", headers=student), 404, m.Error)
    conforms(client.get("/api/v1/courses/demo/gradebook", headers=student), 403, m.Error)
    conforms(client.get("/api/v1/submissions/1?wait=x", headers=student), 422, m.Error)
    conforms(client.get("/api/v1/courses"), 401, m.Error)


def test_a_route_without_its_table_entry_is_not_left_out(app):
    app.add_url_rule("/api/v1/undocumented", "api.undocumented", lambda: {})
    with app.app_context(), pytest.raises(KeyError, match="undocumented"):
        build_document(app)


def test_question_kinds_are_the_registered_ones():
    documented = m.Question.model_json_schema()["properties"]["kind"]["enum"]
    assert sorted(documented) == sorted(KINDS)
