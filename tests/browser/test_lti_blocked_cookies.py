"""LTI launches in chromium when the LMS's iframe gets no cookies of Rubric at all.

The platform (tests/lti/platform_lti1p3.py) is served on http://localhost:PORT and frames
Rubric, on http://127.0.0.1:PORT2. The blocking browser has the cookie setting a user (or
Safari's ITP) makes: no cookies, Partitioned ones included, for Rubric's site inside the
LMS's site; at top level Rubric's cookies work. Every request reaching Rubric is recorded,
so the tests see that the state cookie really did not come back.
"""

import json
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from server.extensions import db
from server.models import LtiUser
from tests.lti.platform_lti1p3 import (
    User,
    form_fields,
    register_in_rubric,
    running_platform,
)

from .conftest import CHROMIUM, require_chromium, rubric_framed_by

EXERCISE = "l2-regularization"
STARTER = "raise NotImplementedError"  # on the exercise page of a logged-in student
STATE_COOKIE = "rubric_lti_state"


@dataclass
class Seen:
    """One request as it reached Rubric."""

    method: str
    path: str
    cookie: str
    site: str  # Sec-Fetch-Site
    dest: str  # Sec-Fetch-Dest


class Recorder:
    """A WSGI middleware that records each request's cookies and Fetch Metadata."""

    def __init__(self, app) -> None:
        self.app, self.seen = app, []

    def __call__(self, environ, start_response):
        self.seen.append(
            Seen(
                environ["REQUEST_METHOD"],
                environ["PATH_INFO"],
                environ.get("HTTP_COOKIE", ""),
                environ.get("HTTP_SEC_FETCH_SITE", ""),
                environ.get("HTTP_SEC_FETCH_DEST", ""),
            )
        )
        return self.app(environ, start_response)

    def launches(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == "/lti/launch"]


@pytest.fixture
def lms(app, demo, tmp_path):
    """The platform on localhost framing Rubric on 127.0.0.1, each request recorded."""
    with (
        running_platform(host="localhost") as platform,
        rubric_framed_by(platform, app, tmp_path, Recorder) as rubric,
    ):
        platform.recorder = rubric.served
        register_in_rubric(rubric.app, platform)
        platform.settings.custom = {"assignment": EXERCISE}
        yield platform


@pytest.fixture
def blocking(tmp_path):
    """Chromium blocking every cookie of 127.0.0.1 framed by localhost, Partitioned too."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    # A cookie exception (cookie site, top-level site), as chrome://settings/cookies adds.
    block = {"127.0.0.1,localhost": {"setting": 2}}
    preferences = {"profile": {"content_settings": {"exceptions": {"cookies": block}}}}
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            viewport={"width": 1000, "height": 1000},
        )
        context.set_default_timeout(15_000)
        yield context
        context.close()


def attackers_launch(lms) -> dict[str, str]:
    """A launch the attacker got from their own login, in their own browser."""
    victim = lms.settings.user
    lms.settings.user = User(sub="attacker", name="Mallory", email="mallory@lms.example")
    try:
        page = requests.Session().get(lms.start_url(), timeout=30)
    finally:
        lms.settings.user = victim
    return form_fields(page.text)


def post_from_another_site(page, fields: dict[str, str]):
    """The attacker's page makes the victim's browser post their launch to Rubric."""
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{fields[name]}">'
        for name in ("id_token", "state")
    )
    page.set_content(f'<form method="post" action="{fields["action"]}">{inputs}</form>')
    with page.expect_response(lambda r: r.url == fields["action"] and r.status == 400) as answer:
        page.evaluate("document.forms[0].submit()")
    return answer.value


def no_account_of(sub: str) -> bool:
    db.session.remove()  # read what the server's threads committed
    return db.session.scalar(sa.select(LtiUser).filter_by(sub=sub)) is None


@pytest.mark.browser
@pytest.mark.parametrize("target", ["lti_storage", "_parent"])  # a named frame, or the page
def test_blocked_cookies_launch_through_the_platforms_postmessage_storage(
    lms, blocking, target, screenshot
):
    lms.settings.storage_target = target
    page = blocking.new_page()
    page.goto(f"{lms.url}/course")
    frame = page.frame_locator("#tool")
    # The storage confirmed the launch; the log-in needs a window that keeps cookies.
    offer = frame.locator("#lti-new-window")
    expect(offer).to_contain_text("The learning platform confirmed this launch is yours")
    screenshot(page, f"lti-storage-new-window-{target.strip('_')}")

    with blocking.expect_page() as opened:
        offer.get_by_role("button", name="Open Rubric in a new window").click()
    window = opened.value
    expect(window.locator(".CodeMirror")).to_contain_text(STARTER)
    assert window.url.endswith(f"/courses/demo/assignments/{EXERCISE}")
    login = next(seen for seen in lms.recorder.seen if seen.path == "/lti/login")
    assert login.dest == "iframe"
    # The platform's post in the frame, then the page's post of the value it read back.
    launches = lms.recorder.launches()
    assert [(seen.site, seen.dest) for seen in launches] == [
        ("cross-site", "iframe"),
        ("same-origin", "document"),
    ]
    assert all(STATE_COOKIE not in seen.cookie for seen in launches)


@pytest.mark.browser
def test_without_platform_storage_a_new_window_launches(lms, blocking, screenshot):
    page = blocking.new_page()
    page.goto(f"{lms.url}/course")
    frame = page.frame_locator("#tool")
    offer = frame.locator("#lti-new-window")
    expect(offer).to_contain_text("blocks Rubric's cookies inside the learning platform")
    screenshot(page, "lti-login-new-window")
    assert lms.recorder.launches() == []  # nothing launched in the frame

    with blocking.expect_page() as opened:
        offer.get_by_role("link", name="Open Rubric in a new window").click()
    window = opened.value
    expect(window.locator(".CodeMirror")).to_contain_text(STARTER)
    assert window.url.endswith(f"/courses/demo/assignments/{EXERCISE}")
    (launch,) = lms.recorder.launches()
    assert launch.dest == "document" and STATE_COOKIE in launch.cookie


@pytest.mark.browser
def test_a_launch_from_another_browsers_login_is_refused_without_a_cookie(lms, blocking):
    theirs = attackers_launch(lms)
    page = blocking.new_page()  # the victim: no login cookie of Rubric at all

    answer = post_from_another_site(page, theirs)

    assert "does not hold this login" in answer.text()
    expect(page.locator(".lti-reason")).to_be_visible()
    assert no_account_of("attacker")


@pytest.mark.browser
def test_a_swapped_state_is_refused_by_the_victims_cookie(lms, browser):
    victim = browser.new_context()
    victim.set_default_timeout(15_000)
    page = victim.new_page()
    # The victim's own login is under way: Rubric set its state cookie, the LMS is down.
    login = {"iss": lms.issuer, "login_hint": "lms-user-1", "client_id": "rubric-client"}
    login["target_link_uri"] = f"{lms.tool_base}/lti/launch"
    lms.server.stop()
    try:
        with pytest.raises(PlaywrightError, match="ERR_CONNECTION_REFUSED"):
            page.goto(f"{lms.tool_base}/lti/login?{urlencode(login)}")
    finally:
        lms.server.start()
    assert any(c["name"] == STATE_COOKIE for c in victim.cookies())
    theirs = attackers_launch(lms)

    answer = post_from_another_site(page, theirs)

    assert "swapped state" in answer.text()
    assert no_account_of("attacker")
    victim.close()
