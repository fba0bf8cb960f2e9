"""An LTI 1.3 launch in chromium, inside the LMS's iframe on another site.

The test platform (tests/lti/platform_lti1p3.py) is served on http://localhost:PORT and
frames its activity; Rubric is on http://127.0.0.1:PORT2 with that origin allowed to
frame it. The click goes through Rubric's /lti/login, the platform's OIDC authorization
and its auto-submitted form post to /lti/launch, all inside the iframe, and the
student, with no Rubric password, submits the exercise there; the score then reaches
the platform's gradebook through grade passback.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.lti.platform_lti1p3 import register_in_rubric, running_platform

from .conftest import rubric_framed_by
from .test_exercise_in_browser import GRADED, REFERENCE

EXERCISE = "l2-regularization"


@pytest.fixture
def lti_lms(app, demo, tmp_path):
    """The platform on localhost, and Rubric, framed by it, registered there."""
    with (
        running_platform(host="localhost") as platform,
        rubric_framed_by(platform, app, tmp_path) as rubric,
    ):
        register_in_rubric(rubric.app, platform)
        platform.settings.custom = {"assignment": EXERCISE}
        yield platform


@pytest.mark.browser
def test_student_launches_into_the_iframe_and_submits_the_exercise(lti_lms, browser):
    context = browser.new_context(viewport={"width": 1000, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{lti_lms.url}/course")
    frame = page.frame_locator("#tool")

    expect(frame.locator(".CodeMirror")).to_contain_text("raise NotImplementedError")
    assert re.search(rf"/courses/demo/assignments/{EXERCISE}$", page.frames[1].url)
    frame.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(REFERENCE)
    frame.get_by_role("button", name="Submit for grading").click()
    status = frame.locator("#result-status")
    expect(status).to_contain_text("Submission 1 graded", timeout=GRADED)
    expect(frame.locator("#result-body .total")).to_have_text("Score: 10 / 10")

    # The LMS's own gradebook page: the sender posts the score in the background.
    student = lti_lms.settings.user.sub
    grades = context.new_page()
    for _ in range(60):
        grades.goto(f"{lti_lms.url}/gradebook")
        if grades.locator("#grades td", has_text=student).count():
            break
        grades.wait_for_timeout(500)
    expect(grades.locator("#grades tr", has_text=student)).to_contain_text("10 / 10")
