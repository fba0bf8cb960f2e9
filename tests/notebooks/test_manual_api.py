"""Grading notebook answers by hand through the API: the queue, reading and setting a
submission's grades, refusals, and who may do what."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.api.manual_grading import GradingQueue, ManualGrades
from server.extensions import db
from server.models import Assignment, Submission
from tests.notebooks.manual_support import OTHER, STUDENT, STUDENT2, TA, WAITING, make_ps1

BASE = "/api/v1/courses/demo/assignments/ps1"


@pytest.fixture
def ps1(demo, tmp_path):
    return make_ps1(demo, tmp_path)


def submission_id(email: str) -> int:
    return db.session.scalar(
        sa.select(Submission.id).where(Submission.user_id == find_user(email).id)
    )


def all_cells(points: float) -> dict:
    return {
        "grades": [
            {"notebook": n, "grade_id": g, "points": points, "comment": f"{g}: fine"}
            for (n, g) in WAITING
        ]
    }


def test_a_ta_reads_the_queue_and_grades_a_submission(client, ps1, token_for):
    ta = token_for(TA[0])
    queue = client.get(f"{BASE}/grading", headers=ta)
    assert queue.status_code == 200
    GradingQueue.model_validate(queue.json)
    assert (queue.json["graded"], queue.json["total"]) == (0, 2)
    url = f"{BASE}/submissions/{submission_id(STUDENT[0])}/grades"
    before = client.get(url, headers=ta).json
    ManualGrades.model_validate(before)
    assert before["complete"] is False and before["waiting"] == len(WAITING)
    answer = client.put(url, json=all_cells(1), headers=ta)
    assert answer.status_code == 200, answer.json
    ManualGrades.model_validate(answer.json)
    assert answer.json["manual_score"] == len(WAITING)
    assert answer.json["score"] == pytest.approx(before["auto_score"] + len(WAITING))
    assert answer.json["complete"] is True
    assert {c["graded_by"] for c in answer.json["cells"]} == {TA[0]}
    assert client.get(f"{BASE}/grading", headers=ta).json["graded"] == 1


@pytest.mark.parametrize(
    ("grades", "status", "code", "says"),
    [
        ({"grades": [{"notebook": "problem2", "grade_id": "part-a", "points": 3}]}, 422,
         "invalid_grade", "outside 0 to 1"),
        ({"grades": [{"notebook": "problem2", "grade_id": "part-b", "points": 0.25}]}, 422,
         "invalid_grade", "steps of 0.5"),
        ({"grades": [{"notebook": "problem1", "grade_id": "correct_squares", "points": 1}]}, 422,
         "invalid_grade", "no cell of this submission waits"),
        ({"grades": []}, 422, "invalid_grades", "'grades'"),
        ({"grades": [{"notebook": "problem2", "grade_id": "part-a", "points": "many"}]}, 422,
         "invalid_grades", "'grades'"),
    ],
)  # fmt: skip
def test_bad_grades_are_refused_and_nothing_is_kept(
    client, ps1, token_for, grades, status, code, says
):
    url = f"{BASE}/submissions/{submission_id(STUDENT[0])}/grades"
    answer = client.put(url, json=grades, headers=token_for(TA[0]))
    assert answer.status_code == status
    assert answer.json["error"]["code"] == code and says in answer.json["error"]["message"]
    assert client.get(url, headers=token_for(TA[0])).json["manual_score"] == 0


def test_students_and_other_courses_staff_may_not_grade(client, ps1, token_for):
    url = f"{BASE}/submissions/{submission_id(STUDENT[0])}/grades"
    student, other = token_for(STUDENT[0]), token_for(OTHER[0])
    assert client.get(f"{BASE}/grading", headers=student).status_code == 403
    assert client.put(url, json=all_cells(1), headers=student).status_code == 403
    assert client.get(f"{BASE}/grading", headers=other).status_code == 404
    assert client.put(url, json=all_cells(1), headers=other).status_code == 404
    assert client.get(url, headers=token_for(TA[0])).json["manual_score"] == 0


def test_a_student_reads_their_own_grades_once_released(client, ps1, token_for):
    mine = f"{BASE}/submissions/{submission_id(STUDENT[0])}/grades"
    theirs = f"{BASE}/submissions/{submission_id(STUDENT2[0])}/grades"
    assert client.put(mine, json=all_cells(0.5), headers=token_for(TA[0])).status_code == 200
    student = token_for(STUDENT[0])
    answer = client.get(mine, headers=student)
    assert answer.status_code == 200 and answer.json["manual_score"] == 0.5 * len(WAITING)
    assert client.get(theirs, headers=student).status_code == 404
    db.session.scalar(sa.select(Assignment).filter_by(slug="ps1")).feedback_release = "never"
    db.session.commit()
    hidden = client.get(mine, headers=student)
    assert hidden.status_code == 403 and hidden.json["error"]["code"] == "not_released"
