"""The gradebook through the API (JSON and the three CSV formats), and assignment weights."""

import pytest

from server.courses import audit
from server.models.types import json_value
from server.scoring.gradebook import build_gradebook
from tests.scoring.gradebook_setup import EXERCISE, QUIZ, SUE, make_graded

BOOK = "/api/v1/courses/demo/gradebook"


@pytest.fixture
def graded(client, demo, token_for):
    return make_graded(client, demo, token_for)


def test_json_has_maxima_weights_averages_and_totals(client, graded):
    answer = client.get(BOOK, headers=graded.ta)
    assert answer.status_code == 200, answer.json
    book = build_gradebook(graded.course)
    columns = {c["slug"]: c for c in answer.json["assignments"]}
    for a in book.assignments:
        average = book.average(a)
        assert columns[a.slug] == {
            "slug": a.slug,
            "title": a.title,
            "points_possible": book.possible[a.id],
            "weight": a.weight,
            "average": average.mean,
            "graded": average.graded,
        }
    assert columns[QUIZ]["weight"] == 3
    rows = {r["student"]["email"]: r for r in answer.json["students"]}
    for student in book.students:
        totals = book.totals(student)
        row = rows[student.email]
        assert (row["total"], row["possible"], row["percent"]) == (
            totals.points, totals.possible, totals.percent)  # fmt: skip
    assert rows[SUE]["scores"][QUIZ]["excused"] is True
    assert answer.json["average_percent"] == book.class_totals().mean


@pytest.mark.parametrize("format", ["csv", "canvas", "moodle"])
def test_each_csv_format_downloads(client, graded, format):
    answer = client.get(f"{BOOK}?format={format}", headers=graded.instructor)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    suffix = "" if format == "csv" else f"-{format}"
    assert f'filename="demo-gradebook{suffix}.csv"' in answer.headers["Content-Disposition"]


def test_outsiders_and_bad_formats_are_refused(client, graded):
    assert client.get(BOOK, headers=graded.student).status_code == 403
    assert client.get(BOOK, headers=graded.outsider).status_code == 404
    assert client.get(f"{BOOK}?format=canvas", headers=graded.outsider).status_code == 404
    bad = client.get(f"{BOOK}?format=xlsx", headers=graded.instructor)
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_format"


def test_a_weight_is_set_checked_and_audited(client, graded):
    url = f"/api/v1/courses/demo/assignments/{EXERCISE}"
    changed = client.patch(url, json={"weight": 0.5}, headers=graded.instructor)
    assert changed.status_code == 200, changed.json
    assert changed.json["weight"] == 0.5
    entry = next(e for e in audit.entries(graded.course) if e.action == "assignment.update")
    assert (json_value(entry.before)["weight"], json_value(entry.after)["weight"]) == (1, 0.5)
    for bad in (-1, 1001, "heavy", True, None):
        refused = client.patch(url, json={"weight": bad}, headers=graded.instructor)
        assert refused.status_code == 422, (bad, refused.json)
        assert refused.json["error"]["field"] == "weight"
    assert client.patch(url, json={"weight": 2}, headers=graded.ta).status_code == 403
    book = build_gradebook(graded.course)
    assert next(a for a in book.assignments if a.slug == EXERCISE).weight == 0.5


def test_a_weight_of_zero_leaves_the_percentage_alone(client, graded):
    url = f"/api/v1/courses/demo/assignments/{EXERCISE}"
    assert client.patch(url, json={"weight": 0}, headers=graded.instructor).status_code == 200
    book = build_gradebook(graded.course)
    quiz = next(a for a in book.assignments if a.slug == QUIZ)
    for student in book.students:
        entry = book.entry(student, quiz)
        if entry.excused:
            continue
        maximum = entry.max_score if entry.score is not None else book.possible[quiz.id]
        expected = 100 * (entry.score or 0) / maximum
        assert book.totals(student).percent == pytest.approx(expected)


def test_the_cli_sets_a_weight(runner, graded):
    done = runner.invoke(args=["assignment", "update", "demo", QUIZ, "--weight", "2.5"])
    assert done.exit_code == 0, done.output
    book = build_gradebook(graded.course)
    assert next(a for a in book.assignments if a.slug == QUIZ).weight == 2.5
    refused = runner.invoke(args=["assignment", "update", "demo", QUIZ, "--weight", "-3"])
    assert refused.exit_code == 1 and "weight is a number from 0 to 1000" in refused.output
