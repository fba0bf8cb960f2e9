"""Listing an exercise's submissions: a student's own, everyone's for an instructor.

A client that lost the answer to its POST (and sent no Idempotency-Key) finds its
submission here; an instructor's script reads who submitted what and which one counts.
"""

import pytest

from server.accounts import find_user
from server.courses import enroll
from server.extensions import db
from server.models import Assignment, Course, Role, ScorePolicy
from tests.api.test_submissions import FORGOT_TWO, REFERENCE, URL, graded
from tests.scaleout.support import store_without_message

DEMO = "/api/v1/courses/demo/assignments"


def set_policy(policy: ScorePolicy) -> None:
    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization"))
    assignment.score_policy = policy
    db.session.commit()


def listing(client, headers, query: str = ""):
    return client.get(URL + query, headers=headers)


def test_a_student_sees_their_own_newest_first_and_which_counts(client, student, other):
    set_policy(ScorePolicy.BEST)
    wrong = graded(client, student, FORGOT_TWO)
    right = graded(client, student, REFERENCE)
    wrong_again = graded(client, student, FORGOT_TWO)
    graded(client, other, REFERENCE)  # not the student's: never listed for them

    response = listing(client, student)

    assert response.status_code == 200
    body = response.json
    assert body["assignment"] == "l2-regularization"
    items = body["submissions"]
    assert [s["id"] for s in items] == [wrong_again["id"], right["id"], wrong["id"]]
    assert [s["number"] for s in items] == [3, 2, 1]
    assert [s["counts"] for s in items] == [False, True, False]  # best: the full marks
    assert {s["student"]["email"] for s in items} == {"student@example.edu"}
    assert [s["score"] for s in items] == [wrong_again["score"], 10, wrong["score"]]
    assert all(s["status"] == "graded" and "result" not in s for s in items)


def test_under_the_last_policy_the_newest_graded_one_counts(client, student):
    set_policy(ScorePolicy.LAST)
    graded(client, student, REFERENCE)
    last = graded(client, student, FORGOT_TWO)

    items = listing(client, student).json["submissions"]

    assert [(s["id"], s["counts"]) for s in items] == [(last["id"], True), (items[1]["id"], False)]


def test_an_instructor_sees_everyone_and_can_narrow_to_one_student(
    client, student, other, instructor
):
    set_policy(ScorePolicy.BEST)
    first = graded(client, student, REFERENCE)
    second = graded(client, other, FORGOT_TWO)

    everyone = listing(client, instructor).json["submissions"]
    one = listing(client, instructor, "?student=Student2@example.edu").json["submissions"]

    assert [(s["id"], s["student"]["email"], s["counts"]) for s in everyone] == [
        (second["id"], "student2@example.edu", True),  # their only graded one counts
        (first["id"], "student@example.edu", True),
    ]
    assert [s["id"] for s in one] == [second["id"]]


def test_a_ta_sees_everyone_too(client, student, other):
    demo = db.session.scalar(db.select(Course).filter_by(slug="demo"))
    enroll(find_user("student2@example.edu"), demo).role = Role.TA  # the second student grades now
    db.session.commit()
    mine = graded(client, student, REFERENCE)

    everyone = listing(client, other).json["submissions"]

    assert [(s["id"], s["student"]["email"]) for s in everyone] == [
        (mine["id"], "student@example.edu")
    ]


def test_status_keeps_one_state(client, student):
    done = graded(client, student, REFERENCE)
    waiting = store_without_message("student@example.edu")  # queued, its message "lost"

    queued = listing(client, student, "?status=queued").json["submissions"]
    graded_only = listing(client, student, "?status=graded").json["submissions"]

    assert [(s["id"], s["status"], s["score"]) for s in queued] == [(waiting, "queued", None)]
    assert [s["id"] for s in graded_only] == [done["id"]]


def test_a_student_may_not_list_another_students_work(client, student):
    response = listing(client, student, "?student=student2@example.edu")

    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert listing(client, student, "?student=student@example.edu").status_code == 200


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        (URL + "?status=done", 422, "invalid_status"),
        (
            DEMO + "/l2-regularization-quiz/submissions",
            409,
            "not_an_exercise",
        ),
        (DEMO + "/nope/submissions", 404, "not_found"),
        ("/api/v1/courses/nope/assignments/l2-regularization/submissions", 404, "not_found"),
    ],
)
def test_bad_requests_get_a_clear_error(client, student, url, status, code):
    response = client.get(url, headers=student)

    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_without_a_token_it_is_401(client, demo):
    assert listing(client, {}).status_code == 401
