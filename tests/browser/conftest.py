"""A live server on a free loopback port, and Debian's chromium driven by Playwright."""

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from server.config import PROJECT_ROOT
from server.extensions import db
from tests.conftest import make_app, unavailable

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture
def live_server(app, demo):
    """Serve the app, on its migrated and seeded database, from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@dataclass(frozen=True)
class Framed:
    """Rubric served for a platform to frame: its app, its URL, and the WSGI app served."""

    app: object
    url: str
    served: object


@contextmanager
def rubric_framed_by(platform, app, tmp_path, wrap=lambda rubric: rubric):
    """Serve Rubric (the test's database) on 127.0.0.1, framed by the platform's origin.

    wrap(rubric) is what is served, e.g. a middleware that records requests.
    """
    from server.lti.launch import forget_key_sets
    from tests.lti.platform_lti1p3 import serving

    forget_key_sets()  # a port reused from an earlier test must not reuse its keys
    rubric = make_app(
        app.config["SQLALCHEMY_DATABASE_URI"],
        RUBRIC_FRAME_ANCESTORS=platform.url,
        RUBRIC_LTI_KEY_DIR=str(tmp_path / "lti-keys"),
    )
    served = wrap(rubric)
    try:
        with serving(served) as url:
            platform.tool_base = url
            yield Framed(rubric, url, served)
    finally:
        with rubric.app_context():
            db.engine.dispose()
        forget_key_sets()


def require_chromium(path: Path = CHROMIUM) -> None:
    """Fail when chromium is missing on CI, where it must be; skip elsewhere."""
    if path.exists():
        return
    unavailable(f"{path} is missing: install Debian's chromium (apt-get install chromium)")


@pytest.fixture
def browser():
    """Launch the system chromium; never a downloaded one."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/ for a person to review."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take
