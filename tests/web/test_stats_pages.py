"""The statistics pages: an assignment's (charts over real tables), a mistake's submissions,
the course overview; staff of the course only."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bench.stats_seed import mistake_code, reference_code, store, unknown_code
from server.accounts import ensure_user, find_user
from server.content.sync import sync_exercises
from server.courses import enroll
from server.courses.assignments import publish
from server.courses.people import create_course
from server.extensions import db
from server.models import Assignment, Draft, Role
from server.models.types import utcnow
from server.notebooks.importer import import_assignment
from server.scoring.quizzes import submit_attempt
from tests.api.test_quiz_api import correct_answers
from tests.notebooks.support import EXAMPLE
from tests.statements import statements_during

from .support import STUDENT

STATS = "/courses/demo/assignments/{}/stats"
EXERCISE, QUIZ = "l2-regularization", "l2-regularization-quiz"
# Two students made forgot_factor_two, one l1_instead_of_l2, one crashed in a way no
# mistake describes; one got full marks.
MADE = {
    "student@example.edu": ("mistake", "forgot_factor_two"),
    "student2@example.edu": ("mistake", "forgot_factor_two"),
    "student3@example.edu": ("mistake", "l1_instead_of_l2"),
    "student4@example.edu": ("unknown", "crashes"),
    "student5@example.edu": ("reference",),
}


def assignment(slug: str) -> Assignment:
    return db.session.scalar(sa.select(Assignment).where(Assignment.slug == slug))


@pytest.fixture
def seeded(demo) -> dict:
    """MADE stored as graded submissions; returns each student's submission id."""
    found = assignment(EXERCISE)
    codes = {
        "mistake": lambda name: mistake_code(found, name),
        "unknown": lambda name: unknown_code(found, name),
        "reference": lambda: reference_code(found),
    }
    return {
        email: store(found, find_user(email).id, [codes[what[0]](*what[1:])])[0]
        for email, what in MADE.items()
    }


def scripts_are_files(html: str) -> bool:
    """Every <script> loads a file: the CSP allows no inline script."""
    tags = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    return all(not body.strip() for body in tags) and 'src="/static/stats.js"' in html


def test_the_exercise_page_ranks_the_mistakes_with_tables_behind_the_charts(instructor, seeded):
    html = instructor.get(STATS.format(EXERCISE)).get_data(as_text=True)
    ranked = re.findall(r'<th scope="row"><code>([\w]+)</code></th>\s*<td class="num">(\d+)', html)
    assert ranked[:2] == [("forgot_factor_two", "2"), ("l1_instead_of_l2", "1")]
    assert all(count == "0" for _, count in ranked[2:]) and len(ranked) == 8
    assert "made by nobody" in html
    # Each chart's data is a real table (inside details), the chart drawn from it by stats.js.
    for chart in ("chart-scores", "chart-mistakes", "chart-tests"):
        assert f'id="{chart}"' in html
    assert html.count('<table class="chart-data">') == 3
    assert scripts_are_files(html)
    # The crash no mistake describes is a group of one, with its example linked.
    example = seeded["student4@example.edu"]
    assert f'href="/courses/demo/submissions/{example}"' in html
    assert "NameError" in html


def test_a_mistakes_page_links_the_submissions_that_made_it(instructor, seeded):
    page = instructor.get(STATS.format(EXERCISE) + "/mistakes/forgot_factor_two")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    made = [e for e, what in MADE.items() if what == ("mistake", "forgot_factor_two")]
    for email in made:
        assert email in html
        assert f'href="/courses/demo/submissions/{seeded[email]}"' in html
    assert "student3@example.edu" not in html
    shown = instructor.get(f"/courses/demo/submissions/{seeded[made[0]]}")
    assert shown.status_code == 200
    assert instructor.get(STATS.format(EXERCISE) + "/mistakes/nope").status_code == 404


def test_the_quiz_page_shows_each_question(instructor, demo):
    found = assignment(QUIZ)
    for n, email in enumerate(["student@example.edu", "student2@example.edu"]):
        answers = correct_answers(email) | ({"q1": "c"} if n else {})
        submit_attempt(found, find_user(email), answers)
    html = instructor.get(STATS.format(QUIZ)).get_data(as_text=True)
    rows = re.findall(r'<th scope="row">(q\d)</th>\s*<td class="num">(\d+)%', html)
    assert rows[:5] == [("q1", "50"), ("q2", "100"), ("q3", "100"), ("q4", "100"), ("q5", "100")]
    assert 'id="chart-choices"' in html and 'id="chart-correct"' in html
    assert "b: 50%, c: 50%" in html or "b: 50%, c: 50%, d: 0%" in html


def test_students_and_other_courses_staff_may_not_see_them(new_client, demo):
    other = create_course("other", "Another course")
    enroll(ensure_user("olga@example.edu", "Olga", "olga-pass"), other, Role.INSTRUCTOR)
    db.session.commit()
    student, outsider = new_client(STUDENT), new_client(("olga@example.edu", "olga-pass"))
    mistake = STATS.format(EXERCISE) + "/mistakes/forgot_factor_two"
    for url in (STATS.format(EXERCISE), STATS.format(QUIZ), mistake, "/courses/demo/overview"):
        assert student.get(url).status_code == 403
        assert outsider.get(url).status_code == 404
    assert "Statistics" not in student.get("/courses/demo").get_data(as_text=True)


def test_the_course_page_links_staff_to_the_statistics(instructor, demo):
    html = instructor.get("/courses/demo").get_data(as_text=True)
    assert 'href="/courses/demo/overview"' in html
    assert f'href="{STATS.format(EXERCISE)}"' in html


def test_the_overview_counts_and_finds_who_has_not_started(instructor, seeded):
    exercise, quiz = assignment(EXERCISE), assignment(QUIZ)
    exercise.due_at = utcnow() + timedelta(days=2)  # due soon
    quiz.due_at = utcnow() - timedelta(days=1)  # past: who did nothing is missing
    drafted = find_user("student6@example.edu")
    db.session.add(Draft(user_id=drafted.id, assignment_id=exercise.id, code="def f(): pass"))
    db.session.commit()
    page = instructor.get("/courses/demo/overview")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    students = 9
    row = re.search(r"l2-regularization\">[^<]+</a>.*?</tr>", html, re.S)[0]
    cells = re.findall(r'<td class="num">(?:<strong>)?(\d+)', row)
    assert cells[:4] == [
        str(len(MADE)),
        str(len(MADE)),
        "0",
        "0",
    ]  # submitted, graded, late, missing
    quiz_row = re.search(r"l2-regularization-quiz\">[^<]+</a>.*?</tr>", html, re.S)[0]
    assert re.findall(r'<td class="num">(?:<strong>)?(\d+)', quiz_row)[3] == str(students)
    # Not started and due within 7 days: neither a submitter nor the one with a draft.
    soon = html[html.index('id="due-soon"') :]
    waiting = set(re.findall(r"(student\d*@example\.edu)", soon))
    everyone = {"student@example.edu"} | {f"student{n}@example.edu" for n in range(2, 10)}
    assert waiting == everyone - set(MADE) - {drafted.email}
    # Nothing is due within a day.
    assert "student9@example.edu" not in instructor.get("/courses/demo/overview?days=1").get_data(
        as_text=True
    )


@pytest.mark.parametrize("days", ["0", "abc", "-3", "367", "1e3"])
def test_a_bad_number_of_days_is_a_clear_400(instructor, demo, days):
    page = instructor.get(f"/courses/demo/overview?days={days}")
    assert page.status_code == 400
    assert "whole number from 1 to 366" in page.get_data(as_text=True)


def test_a_notebook_exercises_statistics_page_opens(instructor, demo, tmp_path):
    """nbgrader's example, published: its version loads as a notebook, with no known mistakes."""
    import_assignment(EXAMPLE / "source" / "ps1", tmp_path / "content" / "exercises")
    sync_exercises(tmp_path / "content")
    publish(demo, "ps1", None)
    db.session.commit()
    page = instructor.get(STATS.format("ps1"))
    assert page.status_code == 200
    assert "Known mistakes" in page.get_data(as_text=True)


def test_a_mistakes_page_reads_its_submissions_in_a_fixed_number_of_queries(instructor, seeded):
    page = STATS.format(EXERCISE) + "/mistakes/forgot_factor_two"

    def visit() -> None:
        assert instructor.get(page).status_code == 200

    def queries() -> int:
        visit()  # each result's facts are read once per process: count what follows
        return statements_during(visit)

    two = queries()
    found = assignment(EXERCISE)
    for number in range(6, 10):  # four more students make the same mistake
        user_id = find_user(f"student{number}@example.edu").id
        store(found, user_id, [mistake_code(found, "forgot_factor_two")])
    db.session.commit()
    assert queries() == two
