"""LTI Dynamic Registration in chromium, inside the LMS's iframe on another site.

The test platform (localhost) frames Rubric's one-time registration URL (127.0.0.1)
as Moodle's "Add LTI Advantage" does; the administrator presses "Register Rubric" in
the iframe, and Rubric's page tells the platform to close it with postMessage, which
its script (a file, as Rubric's CSP allows no inline script) must send.
"""

from urllib.parse import quote

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from server.extensions import db
from server.models import LtiPlatform
from tests.lti.platform_lti1p3 import running_platform
from tests.lti.platform_registration import DynamicRegistration

from .conftest import rubric_framed_by


@pytest.fixture
def lms_and_link(app, demo, tmp_path):
    """The platform on localhost framing Rubric, and an administrator's one-time link."""
    with running_platform(host="localhost") as platform:
        platform.dynamic = DynamicRegistration(platform)
        with rubric_framed_by(platform, app, tmp_path) as rubric:
            rubric.app.config["RUBRIC_BASE_URL"] = rubric.url
            with rubric.app.app_context():  # the command runs in Rubric's app, not the test's
                result = rubric.app.test_cli_runner().invoke(
                    args=["lti", "platform", "register-url"]
                )
            assert result.exit_code == 0, result.output
            yield platform, result.stdout.strip()


@pytest.mark.browser
def test_registration_in_the_lms_iframe_registers_and_closes(lms_and_link, browser):
    lms, link = lms_and_link
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{lms.url}/admin/add-tool?tool_url={quote(link, safe='')}")
    frame = page.frame_locator("#tool")
    expect(frame.locator("code").first).to_have_text(lms.issuer)
    frame.get_by_role("button", name="Register Rubric").click()
    expect(page.locator("#status")).to_have_text("closed")
    db.session.remove()
    stored = db.session.scalar(sa.select(LtiPlatform).filter_by(issuer=lms.issuer))
    assert stored is not None and stored.client_id == "dynamic-client-1"
