"""The quiz part of the JSON API, driven through the Flask test client."""

import pytest

from server.extensions import db
from server.models import Assignment, QuizAttempt
from server.scoring.questions import kind_of
from server.scoring.quizzes import current_quiz, question_params

QUIZ = "/api/v1/courses/demo/assignments/l2-regularization-quiz"


def correct_answers(email: str = "student@example.edu") -> dict:
    """Return the right answers for a student, q5 from their own parameters."""
    from server.accounts import find_user

    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization-quiz"))
    q5 = next(q for q in current_quiz(assignment).questions if q.key == "q5")
    params = question_params(assignment, find_user(email), q5)
    return {
        "q1": "b",
        "q2": 0.998,
        "q3": "b",
        "q4": ["a", "b"],
        "q5": kind_of("numeric").correct_value(q5.spec, params),
    }


def listed(client, headers, slug="l2-regularization-quiz") -> dict:
    """Return one assignment from the course listing."""
    listing = client.get("/api/v1/courses/demo/assignments", headers=headers).json
    return next(a for a in listing["assignments"] if a["slug"] == slug)


def attempts_recorded() -> int:
    return db.session.scalar(db.select(db.func.count(QuizAttempt.id)))


def test_list_assignments(client, student):
    response = client.get("/api/v1/courses/demo/assignments", headers=student)
    assert response.status_code == 200
    kinds = {a["slug"]: a["kind"] for a in response.json["assignments"]}
    assert kinds == {"l2-regularization-quiz": "quiz", "l2-regularization": "exercise"}
    quiz = listed(client, student)
    assert quiz["attempts_used"] == 0 and quiz["attempts_left"] is None


def test_detail_never_shows_answers(client, student):
    detail = client.get(QUIZ, headers=student).json
    assert [q["id"] for q in detail["questions"]] == ["q1", "q2", "q3", "q4", "q5"]
    assert detail["max_score"] == 5
    for question in detail["questions"]:
        assert {"answer", "explanation", "atol", "params"}.isdisjoint(question)
    assert "1 - 2*alpha*lam" not in str(detail)


def test_randomized_prompt_is_stable_per_student_and_differs_between_students(
    client, demo, token_for
):
    prompts = {}
    for n in range(2, 10):
        headers = token_for(f"student{n}@example.edu")
        first = client.get(QUIZ, headers=headers).json["questions"][4]["prompt"]
        again = client.get(QUIZ, headers=headers).json["questions"][4]["prompt"]
        assert first == again
        assert "{alpha}" not in first
        prompts[n] = first
    assert len(set(prompts.values())) > 1


def test_full_marks(client, student):
    response = client.post(QUIZ + "/attempts", json={"answers": correct_answers()}, headers=student)
    assert response.status_code == 201
    assert response.json["score"] == 5 and response.json["max_score"] == 5
    assert all(q["outcome"] == "correct" for q in response.json["questions"])
    assert response.json["questions"][1]["explanation"].startswith("1 − 2αλ")


def test_numeric_string_and_tolerance(client, student):
    answers = {"q2": " 0.9980005 "}
    response = client.post(QUIZ + "/attempts", json={"answers": answers}, headers=student)
    assert response.json["questions"][1]["outcome"] == "correct"
    answers = {"q2": 0.99801}
    response = client.post(QUIZ + "/attempts", json={"answers": answers}, headers=student)
    assert response.json["questions"][1]["outcome"] == "incorrect"


@pytest.mark.parametrize(
    ("q4", "score"),
    [(["a", "b"], 1.0), (["a"], 0.5), (["a", "c"], 0.0), (["a", "b", "c"], 0.5), (["c", "d"], 0.0)],
)
def test_multiple_choice_partial_credit_never_negative(client, student, q4, score):
    response = client.post(QUIZ + "/attempts", json={"answers": {"q4": q4}}, headers=student)
    assert response.json["questions"][3]["score"] == score


def test_unanswered_questions_score_zero(client, student):
    response = client.post(QUIZ + "/attempts", json={"answers": {"q1": "b"}}, headers=student)
    assert response.status_code == 201
    assert response.json["score"] == 1
    assert [q["outcome"] for q in response.json["questions"]][1:] == ["unanswered"] * 4


@pytest.mark.parametrize(
    ("answers", "question"),
    [
        ({"q9": "a"}, "q9"),
        ({"q2": "abc"}, "q2"),
        ({"q2": True}, "q2"),
        ({"q2": "nan"}, "q2"),
        ({"q1": "e"}, "q1"),
        ({"q4": "z"}, "q4"),
        ({"q4": {"a": 1}}, "q4"),
    ],
)
def test_bad_answer_is_422_naming_the_question_and_not_recorded(client, student, answers, question):
    response = client.post(QUIZ + "/attempts", json={"answers": answers}, headers=student)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_answer"
    assert question in error["questions"] and question in error["message"]
    assert attempts_recorded() == 0
    assert listed(client, student)["attempts_used"] == 0


def test_missing_answers_object_is_422(client, student):
    response = client.post(QUIZ + "/attempts", json={"q1": "b"}, headers=student)
    assert response.status_code == 422


def test_invalid_json_is_400(client, student):
    response = client.post(
        QUIZ + "/attempts", data="{not json", headers=student | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"


def test_json_array_body_is_400(client, student):
    response = client.post(QUIZ + "/attempts", json=["q1"], headers=student)
    assert response.status_code == 400


def test_oversized_body_is_413(client, student):
    body = '{"answers": {"q1": "' + "b" * 300_000 + '"}}'
    response = client.post(
        QUIZ + "/attempts", data=body, headers=student | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"
    assert attempts_recorded() == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/courses/nope/assignments",
        "/api/v1/courses/demo/assignments/nope",
        "/api/v1/courses/nope/gradebook",
    ],
)
def test_unknown_course_or_assignment_is_404(client, student, path):
    response = client.get(path, headers=student)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_post_to_unknown_assignment_is_404_and_records_nothing(client, student):
    response = client.post(
        "/api/v1/courses/demo/assignments/nope/attempts", json={"answers": {}}, headers=student
    )
    assert response.status_code == 404
    assert attempts_recorded() == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
)
def test_missing_or_bad_token_is_401(client, demo, headers):
    response = client.get("/api/v1/courses/demo/assignments", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_course_of_someone_else_looks_like_404(client, demo, token_for, app):
    from server.accounts import ensure_user

    ensure_user("outsider@example.edu", "Out Sider", "pw")
    db.session.commit()
    headers = token_for("outsider@example.edu")
    assert client.get("/api/v1/courses/demo/assignments", headers=headers).status_code == 404


def test_attempt_limit_is_409(client, student):
    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization-quiz"))
    assignment.attempt_limit = 2
    db.session.commit()
    for _ in range(2):
        assert (
            client.post(QUIZ + "/attempts", json={"answers": {}}, headers=student).status_code
            == 201
        )
    response = client.post(QUIZ + "/attempts", json={"answers": {}}, headers=student)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "attempt_limit"
    assert attempts_recorded() == 2


def test_past_due_is_409(client, student):
    from datetime import UTC, datetime

    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization-quiz"))
    assignment.due_at = datetime(2020, 1, 1, tzinfo=UTC)
    db.session.commit()
    response = client.post(QUIZ + "/attempts", json={"answers": {}}, headers=student)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "past_due"


def test_gradebook_is_403_for_a_student(client, student):
    response = client.get("/api/v1/courses/demo/gradebook", headers=student)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_gradebook_best_policy_json_and_csv(client, student, token_for):
    client.post(QUIZ + "/attempts", json={"answers": correct_answers()}, headers=student)
    client.post(QUIZ + "/attempts", json={"answers": {"q1": "b"}}, headers=student)
    instructor = token_for("instructor@example.edu")
    book = client.get("/api/v1/courses/demo/gradebook", headers=instructor).json
    rows = {row["student"]["email"]: row for row in book["students"]}
    assert len(rows) == 9
    assert rows["student@example.edu"]["scores"]["l2-regularization-quiz"] == {
        "score": 5.0,
        "max_score": 5.0,
        "attempts": 2,
        "raw_score": 5.0,
        "penalty": 0.0,
        "late": 0,
        "overridden": False,
        "excused": False,
    }
    assert rows["student2@example.edu"]["scores"]["l2-regularization-quiz"]["score"] is None
    csv = client.get("/api/v1/courses/demo/gradebook?format=csv", headers=instructor)
    assert csv.mimetype == "text/csv"
    lines = csv.text.splitlines()
    assert lines[0] == "email,name,l2-regularization,l2-regularization-quiz,total,percent"
    # Both weigh 1: the unsubmitted exercise counts 0 of its points, the quiz 5 of 5.
    assert "student@example.edu,Sam Student,,5,5,50" in lines


def test_gradebook_last_policy(client, student, token_for):
    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization-quiz"))
    assignment.score_policy = "last"
    db.session.commit()
    client.post(QUIZ + "/attempts", json={"answers": correct_answers()}, headers=student)
    client.post(QUIZ + "/attempts", json={"answers": {"q1": "b"}}, headers=student)
    instructor = token_for("instructor@example.edu")
    book = client.get("/api/v1/courses/demo/gradebook", headers=instructor).json
    row = next(r for r in book["students"] if r["student"]["email"] == "student@example.edu")
    assert row["scores"]["l2-regularization-quiz"]["score"] == 1.0


def test_a_student_never_sees_another_students_scores(client, student, token_for):
    other = token_for("student2@example.edu")
    client.post(QUIZ + "/attempts", json={"answers": correct_answers()}, headers=student)
    assert listed(client, other)["attempts_used"] == 0
