"""POST .../regrade with ?dry_run=true, a preview's token, same_version and student."""

import pytest

from server.scoring import quizzes
from server.submissions.result_history import history_of
from tests.api.regrade_support import (
    OTHER,
    QUIZ_SLUG,
    TA,
    attempt,
    fix_quiz_key,
    graded_then_fixed,
    staff_here_and_elsewhere,
    submission,
)

REGRADE = "/api/v1/courses/demo/assignments/l2-regularization/regrade"
QUIZ_REGRADE = f"/api/v1/courses/demo/assignments/{QUIZ_SLUG}/regrade"


@pytest.fixture
def fixed(demo, tmp_path):
    return graded_then_fixed(tmp_path)


def test_a_dry_run_reports_each_student_and_records_nothing(fixed, client, instructor):
    response = client.post(REGRADE + "?dry_run=true", headers=instructor)

    assert response.status_code == 200
    report = response.json
    assert (report["dry_run"], report["version"], report["changed"], report["total"]) == (
        True,
        2,
        1,
        2,
    )
    assert report["recorded"] == 0 and report["graded"] == 2 and len(report["token"]) == 32
    rows = {row["email"]: row for row in report["students"]}
    assert not rows["student@example.edu"]["changed"]
    wrong = rows["student2@example.edu"]
    assert wrong["changed"] and wrong["before"]["score"] != wrong["after"]["score"]
    (work,) = wrong["work"]
    assert (work["id"], work["version_before"], work["version_after"]) == (fixed[1], 1, 2)
    assert work["score_after"] == wrong["after"]["score"]
    assert submission(fixed[1]).exercise.version == 1


def test_the_token_applies_exactly_the_preview_and_only_once(fixed, client, instructor):
    preview = client.post(REGRADE + "?dry_run=true", headers=instructor).json

    applied = client.post(REGRADE, json={"token": preview["token"]}, headers=instructor)
    again = client.post(REGRADE, json={"token": preview["token"]}, headers=instructor)

    assert applied.status_code == 200
    body = applied.json
    assert (body["dry_run"], body["recorded"], body["changed"]) == (False, 2, 1)
    assert body["students"] == preview["students"]  # what was recorded is what was shown
    assert submission(fixed[1]).score == preview["students"][0]["after"]["score"]
    assert again.status_code == 409 and again.json["error"]["code"] == "stale_preview"
    assert len(history_of(submission_id=fixed[1])) == 1


def test_one_student_on_the_same_version(fixed, client, instructor):
    body = {"student": "Student@example.edu", "same_version": True}
    preview = client.post(REGRADE + "?dry_run=1", json=body, headers=instructor).json

    applied = client.post(REGRADE, json=body | {"token": preview["token"]}, headers=instructor)

    assert [row["email"] for row in applied.json["students"]] == ["student@example.edu"]
    assert applied.json["version"] is None and applied.json["changed"] == 0
    assert submission(fixed[0]).exercise.version == 1 and submission(fixed[0]).score == 10


def test_without_a_token_an_exercise_is_queued_as_before(fixed, client, instructor):
    response = client.post(REGRADE, json={"same_version": True}, headers=instructor)

    assert response.status_code == 202
    assert response.json == {"assignment": "l2-regularization", "queued": 2, "version": 2}
    assert submission(fixed[0]).exercise.version == 1  # queued on its own version
    assert submission(fixed[0]).regraded_at is not None
    assert len(history_of(submission_id=fixed[0])) == 1


def test_a_large_preview_is_queued_when_applied(fixed, app, client, instructor):
    app.config["RUBRIC_REGRADE_SYNC_LIMIT"] = 1
    preview = client.post(REGRADE + "?dry_run=true", headers=instructor).json

    response = client.post(REGRADE, json={"token": preview["token"]}, headers=instructor)

    assert response.status_code == 202 and response.json["queued"] == 2


def test_a_quiz_is_rescored_with_or_without_a_preview(
    demo, client, instructor, tmp_path, monkeypatch
):
    monkeypatch.setattr(quizzes, "_versions", {})
    said_b = attempt("student@example.edu", {"q1": "b"})
    attempt("student2@example.edu", {"q1": "a"})
    fix_quiz_key(tmp_path)
    preview = client.post(QUIZ_REGRADE + "?dry_run=true", headers=instructor).json
    assert (preview["changed"], preview["version"]) == (2, 2)

    done = client.post(QUIZ_REGRADE, headers=instructor)

    assert done.status_code == 200 and done.json["recorded"] == 2
    assert done.json["students"] == preview["students"]
    assert [p.score for p in history_of(attempt_id=said_b)] == [1.0]


@pytest.fixture
def other_course(demo, token_for):
    """A TA of the demo course and the instructor of another course, as headers."""
    staff_here_and_elsewhere(demo)
    return {"ta": token_for(TA[0]), "other": token_for(OTHER[0])}


@pytest.mark.parametrize(("who", "status"), [("ta", 200), ("other", 404), ("student", 403)])
def test_only_the_courses_staff(fixed, client, student, other_course, who, status):
    headers = student if who == "student" else other_course[who]

    response = client.post(REGRADE + "?dry_run=true", headers=headers)

    assert response.status_code == status


@pytest.mark.parametrize(
    ("query", "body", "status", "code", "field"),
    [
        ("?dry_run=maybe", None, 422, "invalid_dry_run", "dry_run"),
        ("", {"same_version": "yes"}, 422, "invalid_same_version", "same_version"),
        ("", {"token": 5}, 422, "invalid_token", "token"),
        ("", {"student": ["a@b"]}, 422, "invalid_student", "student"),
        ("?dry_run=true", {"student": "nobody@example.edu"}, 404, "not_found", None),
        ("", {"token": "abc"}, 409, "stale_preview", None),
    ],
)
def test_bad_requests_get_a_clear_error(
    fixed, client, instructor, query, body, status, code, field
):
    response = client.post(REGRADE + query, json=body, headers=instructor)

    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert response.json["error"].get("field") == field
