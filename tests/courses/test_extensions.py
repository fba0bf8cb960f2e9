"""Extensions: one student's own dates move the late boundary and the cutoff for them alone;
granted by the CLI and the API, revoked, audited, refused clearly."""

import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from server.courses import audit
from server.extensions import db
from server.models import Extension

from .late_support import BASE, QUIZ, STUDENT, STUDENT2, attempt, cell, iso, patch, stored_at

DAY = 86400
URL = f"{BASE}/{QUIZ}/extensions"


def test_an_extension_moves_the_boundary_for_one_student_only(client, headers, runner, token_for):
    mine = attempt(client, headers["student"])
    theirs = attempt(client, token_for(STUDENT2), STUDENT2)
    at = stored_at(theirs)  # the later of the two
    late = {"due_at": iso(at, -1), "late_until": iso(at, DAY), "late_penalty_per_day": 0.1}
    patch(client, headers["instructor"], late)
    assert cell(client, headers["instructor"], STUDENT)["penalty"] > 0
    granted = runner.invoke(
        args=["extension", "grant", "demo", QUIZ, STUDENT, "--due", iso(stored_at(mine), 1)]
    )
    assert granted.exit_code == 0, granted.output
    mine_now = cell(client, headers["instructor"], STUDENT)
    assert (mine_now["late"], mine_now["penalty"], mine_now["score"]) == (0, 0.0, mine["score"])
    theirs_now = cell(client, headers["instructor"], STUDENT2)
    assert (theirs_now["late"], theirs_now["penalty"]) == (1, round(0.1 * theirs["max_score"], 6))
    # Each student sees their own dates.
    listed = client.get(BASE, headers=headers["student"]).json["assignments"]
    quiz = next(a for a in listed if a["slug"] == QUIZ)
    assert quiz["extended"] is True
    assert quiz["due_at"] == iso(stored_at(mine), 1)
    # The late window moves with the due date: the assignment's day after it.
    assert quiz["late_until"] == iso(stored_at(mine), 1 + DAY + 1)
    other = client.get(BASE, headers=token_for(STUDENT2)).json["assignments"]
    assert next(a for a in other if a["slug"] == QUIZ)["extended"] is False


def test_after_the_cutoff_only_the_extended_student_may_submit(client, headers, token_for, demo):
    first = attempt(client, headers["student"])
    patch(client, headers["instructor"], {"due_at": iso(stored_at(first), -60)})
    granted = client.put(
        f"{URL}/{STUDENT}",
        json={"due_at": iso(stored_at(first), DAY)},
        headers=headers["instructor"],
    )
    assert granted.status_code == 200, granted.json
    assert granted.json["late_until"] is None
    assert attempt(client, headers["student"])["number"] == 2
    refused = client.post(
        f"{BASE}/{QUIZ}/attempts", json={"answers": {}}, headers=token_for(STUDENT2)
    )
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "past_due")
    # Revoked, the assignment's cutoff applies to them again.
    gone = client.delete(f"{URL}/{STUDENT}", headers=headers["instructor"])
    assert gone.status_code == 204
    again = client.post(f"{BASE}/{QUIZ}/attempts", json={"answers": {}}, headers=headers["student"])
    assert again.status_code == 409
    assert client.delete(f"{URL}/{STUDENT}", headers=headers["instructor"]).status_code == 404
    actions = [(e.action, e.target) for e in audit.entries(demo)]
    assert ("extension.revoke", f"{QUIZ} {STUDENT}") in actions
    assert ("extension.grant", f"{QUIZ} {STUDENT}") in actions


def test_bad_extensions_are_refused_clearly(client, headers, runner):
    cases = [
        ("nobody@example.edu", {"due_at": "2026-12-08T00:00:00Z"}, "email"),
        ("instructor@example.edu", {"due_at": "2026-12-08T00:00:00Z"}, "email"),
        (STUDENT, {"due_at": "2026-12-08T00:00:00"}, "due_at"),
        (
            STUDENT,
            {"due_at": "2026-12-08T00:00:00Z", "late_until": "2026-12-07T00:00:00Z"},
            "late_until",
        ),
    ]
    for email, body, field in cases:
        refused = client.put(f"{URL}/{email}", json=body, headers=headers["instructor"])
        assert refused.status_code == 422, (email, body, refused.json)
        assert refused.json["error"]["field"] == field
    ta = client.put(f"{URL}/{STUDENT}", json={"due_at": "2027-01-01T00:00:00Z"},
                    headers=headers["ta"])  # fmt: skip
    assert ta.status_code == 403
    unknown = runner.invoke(
        args=["extension", "grant", "demo", QUIZ, "nobody@example.edu", "--due", "2027-01-01Z"]
    )
    assert unknown.exit_code == 1
    assert "not a student of the course" in unknown.output


def test_simultaneous_grants_make_one_extension(app, headers, demo):
    """Four requests granting the same student at once: one row, every request answered."""
    from tests.conftest import FreshContextClient

    racers, answers = 4, []
    barrier = threading.Barrier(racers)

    def run(day: int) -> None:
        client = FreshContextClient(app, app.response_class)
        barrier.wait()
        body = {"due_at": f"2027-01-0{day}T12:00:00+00:00"}
        answers.append(client.put(f"{URL}/{STUDENT}", json=body, headers=headers["instructor"]))

    threads = [threading.Thread(target=run, args=(day,)) for day in range(1, racers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200] * racers, [a.json for a in answers]
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count(Extension.id))) == 1
    grants = [e for e in audit.entries(demo) if e.action == "extension.grant"]
    assert len(grants) == racers  # each request's grant, and nothing else, was kept


def test_the_course_page_shows_a_student_their_own_due_date(app, runner, demo):
    from server.web.filters import utc
    from tests.web.support import STUDENT as LOGIN
    from tests.web.support import STUDENT2 as LOGIN2
    from tests.web.support import PageClient

    ours = datetime(2027, 1, 1, 12, tzinfo=UTC)
    mine = datetime(2027, 1, 5, 12, tzinfo=UTC)
    update = ["assignment", "update", "demo", QUIZ, "--due", ours.isoformat()]
    assert runner.invoke(args=update).exit_code == 0
    grant = ["extension", "grant", "demo", QUIZ, STUDENT, "--due", mine.isoformat()]
    assert runner.invoke(args=grant).exit_code == 0
    pages = {}
    for login in (LOGIN, LOGIN2):
        page = PageClient(app, app.response_class, use_cookies=True)
        page.login(*login)
        pages[login[0]] = page.get("/courses/demo").get_data(as_text=True)
    assert utc(mine) in pages[STUDENT] and "your extension" in pages[STUDENT]
    assert utc(ours) not in pages[STUDENT]
    assert utc(ours) in pages[STUDENT2] and "your extension" not in pages[STUDENT2]
