"""Overrides: a score set by hand with a reason, or the student excused; marked in the
gradebook and its CSV, undone by `score clear`, every step in the audit log."""

import csv
import io

from server.courses import audit
from server.models.types import json_value

from .late_support import BASE, QUIZ, STUDENT, attempt, cell

URL = f"{BASE}/{QUIZ}/overrides"


def test_cli_override_then_clear_with_audit_rows(client, headers, runner, demo):
    done = attempt(client, headers["student"])
    set_ = runner.invoke(
        args=["score", "override", "demo", QUIZ, STUDENT, "2.5", "--reason", "regraded by hand"]
    )
    assert set_.exit_code == 0, set_.output
    entry = cell(client, headers["instructor"], STUDENT)
    assert (entry["score"], entry["overridden"], entry["excused"]) == (2.5, True, False)
    assert entry["max_score"] == done["max_score"]
    cleared = runner.invoke(args=["score", "clear", "demo", QUIZ, STUDENT])
    assert cleared.exit_code == 0, cleared.output
    entry = cell(client, headers["instructor"], STUDENT)
    assert (entry["score"], entry["overridden"]) == (done["score"], False)
    rows = [e for e in audit.entries(demo) if e.action.startswith("score.")][::-1]
    assert [(e.actor, e.action, e.target) for e in rows] == [
        ("command line", "score.override", f"{QUIZ} {STUDENT}"),
        ("command line", "score.clear", f"{QUIZ} {STUDENT}"),
    ]
    before, after = json_value(rows[0].before), json_value(rows[0].after)
    assert (before["score"], after["score"], after["reason"]) == (
        done["score"], 2.5, "regraded by hand")  # fmt: skip
    assert json_value(rows[1].after)["score"] == done["score"]


def test_a_ta_excuses_a_student_the_gradebook_and_csv_mark_it(client, headers):
    excused = client.put(
        f"{URL}/{STUDENT}", json={"excused": True, "reason": "medical"}, headers=headers["ta"]
    )
    assert excused.status_code == 200, excused.json
    assert excused.json["entry"]["excused"] is True
    entry = cell(client, headers["instructor"], STUDENT)
    assert (entry["score"], entry["excused"], entry["overridden"]) == (None, True, False)
    text = client.get("/api/v1/courses/demo/gradebook?format=csv", headers=headers["ta"]).text
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index(QUIZ)
    assert rows[1][1] == "Points Possible"
    assert float(rows[1][column]) > 0
    mine = next(r for r in rows if r[0] == STUDENT)
    assert mine[column] == "EX"
    assert client.delete(f"{URL}/{STUDENT}", headers=headers["ta"]).status_code == 204
    assert client.delete(f"{URL}/{STUDENT}", headers=headers["ta"]).status_code == 404
    assert cell(client, headers["instructor"], STUDENT)["excused"] is False


def test_bad_overrides_and_outsiders_are_refused(client, headers):
    cases = [
        ({"score": 2, "reason": " "}, "reason"),
        ({"score": -1, "reason": "x"}, "score"),
        ({"score": 10_000, "reason": "x"}, "score"),
        ({"reason": "x"}, "score"),
    ]
    for body, field in cases:
        refused = client.put(f"{URL}/{STUDENT}", json=body, headers=headers["instructor"])
        assert refused.status_code == 422, (body, refused.json)
        assert refused.json["error"]["field"] == field
    body = {"score": 1, "reason": "x"}
    unknown = client.put(f"{URL}/nobody@example.edu", json=body, headers=headers["instructor"])
    assert (unknown.status_code, unknown.json["error"]["field"]) == (422, "email")
    assert client.put(f"{URL}/{STUDENT}", json=body, headers=headers["student"]).status_code == 403
    assert client.put(f"{URL}/{STUDENT}", json=body, headers=headers["other"]).status_code == 404
    assert cell(client, headers["instructor"], STUDENT)["overridden"] is False


def test_the_gradebook_page_marks_overridden_excused_and_late(app, client, headers, token_for):
    from tests.courses.late_support import STUDENT2, iso, patch, stored_at
    from tests.web.support import INSTRUCTOR, PageClient

    done = attempt(client, headers["student"])
    attempt(client, token_for(STUDENT2), STUDENT2)
    at = stored_at(done)
    late = {"due_at": iso(at, -1), "late_until": iso(at, 86400), "late_penalty_per_day": 0.1}
    patch(client, headers["instructor"], late)
    page = PageClient(app, app.response_class, use_cookies=True)
    page.login(*INSTRUCTOR)
    html = page.get("/courses/demo/gradebook").get_data(as_text=True)
    marks = ('title="Late: ', 'title="Set by hand: ', 'title="Excused: ')
    assert [html.count(mark) for mark in marks] == [2, 0, 0]
    body = {"score": 1, "reason": "x"}
    assert client.put(f"{URL}/{STUDENT}", json=body, headers=headers["ta"]).status_code == 200
    body = {"excused": True, "reason": "y"}
    assert client.put(f"{URL}/{STUDENT2}", json=body, headers=headers["ta"]).status_code == 200
    html = page.get("/courses/demo/gradebook").get_data(as_text=True)
    assert [html.count(mark) for mark in marks] == [0, 1, 1]


def test_cli_excuse_takes_no_score(client, headers, runner):
    both = ["score", "override", "demo", QUIZ, STUDENT, "3", "--excused", "--reason", "x"]
    assert runner.invoke(args=both).exit_code == 2
    excuse = ["score", "override", "demo", QUIZ, STUDENT, "--excused", "--reason", "ill"]
    done = runner.invoke(args=excuse)
    assert done.exit_code == 0, done.output
    assert cell(client, headers["instructor"], STUDENT)["excused"] is True
    assert runner.invoke(args=["score", "clear", "demo", QUIZ, STUDENT]).exit_code == 0
    assert runner.invoke(args=["score", "clear", "demo", QUIZ, STUDENT]).output.endswith(
        "had no override\n"
    )
