"""Security headers on every answer, framing by the LMS only, cookie flags, trusted proxies."""

import pytest

from server.extensions import db
from server.security import SettingError
from tests.conftest import make_app

from .support import STUDENT, PageClient

LMS = "https://canvas.example.edu https://*.moodle.example.org:8443"
ANSWERS = {
    "page": "/login",
    "API": "/api/v1/openapi.json",
    "static file": "/static/style.css",
    "404 page": "/no-such-page",
    "API 404": "/api/v1/no-such-thing",
}


@pytest.fixture
def app_with(app, demo):
    """Build another app on the same database with some settings changed."""
    made = []

    def build(**settings):
        made.append(make_app(app.config["SQLALCHEMY_DATABASE_URI"], **settings))
        return PageClient(made[-1], made[-1].response_class)

    yield build
    for other in made:
        with other.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("path", ANSWERS.values(), ids=ANSWERS.keys())
def test_every_answer_has_the_security_headers(client, path):
    with client.get(path) as response:  # a static file's answer holds the file open
        headers = response.headers

    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'self'"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_lms_origins_may_frame_rubric(app_with, monkeypatch):
    monkeypatch.setenv("RUBRIC_FRAME_ANCESTORS", LMS)
    headers = app_with().get("/login").headers

    assert f"frame-ancestors 'self' {LMS}" in headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in headers  # it cannot name the LMS, and would forbid it


@pytest.mark.parametrize(
    "origin",
    [
        "canvas.example.edu",
        "https://canvas.example.edu/courses",
        "javascript:alert(1)",
        "'unsafe-inline'",
        "https://canvas.example.edu;script-src",
        "*",
    ],
)
def test_a_bad_frame_ancestor_refuses_to_start(app, origin):
    with pytest.raises(SettingError, match="RUBRIC_FRAME_ANCESTORS") as refused:
        make_app(app.config["SQLALCHEMY_DATABASE_URI"], RUBRIC_FRAME_ANCESTORS=origin)
    assert repr(origin) in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RUBRIC_TRUSTED_PROXIES", "-1"),
        ("RUBRIC_TRUSTED_PROXIES", "yes"),
        ("RUBRIC_SESSION_LIFETIME_HOURS", "0"),
        ("RUBRIC_SESSION_IDLE_MINUTES", "1.5"),
        ("RUBRIC_LOGIN_MAX_DELAY_SECONDS", ""),
    ],
)
def test_a_bad_number_refuses_to_start(app, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=f"{name}: {value!r} is not a whole number"):
        make_app(app.config["SQLALCHEMY_DATABASE_URI"])


def test_numbers_come_from_the_environment(app_with, monkeypatch):
    monkeypatch.setenv("RUBRIC_SESSION_IDLE_MINUTES", " 30 ")
    assert app_with().application.config["RUBRIC_SESSION_IDLE_MINUTES"] == 30


def cookie_flags(client: PageClient, path: str = "/login", **headers) -> set[str]:
    """The attributes of the session cookie an answer sets, lower-cased."""
    cookie = client.get(path, headers=headers).headers["Set-Cookie"]
    assert cookie.startswith("session=")
    return {part.strip().lower() for part in cookie.split(";")[1:]}


def test_cookie_is_lax_and_not_secure_over_plain_http(client):
    flags = cookie_flags(client)
    assert "samesite=lax" in flags and "httponly" in flags
    assert "secure" not in flags and "partitioned" not in flags


def test_cookie_works_in_a_cross_site_iframe_when_an_lms_is_listed(app_with):
    flags = cookie_flags(app_with(RUBRIC_FRAME_ANCESTORS=LMS))
    assert {"samesite=none", "secure", "partitioned", "httponly"} <= flags


def test_behind_a_trusted_tls_proxy_the_cookie_is_secure(app_with):
    proxied = app_with(RUBRIC_TRUSTED_PROXIES=1)
    assert "secure" in cookie_flags(proxied, X_Forwarded_Proto="https")
    assert "secure" not in cookie_flags(proxied, X_Forwarded_Proto="http")


def test_without_trusted_proxies_forwarded_headers_are_ignored(client):
    assert "secure" not in cookie_flags(client, X_Forwarded_Proto="https")


def fail_from(client: PageClient, address: str):
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    return client.login(STUDENT[0], "not the password")


def test_trusted_proxy_gives_the_throttle_the_clients_address(app_with):
    proxied = app_with(RUBRIC_TRUSTED_PROXIES=1, RUBRIC_LOGIN_FREE_ATTEMPTS_PER_ADDRESS=2)
    proxied.application.config["RUBRIC_LOGIN_FREE_ATTEMPTS"] = 100
    assert [fail_from(proxied, "203.0.113.5").status_code for _ in range(2)] == [200, 200]

    assert fail_from(proxied, "203.0.113.5").status_code == 429
    assert fail_from(proxied, "198.51.100.7").status_code == 200  # another student


def test_untrusted_forwarded_for_is_ignored_by_the_throttle(app_with):
    direct = app_with(RUBRIC_LOGIN_FREE_ATTEMPTS_PER_ADDRESS=2, RUBRIC_LOGIN_FREE_ATTEMPTS=100)
    assert fail_from(direct, "203.0.113.5").status_code == 200
    assert fail_from(direct, "198.51.100.7").status_code == 200

    # A client cannot dodge the throttle by naming a new address each time.
    assert fail_from(direct, "192.0.2.1").status_code == 429
