"""The demo student takes the L2 quiz in chromium; the instructor sees the score."""

import re

import pytest
from playwright.sync_api import expect

QUIZ = "/courses/demo/assignments/l2-regularization-quiz"
# The LMS shows Rubric in an iframe about this wide.
VIEWPORT = {"width": 800, "height": 900}


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def decay_factor_from_prompt(prompt: str) -> str:
    """Work out q5's answer from the numbers the page shows this student."""
    match = re.search(r"α = ([0-9.e-]+) and λ = ([0-9.e-]+)", prompt)
    assert match, f"no α and λ in {prompt!r}"
    alpha, lam = float(match[1]), float(match[2])
    return repr(round(1 - 2 * alpha * lam, 12))


@pytest.mark.browser
def test_student_takes_quiz_and_instructor_sees_score(live_server, browser, screenshot):
    # The pages promise to work without JavaScript, so the browser runs without it.
    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()

    page.goto(live_server + "/courses/demo")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    screenshot(page, "01-login")
    log_in(page, live_server, "student@example.edu", "student")
    expect(page.get_by_role("heading", name="Machine Learning 101 (demo)")).to_be_visible()
    screenshot(page, "02-course-student")

    page.get_by_role("link", name="L2 regularization", exact=True).click()
    expect(page).to_have_url(live_server + QUIZ)
    page.locator("#q1-b").check()
    page.get_by_label("Your answer (a number)").first.fill("about one")
    page.locator("#q3-b").check()
    page.locator("#q4-a").check()
    page.locator("#q4-b").check()
    q5 = decay_factor_from_prompt(page.locator("#q5 .q-prompt").inner_text())
    page.locator("#q5-input").fill(q5)
    screenshot(page, "03-quiz-filled")
    page.get_by_role("button", name="Submit answers").click()

    # A non-number is refused, naming the question and keeping every answer.
    expect(page.get_by_role("heading", name="Your answers were not submitted")).to_be_visible()
    expect(page.locator("#q2-error")).to_contain_text("expected a number")
    expect(page.locator("#q4-b")).to_be_checked()
    expect(page.locator("#q5-input")).to_have_value(q5)
    screenshot(page, "04-quiz-invalid")
    page.locator("#q2-input").fill("0.998")
    page.get_by_role("button", name="Submit answers").click()

    expect(page).to_have_url(re.compile(r"/courses/demo/attempts/\d+$"))
    expect(page.locator(".total")).to_have_text("Score: 5 / 5")
    expect(page.get_by_text("Correct, 1 / 1")).to_have_count(5)
    screenshot(page, "05-result")
    page.goto(live_server + "/courses/demo/gradebook")
    expect(page.get_by_role("heading", name="Forbidden")).to_be_visible()
    screenshot(page, "05b-gradebook-forbidden-to-student")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(live_server + "/login")
    log_in(page, live_server, "instructor@example.edu", "instructor")
    page.get_by_role("link", name="Gradebook").click()
    row = page.get_by_role("row").filter(has_text="student@example.edu")
    headers = page.get_by_role("columnheader").all_inner_texts()
    quiz_cell = row.get_by_role("cell").nth(headers.index("L2 regularization") - 1)
    expect(quiz_cell).to_have_text("5")  # the column's maximum is in the points-possible row
    expect(row.get_by_role("cell").nth(-2)).to_contain_text("5 /")  # points of possible
    screenshot(page, "06-gradebook")

    page.keyboard.press("Tab")  # the skip link comes first and shows itself on focus
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    screenshot(page, "07-skip-link")
    context.close()
