"""The demo student writes, submits and fixes the L2 exercise in chromium; the instructor looks."""

import re

import pytest
from playwright.sync_api import expect

from server.config import PROJECT_ROOT

from .test_quiz_in_browser import VIEWPORT, log_in

EXERCISE = "/courses/demo/assignments/l2-regularization"
REFERENCE = (PROJECT_ROOT / "exercises" / "l2-regularization" / "reference.py").read_text()
FORGOT_TWO = REFERENCE.replace("2 * lam * w", "lam * w")
SYNTAX_ERROR = "import numpy as np\n\n\ndef l2_penalty(w, lam)\n    return lam\n"
GRADED = 30_000  # ms; grading takes well under a second, the machine may be busy


def type_into_editor(page, code: str) -> None:
    """Replace the editor's text as a student pasting their file would."""
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)


def submit_and_wait(page, number: int) -> None:
    page.get_by_role("button", name="Submit for grading").click()
    status = page.locator("#result-status")
    expect(status).to_contain_text(f"Submission {number} graded", timeout=GRADED)


def chart_pixels(page) -> str:
    return page.locator(".demo canvas").evaluate("canvas => canvas.toDataURL()")


@pytest.mark.browser
def test_student_fixes_a_mistake_and_instructor_sees_both(live_server, browser, screenshot):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server, "student@example.edu", "student")
    page.goto(live_server + EXERCISE)
    expect(page.locator(".prompt .katex").first).to_be_visible()  # math typeset locally
    expect(page.locator(".CodeMirror")).to_contain_text("raise NotImplementedError")
    screenshot(page, "exercise-01-page")

    # Tab indents inside the editor; Esc then Tab leaves it (no keyboard trap).
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Tab")
    expect(page.locator(".CodeMirror")).to_contain_text('NotImplementedError("weight_decay_step")')
    assert page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()").endswith(
        "    "
    )
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(page.locator("#upload")).to_be_focused()

    type_into_editor(page, FORGOT_TWO)
    submit_and_wait(page, 1)
    gradient = page.locator(".part").filter(has=page.locator("code", has_text="l2_gradient"))
    expect(gradient).to_contain_text("don't forget the factor 2")
    expect(gradient.locator(".badge").first).not_to_have_text("3 / 3")
    expect(
        page.locator(".part").filter(has_text="l2_penalty").locator(".badge").first
    ).to_have_text("3 / 3")
    screenshot(page, "exercise-02-mistake-hint")

    type_into_editor(page, REFERENCE)
    submit_and_wait(page, 2)
    expect(page.locator("#result-body .total")).to_have_text("Score: 10 / 10")
    chart = page.locator(".demo canvas")
    expect(chart).to_be_visible()
    before = chart_pixels(page)
    slider = page.get_by_label("λ", exact=True)
    expect(page.locator(".lam-value")).to_have_text("λ = 0.5")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator(".lam-value")).to_have_text("λ = 0.7")
    assert chart_pixels(page) != before, "the chart follows the slider"
    screenshot(page, "exercise-03-full-marks-chart")

    history = page.locator("#history table tbody tr")
    expect(history).to_have_count(2)
    expect(history.filter(has_text="counts")).to_contain_text("10 / 10")
    expect(page.locator("#history")).to_contain_text("Submission 2 counts in the gradebook")

    # Restore the first attempt into the editor.
    page.get_by_role("link", name="Restore submission 1 into the editor").click()
    expect(page).to_have_url(re.compile(r"restore=\d+#editor$"))
    # The URL changes when the new page starts loading; its editor comes a little later.
    # Not wait_for_function: its polling evaluates a string, which the page's CSP forbids.
    page.wait_for_load_state("load")
    expect(page.locator(".CodeMirror")).to_be_visible()
    code = page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")
    assert code == FORGOT_TWO

    type_into_editor(page, SYNTAX_ERROR)
    submit_and_wait(page, 3)
    expect(page.locator(".load-error")).to_contain_text("Line 4, column 23")
    expect(page.locator(".CodeMirror .error-line")).to_have_count(1)
    cursor = page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getCursor()")
    assert (cursor["line"], cursor["ch"]) == (3, 22)  # zero-based: line 4, column 23
    screenshot(page, "exercise-04-syntax-error")

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "instructor@example.edu", "instructor")
    page.goto(live_server + EXERCISE)
    page.get_by_role("link", name="All submissions").click()
    rows = page.locator("table.submissions tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_label("Outcome").select_option("full")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    screenshot(page, "exercise-05-instructor-list")
    page.get_by_role("link", name="Open submission 2 of student@example.edu").click()
    expect(page.locator(".total")).to_have_text("Score: 10 / 10")
    expect(page.locator(".code-listing")).to_contain_text("def weight_decay_step")
    expect(page.locator(".tag", has_text="hidden").first).to_be_visible()
    screenshot(page, "exercise-06-instructor-submission")
    context.close()


@pytest.mark.browser
def test_exercise_works_without_javascript(live_server, browser, screenshot):
    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server, "student@example.edu", "student")
    page.goto(live_server + EXERCISE)
    page.get_by_label("Python file").fill(FORGOT_TWO)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page).to_have_url(re.compile(r"/courses/demo/submissions/\d+$"))
    # The page reloads itself (meta refresh) until the result is in.
    expect(page.locator(".total")).to_contain_text("Score:", timeout=GRADED)
    expect(page.locator(".standalone-result")).to_contain_text("don't forget the factor 2")
    screenshot(page, "exercise-07-no-javascript-result")
    context.close()
