"""The gradebook's totals (weights, excused, class averages) and its three CSV files.

Every CSV is parsed with the csv module and each value compared with the gradebook the
domain computes (build_gradebook), never with numbers written into the test.
"""

import csv
import io

import pytest

from server.scoring.exports import number
from server.scoring.gradebook import build_gradebook

from .gradebook_setup import (
    EVE,
    EVE_NAME,
    EXERCISE,
    NOBODY,
    QUIZ,
    SAM,
    SARA,
    STU,
    SUE,
    make_graded,
)


@pytest.fixture
def graded(client, demo, token_for):
    return make_graded(client, demo, token_for)


@pytest.fixture
def book(graded):
    return build_gradebook(graded.course)


def by_email(book, email):
    return next(s for s in book.students if s.email == email)


def by_slug(book, slug):
    return next(a for a in book.assignments if a.slug == slug)


def download(client, headers, format: str) -> list[list[str]]:
    answer = client.get(f"/api/v1/courses/demo/gradebook?format={format}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(answer.text)))


def test_the_cells_carry_late_override_and_excused_marks(book):
    quiz = by_slug(book, QUIZ)
    on_time, late = book.entry(by_email(book, SAM), quiz), book.entry(by_email(book, SARA), quiz)
    assert on_time.late == 0 and on_time.penalty == 0 and on_time.work_id
    assert late.late > 0 and late.penalty > 0
    assert late.score == pytest.approx(late.raw_score - late.penalty)
    overridden = book.entry(by_email(book, STU), quiz)
    assert (overridden.score, overridden.overridden, overridden.reason) == (
        2.5, True, "regraded, by hand")  # fmt: skip
    assert overridden.work_id, "an overridden cell still links to the student's work"
    excused = book.entry(by_email(book, SUE), quiz)
    assert (excused.score, excused.excused, excused.work_id) == (None, True, None)
    assert book.entry(by_email(book, NOBODY), quiz).score is None


def test_totals_weigh_each_assignment_and_drop_excused_ones(book):
    quiz, exercise = by_slug(book, QUIZ), by_slug(book, EXERCISE)
    assert (quiz.weight, exercise.weight) == (3, 1)
    for student in book.students:
        weighted = weights = points = possible = 0.0
        for a in book.assignments:
            entry = book.entry(student, a)
            if entry.excused:
                continue
            maximum = entry.max_score if entry.score is not None else book.possible[a.id]
            points += entry.score or 0
            possible += maximum
            weighted += a.weight * (entry.score or 0) / maximum
            weights += a.weight
        totals = book.totals(student)
        assert totals.points == pytest.approx(points)
        assert totals.possible == pytest.approx(possible)
        assert totals.percent == pytest.approx(100 * weighted / weights)
    # Sam: all of the quiz (weight 3) and 7 of the exercise set by hand (weight 1).
    sam = book.totals(by_email(book, SAM))
    seven_tenths = 7 / book.possible[exercise.id]
    assert sam.percent == pytest.approx(100 * (3 + seven_tenths) / 4)
    # Sara is excused from the exercise: her late quiz alone makes her percentage.
    sara, late = book.totals(by_email(book, SARA)), book.entry(by_email(book, SARA), quiz)
    assert sara.percent == pytest.approx(100 * late.score / late.max_score)
    assert sara.possible == late.max_score
    nobody = book.totals(by_email(book, NOBODY))
    assert (nobody.points, nobody.percent) == (0, 0)


def test_the_class_average_counts_the_graded_students_only(book):
    quiz = by_slug(book, QUIZ)
    scores = [
        book.entry(s, quiz).score for s in book.students if book.entry(s, quiz).score is not None
    ]
    average = book.average(quiz)
    assert average.graded == len(scores) == 4  # Sam, Sara, Stu, Eve; not Sue nor the rest
    assert average.mean == pytest.approx(sum(scores) / len(scores))
    percents = [book.totals(s).percent for s in book.students]
    assert book.class_totals().mean == pytest.approx(sum(percents) / len(percents))


def test_rubric_csv_matches_the_gradebook(client, graded, book):
    rows = download(client, graded.ta, "csv")
    header, possible, students = rows[0], rows[1], rows[2:]
    slugs = [a.slug for a in book.assignments]
    assert header == ["email", "name", *slugs, "total", "percent"]
    assert possible[:2] == ["", "Points Possible"]
    for a in book.assignments:
        assert float(possible[header.index(a.slug)]) == book.possible[a.id]
    assert [r[0] for r in students] == [s.email for s in book.students]
    for row, student in zip(students, book.students, strict=True):
        for a in book.assignments:
            assert row[header.index(a.slug)] == expected_cell(book.entry(student, a), "EX")
        totals = book.totals(student)
        assert float(row[-2]) == pytest.approx(totals.points)
        assert float(row[-1]) == pytest.approx(totals.percent, abs=1e-4)


def test_canvas_csv_has_the_columns_its_importer_reads(client, graded, book):
    rows = download(client, graded.instructor, "canvas")
    header, possible, students = rows[0], rows[1], rows[2:]
    titles = [a.title for a in book.assignments]
    identity = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert header == [*identity, *titles, "Final Points", "Final Score"]
    assert possible[0] == "Points Possible" and possible[1:5] == ["", "", "", ""]
    assert possible[-2:] == ["(read only)", "(read only)"]
    for index, a in enumerate(book.assignments, start=5):
        assert float(possible[index]) == book.possible[a.id]
    for row, student in zip(students, book.students, strict=True):
        assert row[3] == student.email and row[1:3] == ["", ""]
        for index, a in enumerate(book.assignments, start=5):
            assert row[index] == expected_cell(book.entry(student, a), "EX")
        assert float(row[-2]) == pytest.approx(book.totals(student).points)
    excused = next(r for r in students if r[3] == SUE)
    assert excused[5 + book.assignments.index(by_slug(book, QUIZ))] == "EX"


def test_moodle_csv_maps_users_by_email_and_marks_excused_with_a_dash(client, graded, book):
    rows = download(client, graded.instructor, "moodle")
    header, students = rows[0], rows[1:]
    assert header == ["Email address", *(a.title for a in book.assignments)]
    assert len(students) == len(book.students), "no points-possible row: Moodle reads students"
    for row, student in zip(students, book.students, strict=True):
        assert row[0] == student.email
        for index, a in enumerate(book.assignments, start=1):
            assert row[index] == expected_cell(book.entry(student, a), "-")
    sara = next(r for r in students if r[0] == SARA)
    assert sara[1 + book.assignments.index(by_slug(book, EXERCISE))] == "-"
    nobody = next(r for r in students if r[0] == NOBODY)
    assert nobody[1:] == [""] * len(book.assignments)


@pytest.mark.parametrize("format", ["csv", "canvas"])
def test_names_are_quoted_and_defused_against_formulas(client, graded, format):
    rows = download(client, graded.instructor, format)
    eve = next(r for r in rows if EVE in r)
    name = eve[1] if format == "csv" else eve[0]
    assert name == "'" + EVE_NAME, "commas and quotes survive; the leading = is defused"


def test_a_late_cell_exports_the_counted_score_not_the_raw_one(client, graded, book):
    entry = book.entry(by_email(book, SARA), by_slug(book, QUIZ))
    assert entry.score < entry.raw_score
    rows = download(client, graded.instructor, "moodle")
    sara = next(r for r in rows if r[0] == SARA)
    assert float(sara[1 + book.assignments.index(by_slug(book, QUIZ))]) == entry.score


def expected_cell(entry, excused: str) -> str:
    """What a file holds for an entry: the excused mark, blank, or the counted score."""
    if entry.excused:
        return excused
    if entry.score is None:
        return ""
    assert float(number(entry.score)) == pytest.approx(entry.score, abs=1e-4)
    return number(entry.score)
