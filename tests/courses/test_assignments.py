"""Publishing and changing assignments through the API and the CLI: times with their offset,
clear refusals, the audit log, and counted scores that follow a change at once, passback
included."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.courses import audit
from server.extensions import db
from server.lti import passback
from server.models import Course, LtiPassback, LtiResourceLink, LtiUser

from .late_support import BASE, QUIZ, STUDENT, STUDENT2, assignment, attempt, cell, iso, stored_at

ISSUER = "https://lms.example.edu"


def berlin(demo) -> Course:
    demo.timezone = "Europe/Berlin"
    db.session.commit()
    return demo


def test_publish_through_the_api_shows_times_in_the_course_zone(client, headers, demo):
    berlin(demo)
    body = {
        "content": QUIZ,
        "slug": "quiz-two",
        "title": "Quiz two",
        "opens_at": "2026-12-01T08:00:00Z",
        "due_at": "2026-12-08T23:59:00+01:00",
        "late_until": "2026-12-10T23:59:00+01:00",
        "late_penalty_per_day": 0.1,
        "attempt_limit": 3,
        "score_policy": "last",
    }
    made = client.post(BASE.removesuffix("/assignments") + "/assignments", json=body,
                       headers=headers["instructor"])  # fmt: skip
    assert made.status_code == 201, made.json
    assert made.json["opens_at"] == "2026-12-01T09:00:00+01:00"  # the same moment, in Berlin
    assert made.json["due_at"] == body["due_at"]
    assert (made.json["kind"], made.json["attempt_limit"], made.json["score_policy"]) == (
        "quiz", 3, "last")  # fmt: skip
    stored = assignment("quiz-two")
    assert stored.due_at == datetime(2026, 12, 8, 22, 59, tzinfo=UTC)
    assert stored.due_at.utcoffset().total_seconds() == 0
    listed = client.get(BASE, headers=headers["student"]).json["assignments"]
    mine = next(a for a in listed if a["slug"] == "quiz-two")
    assert (mine["due_at"], mine["late_until"]) == (body["due_at"], body["late_until"])
    (entry,) = [e for e in audit.entries(demo) if e.action == "assignment.publish"]
    assert (entry.actor, entry.target) == ("instructor@example.edu", "quiz-two")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "no-such-thing"}, "content"),
        ({"content": QUIZ, "slug": QUIZ}, "slug"),  # taken in the demo course
        ({"content": QUIZ, "slug": "x", "due_at": "2026-12-08T23:59:00"}, "due_at"),
        ({"content": QUIZ, "slug": "x", "due_at": "next friday"}, "due_at"),
        (
            {"content": QUIZ, "slug": "x", "opens_at": "2026-12-09T00:00:00Z",
             "due_at": "2026-12-08T00:00:00Z"},
            "due_at",
        ),
        (
            {"content": QUIZ, "slug": "x", "due_at": "2026-12-08T00:00:00Z",
             "late_until": "2026-12-07T00:00:00Z"},
            "late_until",
        ),
        ({"content": QUIZ, "slug": "x", "late_penalty_per_day": 1.5}, "late_penalty_per_day"),
        ({"content": QUIZ, "slug": "x", "late_penalty_per_day": -0.1}, "late_penalty_per_day"),
        ({"content": QUIZ, "slug": "x", "attempt_limit": 0}, "attempt_limit"),
        ({"content": QUIZ, "slug": "x", "due_at": "9999-12-31T23:00:00-05:00"}, "due_at"),
    ],
)  # fmt: skip
def test_bad_values_are_a_422_naming_the_field(client, headers, demo, body, field):
    refused = client.post(BASE, json=body, headers=headers["instructor"])
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["field"] == field
    assert assignment("x") is None
    assert not [e for e in audit.entries(demo) if e.action == "assignment.publish"]


def test_only_the_course_instructors_configure(client, headers):
    body = {"content": QUIZ, "slug": "x"}
    assert client.post(BASE, json=body, headers=headers["ta"]).status_code == 403
    assert client.post(BASE, json=body, headers=headers["student"]).status_code == 403
    assert client.post(BASE, json=body, headers=headers["other"]).status_code == 404
    change = {"title": "Renamed"}
    assert client.patch(f"{BASE}/{QUIZ}", json=change, headers=headers["ta"]).status_code == 403
    assert assignment("x") is None and assignment().title != "Renamed"


def test_cli_publish_and_update_audited_as_the_command_line(runner, demo):
    made = runner.invoke(
        args=["assignment", "publish", "demo", "l2-regularization", "--slug", "ex-late",
              "--due", "2026-12-08T23:59:00+00:00", "--late-until", "2026-12-09T23:59:00+00:00",
              "--late-penalty-per-day", "0.25", "--attempts", "5"]
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    stored = assignment("ex-late")
    assert (stored.kind.value, stored.late_penalty_per_day, stored.attempt_limit) == (
        "exercise", 0.25, 5)  # fmt: skip
    naive = runner.invoke(args=["assignment", "update", "demo", "ex-late", "--due", "2026-12-10"])
    assert naive.exit_code == 1
    assert "offset" in naive.output
    moved = runner.invoke(
        args=["assignment", "update", "demo", "ex-late", "--due", "2026-12-09T12:00:00+00:00"]
    )
    assert moved.exit_code == 0, moved.output
    assert assignment("ex-late").due_at == datetime(2026, 12, 9, 12, tzinfo=UTC)
    found = [(e.actor, e.action) for e in audit.entries(demo) if e.target == "ex-late"]
    assert found == [("command line", "assignment.update"), ("command line", "assignment.publish")]
    (update,) = [e for e in audit.entries(demo) if e.action == "assignment.update"]
    assert '"due_at":"2026-12-08T23:59:00+00:00"' in update.before
    assert '"due_at":"2026-12-09T12:00:00+00:00"' in update.after


@pytest.fixture
def linked(app, demo):
    """The quiz linked to an LMS activity on which the demo student has an identity."""
    student = find_user(STUDENT).id
    db.session.add(LtiResourceLink(issuer=ISSUER, resource_link_id="rl-1",
                                   assignment_id=assignment().id, title="Quiz"))  # fmt: skip
    db.session.add(LtiUser(issuer=ISSUER, sub="lms-student", user_id=student))
    db.session.commit()
    yield student
    passback.stop_sender(app)


def outbox(user_id: int) -> LtiPassback:
    db.session.remove()
    return db.session.scalar(sa.select(LtiPassback).filter_by(user_id=user_id))


def test_a_due_date_change_recomputes_the_counted_score_and_queues_it(
    client, headers, linked, token_for
):
    """Only the student with an LMS identity on the linked activity gets an outbox row."""
    done = attempt(client, headers["student"])
    other = attempt(client, token_for(STUDENT2), STUDENT2)
    assert outbox(linked).score_given == done["score"]  # queued when the attempt was stored
    at, maximum = stored_at(done), done["max_score"]
    changes = {"due_at": iso(at, -1), "late_until": iso(at, 3600), "late_penalty_per_day": 0.2}
    answer = client.patch(f"{BASE}/{QUIZ}", json=changes, headers=headers["instructor"])
    assert answer.status_code == 200, answer.json
    assert answer.json["rescored"] == 1
    counted = cell(client, headers["instructor"], STUDENT)["score"]
    assert counted == round(done["score"] - 0.2 * maximum, 6)
    assert cell(client, headers["instructor"], STUDENT2)["score"] < other["score"]
    row = outbox(linked)
    assert (row.score_given, row.score_maximum) == (counted, maximum)
    assert db.session.scalar(sa.select(sa.func.count(LtiPassback.id))) == 1
