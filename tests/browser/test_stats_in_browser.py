"""An instructor reads the class statistics of an exercise and of a quiz, and the course overview.

The exercise's submissions are the l2 exercise's real mistake files (and code no
mistake describes), graded in the sandbox; the ranking the page shows, in its table
and in the Chart.js chart drawn from it, must be what was submitted.

With RUBRIC_FIGURES=1 each page is also saved at 1280 and 390 px wide into
docs/figures/issue-18/ (the figures docs/instructors.md shows):

    RUBRIC_FIGURES=1 .venv/bin/pytest -q tests/browser/test_stats_in_browser.py
"""

import os
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from bench.stats_seed import mistake_code, reference_code, store, unknown_code
from server.accounts import find_user
from server.config import PROJECT_ROOT
from server.extensions import db
from server.models import Assignment
from server.models.types import utcnow
from server.scoring.quizzes import submit_attempt
from tests.api.test_quiz_api import correct_answers

from .layout import settled_width
from .test_quiz_in_browser import log_in

FIGURES = PROJECT_ROOT / "docs" / "figures" / "issue-18"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
STUDENTS = ["student@example.edu"] + [f"student{n}@example.edu" for n in range(2, 10)]
# What each student's (only) submission is; the last student submits nothing.
SUBMITTED = [
    ("mistake", "forgot_factor_two"),
    ("mistake", "forgot_factor_two"),
    ("mistake", "forgot_factor_two"),
    ("mistake", "l1_instead_of_l2"),
    ("mistake", "l1_instead_of_l2"),
    ("mistake", "decay_sign_flipped"),
    ("unknown", "cubed"),
    ("reference",),
]
# Quiz: how many of the five questions each student gets right (first k).
QUIZ_RIGHT = [5, 4, 4, 3, 2, 2, 1, 0]
WRONG = {"q1": "a", "q2": 0.5, "q3": "d", "q4": ["c"], "q5": 123.0}


def assignment(slug: str) -> Assignment:
    return db.session.scalar(sa.select(Assignment).where(Assignment.slug == slug))


@pytest.fixture
def class_work(demo) -> None:
    """The submissions and attempts above; the exercise due in three days."""
    exercise, quiz = assignment("l2-regularization"), assignment("l2-regularization-quiz")
    for email, what in zip(STUDENTS, SUBMITTED, strict=False):
        if what[0] == "mistake":
            code = mistake_code(exercise, what[1])
        elif what[0] == "unknown":
            code = unknown_code(exercise, what[1])
        else:
            code = reference_code(exercise)
        store(exercise, find_user(email).id, [code])
    for email, right in zip(STUDENTS, QUIZ_RIGHT, strict=False):
        answers = correct_answers(email)
        keys = list(answers)[right:]
        submit_attempt(quiz, find_user(email), answers | {k: WRONG[k] for k in keys})
    exercise.due_at = utcnow() + timedelta(days=3)
    db.session.commit()


def figure(page, name: str) -> None:
    """Save the page at both widths (a documentation figure when RUBRIC_FIGURES is set)
    and check nothing widens the page on a phone."""
    save = os.environ.get("RUBRIC_FIGURES")
    page.set_viewport_size(WIDE)
    if save:
        FIGURES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(FIGURES / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    width = settled_width(page, PHONE["width"])
    assert width <= PHONE["width"], f"the {name} page is {width} px wide on a phone"
    if save:
        page.screenshot(path=str(FIGURES / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(WIDE)


def drawn(page, figure_id: str) -> dict:
    """The labels and first dataset of the chart Chart.js drew in a figure."""
    canvas = page.locator(f"#{figure_id} canvas")
    expect(canvas).to_be_visible()
    return canvas.evaluate(
        """canvas => { const c = Chart.getChart(canvas); return {
            labels: c.data.labels, data: c.data.datasets[0].data,
            series: c.data.datasets.map(d => d.label) }; }"""
    )


@pytest.mark.browser
def test_instructor_reads_the_class_statistics(live_server, browser, class_work):
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every script and style loads (the browser's own favicon request aside).
    page.on(
        "response",
        lambda r: r.status >= 400 and "favicon" not in r.url and errors.append(r.url),
    )
    log_in(page, live_server, "instructor@example.edu", "instructor")
    page.goto(live_server + "/courses/demo")
    page.get_by_role("link", name="Statistics of L2 regularization and weight decay").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Statistics")

    # The ranking is what was submitted: in the table and in the chart drawn from it.
    made = Counter(w[1] for w in SUBMITTED if w[0] == "mistake")
    expected = sorted(made.items(), key=lambda item: (-item[1], item[0]))
    rows = page.locator("table.mistakes tbody tr")
    shown = [
        (rows.nth(i).locator("th").inner_text(), int(rows.nth(i).locator("td").first.inner_text()))
        for i in range(rows.count())
    ]
    assert shown[: len(expected)] == expected
    assert all(count == 0 for _, count in shown[len(expected) :])
    chart = drawn(page, "chart-mistakes")
    assert list(zip(chart["labels"], chart["data"], strict=True)) == shown
    scores = drawn(page, "chart-scores")
    assert scores["series"] == ["Counted score", "First attempt"]
    assert sum(scores["data"]) == len(SUBMITTED)
    # The table behind a chart opens for whoever cannot see the chart.
    page.get_by_text("Data table: students per known mistake").click()
    expect(page.locator("#chart-mistakes table")).to_be_visible()
    # The unknown wrong code is its own group, with an example to open.
    expect(page.locator("table.unknown tbody tr")).to_have_count(1)
    figure(page, "10-stats-exercise")

    # A mistake's submissions, each linked.
    page.get_by_role("link", name="3 submissions").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    for email in STUDENTS[:3]:
        expect(page.get_by_text(email)).to_be_visible()

    # The quiz: each question's correct rate, as the answers above make it.
    page.goto(live_server + "/courses/demo/assignments/l2-regularization-quiz/stats")
    rates = page.locator("table.question-stats tbody tr td:nth-child(2)").all_inner_texts()
    n = len(QUIZ_RIGHT)
    expected_rates = [f"{round(100 * sum(r > i for r in QUIZ_RIGHT) / n)}%" for i in range(5)]
    assert rates == expected_rates
    correct = drawn(page, "chart-correct")
    assert correct["labels"] == ["q1", "q2", "q3", "q4", "q5"]
    assert [round(100 * v) for v in correct["data"]] == [int(r[:-1]) for r in expected_rates]
    choices = drawn(page, "chart-choices")
    assert choices["series"] == ["a", "b", "c", "d"]
    figure(page, "11-stats-quiz")

    # The overview: who has not started the exercise due in three days.
    page.goto(live_server + "/courses/demo/overview")
    expect(page.get_by_role("heading", name="Not started, due within 7 days")).to_be_visible()
    expect(page.locator(".not-started li")).to_have_count(len(STUDENTS) - len(SUBMITTED))
    expect(page.locator(".not-started")).to_contain_text(STUDENTS[-1])
    figure(page, "12-course-overview")
    assert not errors, errors
    context.close()
