"""The login state bound to the browser: cookie, the platform's postMessage storage, new window.

The login's pages are read as a browser's script would read them (their data-* values);
the script itself runs in tests/browser/test_lti_blocked_cookies.py.
"""

import html
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.lti import platforms
from server.models import Course, LtiLoginState, LtiNonce, LtiUser
from server.security import SettingError
from server.web.lti import PLAIN_STATE_COOKIE, PROBE_COOKIE, STATE_COOKIE
from tests.conftest import make_app

TARGET = "http://localhost/lti/launch"
FRAMED = {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "cross-site"}
FROM_RUBRIC = {"Sec-Fetch-Site": "same-origin"}  # a post by Rubric's own page


@pytest.fixture
def course(app, platform):
    """A Rubric course linked to the platform's LMS course."""
    found = Course(slug="ml101", title="ML 101")
    db.session.add(found)
    db.session.commit()
    platforms.link_context(platform.issuer, "lms-course-1", found)
    return found


class Page(HTMLParser):
    """The data-* values of #lti-state, and the new-window link of a login page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self.new_window = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id") == "lti-state":
            self.data = {k[5:]: v for k, v in attributes.items() if k.startswith("data-")}
        if tag == "a" and attributes.get("target") == "_blank":
            self.new_window = attributes["href"]


def login(client, platform, headers=FRAMED, **params):
    """Start a login as the LMS's iframe does; the answer and its page."""
    query = {
        "iss": platform.issuer,
        "login_hint": "student-1",
        "target_link_uri": TARGET,
        "lti_message_hint": "hint-1",
    } | params
    answer = client.get("/lti/login", query_string=query, headers=headers)
    return answer, Page(answer.text)


def auth_of(page: Page) -> dict[str, str]:
    """The state and nonce in the page's link to the platform's authorization."""
    return {k: v[0] for k, v in parse_qs(urlsplit(page.data["auth-url"]).query).items()}


def token_for(platform, auth: dict[str, str], **claims) -> str:
    return platform.sign(platform.claims(auth["nonce"], TARGET, **claims))


def post_launch(client, form: dict[str, str], headers=None):
    """A launch post with no state cookie: third-party cookies blocked."""
    client.delete_cookie(STATE_COOKIE, path="/lti/")
    client.delete_cookie(PLAIN_STATE_COOKIE, path="/lti/")
    return client.post("/lti/launch", data=form, headers=headers or {})


def unused(auth: dict[str, str]) -> bool:
    """Neither the login's state nor its nonce was used up."""
    db.session.remove()
    state = db.session.get(LtiLoginState, auth["state"])
    return state is not None and db.session.get(LtiNonce, auth["nonce"]) is None


def refused(response, reason: str) -> None:
    assert response.status_code == 400, response.text
    assert reason in html.unescape(response.text), response.text


def test_a_top_level_login_redirects_at_once(client, platform):
    answer, _ = login(client, platform, headers={"Sec-Fetch-Dest": "document"})
    assert answer.status_code == 302
    assert answer.location.startswith(f"{platform.jwks.base}/auth?")


def state_cookies(answer) -> dict[str, str]:
    """The login cookies an answer sets, by name: their attributes."""
    cookies = {}
    for cookie in answer.headers.getlist("Set-Cookie"):
        name, _, rest = cookie.partition("=")
        cookies[name] = rest
    return cookies


def test_over_plain_http_the_state_is_also_in_a_cookie_without_secure(client, platform, course):
    # HTTP libraries (and browsers off localhost) drop Secure cookies over http.
    answer, _ = login(client, platform, headers={})
    plain = state_cookies(answer)[PLAIN_STATE_COOKIE]
    assert "Secure" not in plain and "HttpOnly" in plain and "Path=/lti/" in plain
    auth = {k: v[0] for k, v in parse_qs(urlsplit(answer.location).query).items()}
    client.delete_cookie(STATE_COOKIE, path="/lti/")  # only the plain one comes back
    form = {"id_token": token_for(platform, auth), "state": auth["state"]}
    assert client.post("/lti/launch", data=form).status_code == 302
    https = client.get("/lti/login", base_url="https://localhost", query_string={
        "iss": platform.issuer, "login_hint": "x", "target_link_uri": TARGET
    })  # fmt: skip
    assert set(state_cookies(https)) == {STATE_COOKIE}


def test_a_swapped_plain_cookie_is_refused(app, client, platform, course):
    _, theirs = login(app.test_client(), platform)
    login(client, platform)  # the victim's own login, its cookies
    client.delete_cookie(STATE_COOKIE, path="/lti/")
    auth = auth_of(theirs)
    form = {"id_token": token_for(platform, auth), "state": auth["state"]}
    refused(client.post("/lti/launch", data=form), "swapped state")


def test_a_framed_login_checks_cookies_and_offers_a_new_window(client, platform):
    answer, page = login(client, platform, client_id=platform.client_id)
    assert answer.status_code == 200
    assert page.data["mode"] == "login"
    assert page.data["auth-url"].startswith(f"{platform.jwks.base}/auth?")
    cookies = answer.headers.getlist("Set-Cookie")
    probe = next(c for c in cookies if c.startswith(f"{PROBE_COOKIE}="))
    assert "HttpOnly" not in probe and "Partitioned" in probe  # read by the page's script
    assert any(c.startswith(f"{STATE_COOKIE}=") and "HttpOnly" in c for c in cookies)
    # The new window starts the same login again, at top level.
    link = urlsplit(page.new_window)
    assert link.path == "/lti/login"
    assert parse_qs(link.query) == {
        "iss": [platform.issuer],
        "login_hint": ["student-1"],
        "target_link_uri": [TARGET],
        "client_id": [platform.client_id],
        "lti_message_hint": ["hint-1"],
    }


def test_a_login_with_platform_storage_names_its_frame_and_origin(client, platform):
    _, page = login(client, platform, lti_storage_target="post_message_forwarding")
    assert page.data["storage-target"] == "post_message_forwarding"
    assert page.data["platform-origin"] == platform.jwks.base  # its OIDC auth origin
    assert auth_of(page)["state"] in page.data["storage-key"]
    assert len(page.data["storage-value"]) == 64
    assert "lti_storage_target" not in page.new_window  # no platform frame around it


def test_no_cookie_asks_the_storage_then_the_stored_value_launches(client, platform, course):
    _, page = login(client, platform, lti_storage_target="_parent")
    auth = auth_of(page)
    form = {"id_token": token_for(platform, auth), "state": auth["state"]}

    asking = post_launch(client, form, FRAMED)
    assert asking.status_code == 200
    assert Page(asking.text).data == {
        "mode": "launch",
        "platform-origin": platform.jwks.base,
        "storage-key": page.data["storage-key"],
        "probe-cookie": PROBE_COOKIE,
    }
    assert unused(auth)

    stored = form | {"lti_storage_value": page.data["storage-value"]}
    done = post_launch(client, stored, FROM_RUBRIC)
    assert done.status_code == 302 and done.location == "/courses/ml101"
    assert client.get("/courses/ml101").status_code == 200  # logged in


def test_a_value_stored_by_another_login_is_a_swapped_state(app, client, platform, course):
    _, mine = login(client, platform, lti_storage_target="_parent")
    _, theirs = login(app.test_client(), platform, lti_storage_target="_parent")
    auth = auth_of(theirs)  # the attacker's own login and token
    form = {"id_token": token_for(platform, auth), "state": auth["state"]}
    response = post_launch(
        client, form | {"lti_storage_value": mine.data["storage-value"]}, FROM_RUBRIC
    )
    refused(response, "swapped state")
    assert unused(auth)


def test_an_empty_storage_answer_is_refused_and_uses_nothing_up(client, platform, course):
    _, page = login(client, platform)  # a platform without storage
    auth = auth_of(page)
    form = {"id_token": token_for(platform, auth), "state": auth["state"]}
    response = post_launch(client, form | {"lti_storage_value": ""}, FROM_RUBRIC)
    refused(response, "the platform's storage does not hold this login")
    assert unused(auth)


def test_a_stored_value_posted_by_another_site_is_refused(client, platform, course):
    # Another site could post any value it read from its own browser's storage.
    _, page = login(client, platform, lti_storage_target="_parent")
    auth = auth_of(page)
    form = {"id_token": token_for(platform, auth), "state": auth["state"]}
    stored = form | {"lti_storage_value": page.data["storage-value"]}
    refused(post_launch(client, stored, FRAMED), "did not come from Rubric's page")
    origin = {"Origin": "https://evil.example"}
    refused(post_launch(client, stored, origin), "did not come from Rubric's page")
    assert unused(auth)
    # Browsers without Fetch Metadata send Origin: Rubric's own is accepted.
    done = post_launch(client, stored, {"Origin": "http://localhost"})
    assert done.status_code == 302


def test_no_cookie_with_a_bad_token_is_refused_before_asking_the_storage(client, platform, course):
    _, page = login(client, platform)
    auth = auth_of(page)
    form = {"id_token": token_for(platform, auth, aud="another-tool"), "state": auth["state"]}
    refused(post_launch(client, form, FRAMED), "wrong audience")
    refused(post_launch(client, {"state": auth["state"]}, FRAMED), "no id_token")
    unknown = {"id_token": token_for(platform, auth), "state": "made-up"}
    refused(post_launch(client, unknown, FRAMED), "unknown or already used state")


def test_a_replay_without_cookie_is_refused(client, platform, course):
    answer, page = login(client, platform)
    auth = auth_of(page)
    form = {"id_token": token_for(platform, auth), "state": auth["state"]}
    cookie = {"Cookie": f"{STATE_COOKIE}={auth['state']}"}
    assert client.post("/lti/launch", data=form, headers=cookie).status_code == 302
    refused(post_launch(client, form, FRAMED), "replayed launch")


def rate_limited_client(app, rate: str):
    limited = make_app(app.config["SQLALCHEMY_DATABASE_URI"], RUBRIC_LTI_RATE=rate)
    return limited, limited.test_client()


def test_logins_and_launches_are_rate_limited_per_address(app, platform):
    limited, client = rate_limited_client(app, "2/minute")
    try:
        for _ in range(2):
            assert login(client, platform, headers={})[0].status_code == 302
        answer, _ = login(client, platform, headers={})
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) > 0
        assert "Too many launches" in answer.text
        other = {"REMOTE_ADDR": "10.0.0.2"}  # another address has its own count
        query = {"iss": platform.issuer, "login_hint": "x", "target_link_uri": TARGET}
        elsewhere = client.get("/lti/login", query_string=query, environ_base=other)
        assert elsewhere.status_code == 302
        for _ in range(2):
            assert client.post("/lti/launch", data={}).status_code == 400
        assert client.post("/lti/launch", data={}).status_code == 429
    finally:
        with limited.app_context():
            db.engine.dispose()


def test_the_rate_limit_can_be_switched_off(app, platform):
    limited, client = rate_limited_client(app, "off")
    try:
        for _ in range(5):
            assert login(client, platform, headers={})[0].status_code == 302
    finally:
        with limited.app_context():
            db.engine.dispose()


def test_no_account_is_made_by_a_refused_launch(client, platform, course):
    _, page = login(client, platform)
    auth = auth_of(page)
    post_launch(client, {"id_token": token_for(platform, auth), "state": auth["state"]})
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LtiUser)) == 0


def test_a_rate_that_is_no_limit_stops_the_start(app):
    # Flask-Limiter would log it and limit nothing.
    with pytest.raises(SettingError, match="RUBRIC_LTI_RATE: 'lots'"):
        make_app(app.config["SQLALCHEMY_DATABASE_URI"], RUBRIC_LTI_RATE="lots")
