"""A student checks, submits, reads grouped feedback, the decay chart and the sweep, and returns.

With RUBRIC_FIGURES=1 the tests also save each student page at 1280 and 390 px wide into
docs/figures/issue-18/ (the figures docs/students.md shows):

    RUBRIC_FIGURES=1 .venv/bin/pytest -q tests/browser/test_student_feedback_in_browser.py
"""

import os
import re

import pytest
from playwright.sync_api import expect

from server.config import PROJECT_ROOT

from .layout import settled_width
from .test_exercise_in_browser import EXERCISE, GRADED, REFERENCE, submit_and_wait, type_into_editor
from .test_quiz_in_browser import log_in

QUIZ = "/courses/demo/assignments/l2-regularization-quiz"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WITHOUT_STEP = REFERENCE.split("def weight_decay_step")[0]
SYNTAX_ERROR = "import numpy as np\n\n\ndef l2_penalty(w, lam)\n    return lam\n"
FIGURES = PROJECT_ROOT / "docs" / "figures" / "issue-18"


def figure(page, name: str) -> None:
    """Save the page as a documentation figure when RUBRIC_FIGURES is set."""
    if os.environ.get("RUBRIC_FIGURES"):
        FIGURES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(FIGURES / f"{name}.png"), full_page=True)


def wide_elements(page) -> list[str]:
    """Name the elements past the viewport's right edge that no scrolling box clips."""
    return page.evaluate(
        """() => {
            const clipped = e => {
                for (let x = e.parentElement; x && x !== document.body; x = x.parentElement)
                    if (getComputedStyle(x).overflowX !== "visible") return true;
                return false;
            };
            return [...document.querySelectorAll("body *")]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .filter(e => !clipped(e))
                .slice(-5).map(e => Math.round(e.getBoundingClientRect().right) + " "
                    + e.tagName + "." + e.className + " < " + e.parentElement.className);
        }"""
    )


def at_both_widths(page, name: str) -> None:
    """Check nothing widens the page on a phone, and save it as a figure at both widths."""
    page.set_viewport_size(WIDE)
    figure(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    width = settled_width(page, PHONE["width"])
    assert width <= PHONE["width"], f"the {name} page is {width} px wide: {wide_elements(page)}"
    figure(page, f"{name}-390")
    page.set_viewport_size(WIDE)


def chart(page, selector: str) -> dict:
    """Read a drawn chart's axes and datasets from Chart.js itself."""
    return page.locator(selector).first.evaluate(
        """canvas => { const c = Chart.getChart(canvas); return {
            yMin: c.scales.y.min, yMax: c.scales.y.max, xType: c.scales.x.type,
            labels: c.data.datasets.map(d => d.label),
            points: c.data.datasets.map(d => d.data.length) }; }"""
    )


def editor_value(page) -> str:
    return page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")


@pytest.mark.browser
def test_check_submit_feedback_charts_and_draft(live_server, browser, screenshot):
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server, "student@example.edu", "student")
    page.goto(live_server + EXERCISE)

    # The reference's sweep is on the page before anything is submitted.
    reference = chart(page, ".reference-sweep canvas")
    assert reference["xType"] == "logarithmic"
    assert reference["labels"] == ["Reference training loss", "Reference validation loss"]
    # Prompt and editor side by side on a wide screen, one above the other on a phone.
    task, work = (page.locator(c).bounding_box() for c in (".exercise-task", ".exercise-work"))
    assert work["x"] > task["x"] + task["width"] - 1 and abs(work["y"] - task["y"]) < 50
    screenshot(page, "feedback-01-exercise-1280")
    at_both_widths(page, "01-exercise")

    # Run visible tests: a syntax error is shown and costs no attempt.
    type_into_editor(page, SYNTAX_ERROR)
    page.get_by_role("button", name="Run visible tests").click()
    expect(page.locator("#result-body .load-error")).to_contain_text("Line 4", timeout=GRADED)
    expect(page.locator("#result-body")).to_contain_text("not a submission")
    expect(page.locator("#history table tbody tr")).to_have_count(0)
    type_into_editor(page, REFERENCE)
    page.get_by_role("button", name="Run visible tests").click()
    expect(page.locator("#result-body .check-result")).to_contain_text("passes", timeout=GRADED)
    assert len(chart(page, "#result-body .sweep canvas")["labels"]) == 4  # theirs and reference
    expect(page.locator("#history table tbody tr")).to_have_count(0)
    screenshot(page, "feedback-02-visible-tests-1280")
    figure(page, "02-visible-tests-1280")

    # Grouped feedback: a missing function's hidden tests are one row.
    type_into_editor(page, WITHOUT_STEP)
    submit_and_wait(page, 1)
    step = page.locator(".part").filter(has=page.locator("code", has_text="weight_decay_step"))
    group = step.locator(".test-group")
    expect(group).to_have_count(1)
    expect(group.locator(".test-name")).to_contain_text("hidden tests")
    expect(page.locator("#result-body .result-summary")).to_contain_text("weight_decay_step fails")
    screenshot(page, "feedback-03-grouped-1280")
    figure(page, "03-grouped-1280")

    # Full marks: the decay chart keeps one y-axis for every λ; the sweep is drawn.
    type_into_editor(page, REFERENCE)
    submit_and_wait(page, 2)
    decay = "#result-body .demo canvas"
    before = chart(page, decay)
    page.get_by_label("λ", exact=True).fill("10")  # λ = 1.0
    after = chart(page, decay)
    assert (before["yMin"], before["yMax"]) == (after["yMin"], after["yMax"])
    assert after["yMin"] <= 1 / 3 <= after["yMax"]  # where λ = 1 settles, inside the axis
    swept = chart(page, "#result-body .sweep canvas")
    assert swept["xType"] == "logarithmic" and swept["points"] == [9, 9, 9, 9]
    screenshot(page, "feedback-04-charts-1280")
    figure(page, "04-charts-1280")
    page.set_viewport_size(PHONE)
    page.locator("#result-body .sweep-table summary").click()  # the table behind the chart
    screenshot(page, "feedback-04-charts-390")
    figure(page, "04-charts-390")
    width = settled_width(page, PHONE["width"])
    assert width <= PHONE["width"], f"the result is {width} px wide: {wide_elements(page)}"
    page.set_viewport_size(WIDE)

    # The result's own page: the score once, grouped tests, both charts.
    result_url = page.get_by_label("View submission 2").get_attribute("href")
    page.goto(live_server + result_url)
    expect(page.locator(".sweep canvas")).to_be_visible()
    assert len(re.findall(r"10\s*/\s*10", page.locator("main").inner_text())) == 1
    at_both_widths(page, "05-result")
    page.goto(live_server + EXERCISE)

    # A draft is saved as they type and restored after a reload, on any computer.
    type_into_editor(page, REFERENCE + "\n# still working on it\n")
    expect(page.locator("#draft-status")).to_contain_text("Draft saved", timeout=GRADED)
    page.goto(live_server + "/courses/demo")  # leaves, with nothing unsaved: no prompt
    page.goto(live_server + EXERCISE)
    # Not wait_for_function: its polling evaluates a string, which the page's CSP forbids.
    page.wait_for_load_state("load")
    expect(page.locator(".CodeMirror")).to_be_visible()
    assert editor_value(page).endswith("# still working on it\n")
    expect(page.locator("#opening-note")).to_contain_text("latest draft")

    context.close()


@pytest.mark.browser
def test_a_blank_quiz_asks_first_and_the_attempt_shows_the_right_choices(
    live_server, browser, screenshot
):
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server, "student@example.edu", "student")
    page.goto(live_server + QUIZ)
    # The quiz's formulas are typeset by the vendored KaTeX, as the exercise's are.
    expect(page.locator(".description .katex").first).to_be_visible()
    expect(page.locator("#q2 .katex").first).to_be_visible()
    at_both_widths(page, "06-quiz")
    asked = []

    def refuse(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", refuse)
    page.get_by_role("button", name="Submit answers").click()
    assert asked and "not answered 5 of 5" in asked[0]
    expect(page).to_have_url(live_server + QUIZ)  # nothing was submitted

    page.get_by_label("a) ").first.check()  # question 1: a wrong choice
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Submit answers").click()
    expect(page.locator(".total")).to_contain_text("Score:")
    first = page.locator("li.result").first
    expect(first.locator(".choice-right")).to_contain_text("b)")
    expect(first.locator(".choice-mine")).to_contain_text("wrong, your choice")
    expect(page.locator(".q-prompt .katex").first).to_be_visible()  # typeset here too
    screenshot(page, "feedback-06-quiz-attempt-1280")
    at_both_widths(page, "07-attempt")
    context.close()


@pytest.mark.browser
def test_without_javascript_the_server_asks_before_a_blank_quiz(live_server, browser):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server, "student@example.edu", "student")
    page.goto(live_server + QUIZ)
    page.get_by_label("b) ").first.check()  # question 1 only
    page.get_by_role("button", name="Submit answers").click()
    warning = page.locator("#blank-warning")
    expect(warning).to_contain_text("Submit with 4 of 5 questions unanswered?")
    expect(page.get_by_label("b) ").first).to_be_checked()  # the answer given is kept
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    warning.get_by_role("button", name="Submit anyway").click()
    expect(page.locator(".total")).to_contain_text("Score:")
    expect(page.locator("li.result").first.locator(".choice-mine")).to_contain_text("right")
    context.close()
