"""Rubric inside an LMS's iframe, in chromium: log in and submit a quiz on another site's page.

Rubric is served on http://127.0.0.1:PORT and the "LMS" on http://localhost:PORT2: two
sites, so the browser applies its cross-site cookie rules (both hosts are secure
contexts to chromium, so Secure cookies work over plain http here).
"""

import re
import threading
from contextlib import ExitStack, contextmanager

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from server.extensions import db
from tests.conftest import make_app

from .test_quiz_in_browser import QUIZ, decay_factor_from_prompt, log_in

LOGIN_REFUSED = "The CSRF session token is missing."


@contextmanager
def serving(wsgi_app, host: str = "127.0.0.1"):
    """Serve a WSGI app from a background thread; yield its port."""
    server = make_server(host, 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class Lms:
    """The LMS: a WSGI app answering every path with a course page that frames Rubric."""

    rubric = ""  # Rubric's origin, known once Rubric is served

    def __call__(self, environ, start_response):
        html = (
            "<!doctype html><title>LMS course</title><h1>Week 3</h1>"
            f'<iframe id="rubric" src="{self.rubric}/login?next={QUIZ}" width="800"'
            ' height="900" title="Rubric"></iframe>'
        )
        return Response(html, mimetype="text/html")(environ, start_response)


@pytest.fixture
def framed(app, demo):
    """Serve two LMS origins, then Rubric with some settings; yield a starter.

    The starter takes Rubric's settings as a function of the listed LMS's origin and
    returns the course pages of the listed and of the unlisted LMS.
    """
    lms = Lms()
    with ExitStack() as stack:
        listed, unlisted = (stack.enter_context(serving(lms, "localhost")) for _ in range(2))

        def start(settings=lambda origin: {}):
            rubric = make_app(
                app.config["SQLALCHEMY_DATABASE_URI"], **settings(f"http://localhost:{listed}")
            )
            stack.callback(dispose, rubric)
            lms.rubric = f"http://127.0.0.1:{stack.enter_context(serving(rubric))}"
            return f"http://localhost:{listed}/course", f"http://localhost:{unlisted}/course"

        yield start


def dispose(rubric_app) -> None:
    with rubric_app.app_context():
        db.engine.dispose()


def lms_listed(origin: str) -> dict[str, str]:
    return {"RUBRIC_FRAME_ANCESTORS": origin}


def log_in_and_take_quiz(page, lms_url: str):
    """Log in inside the LMS's iframe as the demo student, then submit the quiz there."""
    page.goto(lms_url)
    frame = page.frame_locator("#rubric")
    frame.get_by_label("E-mail").fill("student@example.edu")
    frame.get_by_label("Password").fill("student")
    frame.get_by_role("button", name="Log in").click()
    return frame


@pytest.mark.browser
def test_log_in_and_submit_a_quiz_inside_the_lms_iframe(framed, browser):
    lms_url, _ = framed(lms_listed)
    page = browser.new_context(viewport={"width": 1000, "height": 1000}).new_page()
    page.set_default_timeout(10_000)

    frame = log_in_and_take_quiz(page, lms_url)

    expect(frame.locator("body")).not_to_contain_text(LOGIN_REFUSED)
    expect(frame.get_by_role("heading", name="L2 regularization")).to_be_visible()
    frame.locator("#q1-b").check()
    frame.locator("#q2-input").fill("0.998")
    frame.locator("#q3-b").check()
    frame.locator("#q4-a").check()
    frame.locator("#q4-b").check()
    frame.locator("#q5-input").fill(
        decay_factor_from_prompt(frame.locator("#q5 .q-prompt").inner_text())
    )
    frame.get_by_role("button", name="Submit answers").click()
    expect(frame.locator(".total")).to_have_text("Score: 5 / 5")
    assert re.search(r"/courses/demo/attempts/\d+$", page.frames[1].url)


@pytest.mark.browser
def test_with_no_lms_listed_the_iframe_is_refused(framed, browser):
    lms_url, _ = framed()
    assert_refused(browser, lms_url)


@pytest.mark.browser
def test_an_unlisted_site_may_not_frame_rubric(framed, browser):
    _, unlisted_url = framed(lms_listed)
    assert_refused(browser, unlisted_url)


def assert_refused(browser, lms_url: str) -> None:
    """The LMS page loads, but chromium refuses to show Rubric in its iframe."""
    page = browser.new_page()
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refusal:
        page.goto(lms_url)
    assert "The request has been blocked" in refusal.value.text
    expect(page.get_by_role("heading", name="Week 3")).to_be_visible()
    expect(page.frame_locator("#rubric").get_by_label("E-mail")).to_have_count(0)


@pytest.mark.browser
def test_pages_run_their_scripts_under_the_csp(live_server, browser):
    """KaTeX, CodeMirror and the pages' own scripts come from Rubric: the CSP blocks none."""
    page = browser.new_page()
    page.set_default_timeout(10_000)
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    log_in(page, live_server, "student@example.edu", "student")

    page.goto(live_server + QUIZ)
    expect(page.get_by_role("button", name="Submit answers")).to_be_visible()
    page.goto(live_server + "/courses/demo/assignments/l2-regularization")
    expect(page.locator(".CodeMirror")).to_contain_text("def l2_penalty")
    expect(page.locator(".prompt .katex").first).to_be_visible()  # the vendored KaTeX
    page.goto(live_server + "/account")
    expect(page.get_by_role("button", name="Log out all sessions")).to_be_visible()

    assert blocked == []
