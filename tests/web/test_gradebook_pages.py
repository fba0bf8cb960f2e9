"""The instructor's gradebook page (paged, filtered, sorted, marked, linked) and its downloads."""

import csv
import io
import re

import pytest
import sqlalchemy as sa

from server.courses import enroll
from server.extensions import db
from server.models import Enrollment, QuizAttempt, Role, User
from server.scoring.gradebook import build_gradebook
from tests.scoring.gradebook_setup import (
    EVE_NAME,
    OUTSIDER,
    QUIZ,
    SAM,
    SARA,
    STU,
    SUE,
    TA,
    make_graded,
)

from .support import STUDENT, correct_answers

PAGE = "/courses/demo/gradebook"


@pytest.fixture
def graded(client, demo, token_for):
    return make_graded(client, demo, token_for)


def row_of(page: str, email: str) -> str:
    """The table row of a student on the page."""
    start = page.index(f">{email}</span>")
    return page[page.rindex("<tr>", 0, start) : page.index("</tr>", start)]


def quiz_cell(page: str, email: str) -> str:
    """The quiz's cell in a student's row (the quiz is the demo's second column)."""
    return row_of(page, email).split("<td")[2]


@pytest.mark.parametrize(
    "path", [PAGE, f"{PAGE}.csv", f"{PAGE}.csv?format=canvas", f"{PAGE}.csv?format=moodle"]
)
def test_gradebook_is_forbidden_to_students_and_hidden_from_other_courses(graded, new_client, path):
    assert new_client(STUDENT).get(path).status_code == 403
    assert new_client((OUTSIDER, "x-password")).get(path).status_code == 404
    assert new_client((TA, "ta-password")).get(path).status_code == 200


def test_instructor_sees_scores_totals_and_links(new_client, instructor, quiz_assignment):
    new_client(STUDENT).submit(correct_answers(quiz_assignment))
    assert f'href="{PAGE}"' in instructor.get("/courses/demo").get_data(as_text=True)
    page = instructor.get(PAGE).get_data(as_text=True)
    assert "<caption" in page and '<th scope="col"' in page and '<th scope="row"' in page
    counted = db.session.scalar(sa.select(QuizAttempt.id))
    cell = quiz_cell(page, SAM)
    assert f'href="/courses/demo/attempts/{counted}"' in cell and ">5</a>" in cell
    assert "1 attempt" in cell
    totals = row_of(page, SAM).split("<td")[-2:]
    assert "<strong>5</strong>" in totals[0] and "50.0%" in totals[1]  # 5 of 5, 0 of 10
    assert page.count('class="sticky-col"') == 2 + 9 + 1  # 2 header rows, 9 students, average
    for format in ("", "?format=canvas", "?format=moodle"):
        assert f'href="{PAGE}.csv{format}"' in page


def test_marks_carry_a_legend_and_title_text(graded, instructor):
    page = instructor.get(PAGE).get_data(as_text=True)
    assert 'class="gradebook-legend"' in page
    book = build_gradebook(graded.course)
    quiz = next(a for a in book.assignments if a.slug == QUIZ)
    sara = next(s for s in book.students if s.email == SARA)
    late = book.entry(sara, quiz)
    title = f"Late: {late.raw_score:g} − {late.penalty:g} penalty"
    assert title in quiz_cell(page, SARA) and ">L</abbr>" in quiz_cell(page, SARA)
    overridden = quiz_cell(page, STU)
    assert 'title="Set by hand: regraded, by hand"' in overridden and ">O</abbr>" in overridden
    assert ">2.5</a>" in overridden, "the score set by hand links to the student's work"
    excused = quiz_cell(page, SUE)
    assert 'title="Excused: medical"' in excused and ">EX</abbr>" in excused
    # The marks of a score set by hand link to the assignment's overrides.
    overrides = f'href="/courses/demo/assignments/{QUIZ}/students#overrides"'
    assert overrides in overridden and overrides in excused
    assert instructor.get(f"/courses/demo/assignments/{QUIZ}/students").status_code == 200
    assert "&#34;Eve&#34;" in page or "&quot;Eve&quot;" in page  # the name is escaped
    assert EVE_NAME not in page
    assert re.search(r"Class average.*?\(n=4\)", page, re.S), "four students graded in the quiz"


@pytest.fixture
def crowd(demo):
    """120 more students (seeded rows: no password hashing), named so they sort last."""
    rows = [
        {"email": f"zz{n:03}@example.edu", "name": f"Zed {n:03}", "password_hash": "-"}
        for n in range(120)
    ]
    db.session.execute(sa.insert(User), rows)
    ids = db.session.scalars(sa.select(User.id).where(User.email.like("zz%"))).all()
    db.session.execute(
        sa.insert(Enrollment),
        [{"course_id": demo.id, "user_id": i, "role": Role.STUDENT} for i in ids],
    )
    db.session.commit()
    return 129


def test_pages_of_fifty_students(crowd, instructor):
    first = instructor.get(PAGE).get_data(as_text=True)
    assert first.count("<tr>") - 1 == 50 + 1  # a header row (the max row has a class), 50 students
    assert f"Students 1–50 of {crowd}" in first
    assert 'rel="next"' in first and 'aria-current="page">1<' in first
    last = instructor.get(f"{PAGE}?page=3").get_data(as_text=True)
    assert f"Students 101–{crowd} of {crowd}" in last
    assert ">zz119@example.edu<" in last and 'rel="next"' not in last
    beyond = instructor.get(f"{PAGE}?page=9")
    assert beyond.status_code == 200 and "Students 101–" in beyond.get_data(as_text=True)


def test_filter_and_sort(crowd, graded, instructor):
    found = instructor.get(f"{PAGE}?q=ZED+11").get_data(as_text=True)
    assert "of 10 matching" in found  # Zed 110 to Zed 119
    assert ">zz115@example.edu<" in found and ">zz015@example.edu<" not in found
    by_email = instructor.get(f"{PAGE}?q=example.edu&sort=email").get_data(as_text=True)
    emails = re.findall(r'class="muted small">([^<]+@example.edu)</span></th>', by_email)
    assert emails == sorted(emails) and len(emails) == 50
    best = instructor.get(f"{PAGE}?sort=percent").get_data(as_text=True)
    book = build_gradebook(graded.course)
    percents = sorted((book.totals(s).percent for s in book.students), reverse=True)
    body = best[best.index("<tbody>") : best.index("</tbody>")]
    shown = re.findall(r'<td class="num">([\d.]+)%</td>', body)
    assert [float(p) for p in shown] == pytest.approx([round(p, 1) for p in percents[:50]])


@pytest.mark.parametrize(
    "query", ["page=0", "page=x", "page=-1", "page=%D9%A3", "sort=grade", "q=" + "a" * 300]
)
def test_bad_page_parameters_are_a_400_page(instructor, query):
    answer = instructor.get(f"{PAGE}?{query}")
    assert answer.status_code == 400
    assert "<h1>Bad Request" in answer.get_data(as_text=True)


def test_csv_downloads_name_their_format(graded, instructor):
    for format, name in [
        ("", "demo-gradebook.csv"),
        ("?format=canvas", "demo-gradebook-canvas.csv"),
        ("?format=moodle", "demo-gradebook-moodle.csv"),
    ]:
        answer = instructor.get(f"{PAGE}.csv{format}")
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        assert name in answer.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
        assert len(rows) == (1 if format == "?format=moodle" else 2) + 10  # 9 demo + Eve
    assert instructor.get(f"{PAGE}.csv?format=xlsx").status_code == 400


def test_an_empty_course_says_so(app, new_client, demo):
    from server.accounts import find_user
    from server.courses.people import create_course

    empty = create_course("empty", "Empty course")
    enroll(find_user("instructor@example.edu"), empty, Role.INSTRUCTOR)
    db.session.commit()
    page = new_client(("instructor@example.edu", "instructor")).get("/courses/empty/gradebook")
    assert "No students are enrolled" in page.get_data(as_text=True)
