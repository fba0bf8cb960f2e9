"""Deep linking in chromium, inside the LMS's iframe on another site.

The instructor clicks "add an activity" on the test platform's course page (served on
http://localhost:PORT); Rubric (on http://127.0.0.1:PORT2, framed by it) shows its
picker in the iframe, signs the chosen assignment, and the page posts it back to the
platform, which verifies it against Rubric's JWKS and shows what it added.
"""

import json

import pytest
from playwright.sync_api import expect

from tests.lti.platform_lti1p3 import (
    INSTRUCTOR,
    User,
    register_in_rubric,
    running_platform,
)

from .conftest import rubric_framed_by

QUIZ = "l2-regularization-quiz"


@pytest.fixture
def lti_lms(app, demo, tmp_path):
    """The platform on localhost, and Rubric, framed by it, registered there."""
    with (
        running_platform(host="localhost") as platform,
        rubric_framed_by(platform, app, tmp_path) as rubric,
    ):
        register_in_rubric(rubric.app, platform)
        platform.settings.user = User(sub="lms-teacher", name="Grace", roles=[INSTRUCTOR])
        platform.settings.deep_linking = True
        platform.settings.deep_link_data = "opaque-browser-data"
        yield platform


@pytest.mark.browser
def test_instructor_adds_a_quiz_from_the_picker_in_the_iframe(lti_lms, browser, screenshot):
    context = browser.new_context(viewport={"width": 1000, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{lti_lms.url}/course")
    frame = page.frame_locator("#tool")

    expect(frame.get_by_role("heading", name="Add a Rubric activity")).to_be_visible()
    frame.locator(f"#pick-{QUIZ}").check()
    screenshot(page, "lti-deep-linking-picker")
    frame.get_by_role("button", name="Add to the LMS").click()

    expect(frame.get_by_text("1 activity added")).to_be_visible()
    screenshot(page, "lti-deep-linking-added")
    shown = json.loads(frame.locator("code.item").inner_text())
    assert shown["custom"] == {"assignment": QUIZ}
    assert shown["url"] == f"{lti_lms.tool_base}/lti/launch"
    assert shown["lineItem"]["scoreMaximum"] > 0
    assert lti_lms.content_items == [shown]  # verified and kept by the platform
