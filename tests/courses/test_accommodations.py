"""Accommodations: a course-wide shift of one student's dates, and migration 0011."""

from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.courses import accommodations, audit
from server.courses.release import feedback_released
from server.extensions import db
from server.models import Accommodation, User
from server.scoring import late
from server.scoring.gradebook import build_gradebook, counted_entry

from .late_support import (
    BASE,
    QUIZ,
    STUDENT,
    STUDENT2,
    assignment,
    attempt,
    cell,
    iso,
    patch,
    stored_at,
)
from .test_assignments import linked, outbox  # noqa: F401 (linked is a fixture)
from .test_migration import rows


def test_the_demo_data_survives_0011_down_and_up(demo):
    assignments = "SELECT id, slug, due_at, late_until FROM assignment"
    before = rows(assignments)
    assert before, "the demo course has assignments"
    db.session.remove()
    flask_migrate.downgrade(revision="0010")
    assert "accommodation" not in db.inspect(db.engine).get_table_names()
    flask_migrate.upgrade()
    assert rows(assignments) == before
    # Every assignment of the demo data releases its feedback at once, as before 0011.
    assert {r[0] for r in rows("SELECT feedback_release FROM assignment")} == {"immediately"}
    if db.engine.dialect.name == "sqlite":
        return  # the CHECK is PostgreSQL's only (see the migration)
    try:
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE assignment SET feedback_release = 'someday'"))
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("the feedback_release CHECK let 'someday' in")


HOUR, DAY = 3600, 86400
ACCOMMODATIONS = "/api/v1/courses/demo/accommodations"


def _late_by_a_second(client, headers, token_for):
    """Both students attempt the quiz; the due date then falls a second before the later one."""
    mine = attempt(client, headers["student"])
    theirs = attempt(client, token_for(STUDENT2), STUDENT2)
    at = stored_at(theirs)
    late = {"due_at": iso(at, -1), "late_until": iso(at, DAY), "late_penalty_per_day": 0.1}
    patch(client, headers["instructor"], late)
    return mine, theirs


def test_an_accommodation_shifts_one_students_dates_and_counted_score(
    client, headers, token_for, demo
):
    mine, theirs = _late_by_a_second(client, headers, token_for)
    before = cell(client, headers["instructor"], STUDENT)
    assert before["late"] > 0 and before["penalty"] > 0
    granted = client.put(
        f"{ACCOMMODATIONS}/{STUDENT}",
        json={"shift_hours": 24, "reason": "letter from the disability office"},
        headers=headers["instructor"],
    )
    assert granted.status_code == 200, granted.json
    assert granted.json == {
        "course": "demo",
        "email": STUDENT,
        "shift_hours": 24,
        "reason": "letter from the disability office",
    }
    now = cell(client, headers["instructor"], STUDENT)
    assert (now["late"], now["penalty"], now["score"]) == (0, 0.0, mine["score"])
    other = cell(client, headers["instructor"], STUDENT2)
    assert (other["late"], other["penalty"]) == (1, round(0.1 * theirs["max_score"], 6))
    # The student sees their own, shifted dates: due and the end of the late window.
    listed = client.get(BASE, headers=headers["student"]).json["assignments"]
    quiz = next(a for a in listed if a["slug"] == QUIZ)
    assert quiz["due_at"] == iso(stored_at(theirs), -1 + DAY)
    assert quiz["late_until"] == iso(stored_at(theirs), 2 * DAY)
    # Revoked, the penalty is back; a second revoke finds nothing.
    gone = client.delete(f"{ACCOMMODATIONS}/{STUDENT}", headers=headers["instructor"])
    assert gone.status_code == 204
    assert cell(client, headers["instructor"], STUDENT) == before
    assert (
        client.delete(f"{ACCOMMODATIONS}/{STUDENT}", headers=headers["instructor"]).status_code
        == 404
    )
    actions = [(e.action, e.target) for e in audit.entries(demo)]
    assert ("accommodation.grant", STUDENT) in actions
    assert ("accommodation.revoke", STUDENT) in actions


def test_an_extension_of_their_own_wins_over_the_shift(client, headers, token_for):
    mine, _ = _late_by_a_second(client, headers, token_for)
    at = stored_at(mine)
    extension = client.put(
        f"{BASE}/{QUIZ}/extensions/{STUDENT}",
        json={"due_at": iso(at, -HOUR)},
        headers=headers["instructor"],
    )
    assert extension.status_code == 200, extension.json
    shift = client.put(
        f"{ACCOMMODATIONS}/{STUDENT}", json={"shift_hours": 48}, headers=headers["instructor"]
    )
    assert shift.status_code == 200, shift.json
    dates = late.dates_for(
        assignment(), db.session.scalar(sa.select(User.id).filter_by(email=STUDENT))
    )
    assert (dates.due_at, dates.extended, dates.accommodated) == (
        datetime.fromisoformat(iso(at, -HOUR)),
        True,
        False,
    )
    assert cell(client, headers["instructor"], STUDENT)["late"] == HOUR


def test_the_gradebook_and_one_cell_agree_under_accommodations(client, headers, token_for, demo):
    _late_by_a_second(client, headers, token_for)
    client.put(
        f"{ACCOMMODATIONS}/{STUDENT2}", json={"shift_hours": 0.5}, headers=headers["instructor"]
    )
    book = build_gradebook(demo)
    quiz = assignment()
    for student in book.students:
        one = counted_entry(quiz, student.id)
        assert book.entries.get((student.id, quiz.id)) == one


def test_only_the_courses_instructors_grant_and_bad_input_is_refused(client, headers, runner):
    url = f"{ACCOMMODATIONS}/{STUDENT}"
    good = {"shift_hours": 2}
    assert client.put(url, json=good, headers=headers["ta"]).status_code == 403
    assert client.put(url, json=good, headers=headers["student"]).status_code == 403
    assert client.put(url, json=good, headers=headers["other"]).status_code == 404
    assert client.delete(url, headers=headers["other_ta"]).status_code == 404
    cases = [
        (STUDENT, {"shift_hours": 0}, "shift_hours"),
        (STUDENT, {"shift_hours": -3}, "shift_hours"),
        (STUDENT, {"shift_hours": 10**6}, "shift_hours"),
        (STUDENT, {"shift_hours": "soon"}, "shift_hours"),
        (STUDENT, {}, "shift_hours"),
        ("nobody@example.edu", good, "email"),
        ("instructor@example.edu", good, "email"),
    ]
    for email, wanted, field in cases:
        answer = client.put(f"{ACCOMMODATIONS}/{email}", json=wanted, headers=headers["instructor"])
        assert answer.status_code == 422, (wanted, answer.json)
        assert answer.json["error"]["field"] == field, (wanted, answer.json)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Accommodation)) == 0


def test_the_command_line_grants_and_revokes(runner, demo):
    args = ["accommodation", "grant", "demo", STUDENT, "--hours", "36", "--reason", "illness"]
    granted = runner.invoke(args=args)
    assert granted.exit_code == 0, granted.output
    found = db.session.scalar(sa.select(Accommodation))
    assert (found.shift_seconds, found.reason, found.granted_by) == (
        36 * HOUR,
        "illness",
        "command line",
    )
    refused = runner.invoke(args=["accommodation", "grant", "demo", STUDENT, "--hours", "x"])
    assert refused.exit_code == 1 and "hours" in refused.output
    revoked = runner.invoke(args=["accommodation", "revoke", "demo", STUDENT])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    again = runner.invoke(args=["accommodation", "revoke", "demo", STUDENT])
    assert "had no accommodation" in again.output


def test_feedback_after_due_waits_for_the_students_own_due_date(client, headers, demo):
    patch(
        client,
        headers["instructor"],
        {"due_at": "2030-01-01T00:00:00Z", "feedback_release": "after_due"},
    )
    quiz = assignment()
    user_id = db.session.scalar(sa.select(User.id).filter_by(email=STUDENT))
    due = datetime(2030, 1, 1, tzinfo=UTC)
    assert not feedback_released(quiz, user_id, due - timedelta(seconds=1))
    assert feedback_released(quiz, user_id, due)
    accommodations.grant(quiz.course, STUDENT, 2, "", None)
    db.session.commit()
    assert not feedback_released(quiz, user_id, due + timedelta(hours=1))
    assert feedback_released(quiz, user_id, due + timedelta(hours=2))
    patch(client, headers["instructor"], {"feedback_release": "never"})
    assert not feedback_released(assignment(), user_id, due + timedelta(days=999))
    shown = patch(client, headers["instructor"], {"feedback_release": "immediately"})
    assert shown["feedback_release"] == "immediately"
    assert feedback_released(assignment(), user_id, due - timedelta(days=999))
    bad = client.patch(
        f"{BASE}/{QUIZ}", json={"feedback_release": "soon"}, headers=headers["instructor"]
    )
    assert (bad.status_code, bad.json["error"]["field"]) == (422, "feedback_release")


def test_the_audit_api_pages_with_a_cursor(client, headers, demo):
    for hours in range(1, 8):  # seven entries, beside the demo's own
        accommodations.grant(demo, STUDENT, hours, "", None)
    db.session.commit()
    url = "/api/v1/courses/demo/audit"
    everything = client.get(url, headers=headers["instructor"]).json
    assert everything["next"] is None
    seen, page = [], client.get(f"{url}?limit=3", headers=headers["instructor"]).json
    while True:
        assert len(page["entries"]) <= 3
        seen += page["entries"]
        if page["next"] is None:
            break
        page = client.get(page["next"], headers=headers["instructor"]).json
    assert seen == everything["entries"]
    ids = [e["id"] for e in seen]
    assert ids == sorted(ids, reverse=True)
    for bad in ("limit=0", "limit=1001", "before=x", "limit=-1"):
        answer = client.get(f"{url}?{bad}", headers=headers["instructor"])
        assert answer.status_code == 422, bad
    # A cursor past any id (as PostgreSQL's integer column holds) is from the newest.
    beyond = client.get(f"{url}?before={2**40}", headers=headers["instructor"])
    assert beyond.status_code == 200 and beyond.json["entries"] == everything["entries"]
    assert client.get(url, headers=headers["ta"]).status_code == 403


@pytest.mark.usefixtures("linked")
def test_an_accommodation_queues_the_new_counted_score_for_the_lms(client, headers):
    student = find_user(STUDENT).id
    done = attempt(client, headers["student"])
    at, maximum = stored_at(done), done["max_score"]
    changes = {"due_at": iso(at, -1), "late_until": iso(at, DAY), "late_penalty_per_day": 0.2}
    patch(client, headers["instructor"], changes)
    late_score = round(done["score"] - 0.2 * maximum, 6)
    assert outbox(student).score_given == late_score
    granted = client.put(
        f"{ACCOMMODATIONS}/{STUDENT}", json={"shift_hours": 1}, headers=headers["instructor"]
    )
    assert granted.status_code == 200, granted.json
    assert outbox(student).score_given == done["score"]  # on time now: queued at once
    client.delete(f"{ACCOMMODATIONS}/{STUDENT}", headers=headers["instructor"])
    assert outbox(student).score_given == late_score


def test_the_command_line_sets_the_feedback_release(runner, demo):
    args = ["assignment", "update", "demo", QUIZ, "--feedback-release", "never"]
    done = runner.invoke(args=args)
    assert done.exit_code == 0, done.output
    assert assignment().feedback_release.value == "never"
    refused = runner.invoke(args=[*args[:4], "--feedback-release", "later"])
    assert refused.exit_code == 2 and "later" in refused.output
    (entry,) = [e for e in audit.entries(assignment().course) if e.action == "assignment.update"]
    assert '"feedback_release":"immediately"' in entry.before
    assert '"feedback_release":"never"' in entry.after
