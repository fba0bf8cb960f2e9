"""LTI Dynamic Registration against the test platform over HTTP.

Rubric is served on 127.0.0.1, the platform (lti1p3platform plus the registration
endpoints of platform_registration.py) on localhost: the administrator makes a link
with `rubric lti platform register-url`, the LMS opens it with its configuration URL
and token, the confirmation posts Rubric's registration, and the platform's next
launch lands logged in.
"""

from urllib.parse import urljoin

import pytest
import requests
import sqlalchemy as sa

from server.extensions import db
from server.lti import registration
from server.models import LtiPlatform

from .platform_lti1p3 import form_fields, rubric_cli, running_platform
from .platform_registration import DynamicRegistration
from .test_platform_launch import QUIZ, launch, refusal


@pytest.fixture
def rubric(app, demo, tmp_path):
    """Rubric served on its demo database; its commands print URLs under its address."""
    from server.lti.launch import forget_key_sets

    app.config["RUBRIC_LTI_KEY_DIR"] = str(tmp_path / "lti-keys")
    app.config["RUBRIC_LTI_HTTP_TIMEOUT"] = 1.0
    forget_key_sets()
    from .platform_lti1p3 import serving

    with serving(app) as url:
        app.config["RUBRIC_BASE_URL"] = url
        yield url
    forget_key_sets()


@pytest.fixture
def lms(rubric):
    """The test platform with its Dynamic Registration endpoints; not registered yet."""
    with running_platform(rubric) as platform:
        platform.dynamic = DynamicRegistration(platform)
        yield platform


def register_url(app) -> str:
    """The administrator's one-time link, from `rubric lti platform register-url`."""
    result = app.test_cli_runner().invoke(args=["lti", "platform", "register-url"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def open_registration(url: str, params: dict[str, str]) -> requests.Response:
    """The LMS opens the tool's registration URL with its own parameters."""
    return requests.get(url, params=params, timeout=30)


def confirm(page: requests.Response) -> requests.Response:
    """The administrator presses "Register Rubric" on the confirmation page."""
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    action = urljoin(page.url, fields.pop("action"))
    return requests.post(action, data=fields, timeout=30)


def stored_platforms() -> list[LtiPlatform]:
    db.session.remove()  # read what the server's threads committed
    return list(db.session.scalars(sa.select(LtiPlatform)))


def test_dynamic_registration_end_to_end_then_a_launch_works(app, rubric, lms):
    page = open_registration(register_url(app), lms.dynamic.start_params())
    assert lms.issuer in page.text
    done = confirm(page)
    assert done.status_code == 200, done.text
    assert "lti-register-close.js" in done.text
    script = requests.get(f"{rubric}/static/lti-register-close.js", timeout=10).text
    assert "org.imsglobal.lti.close" in script and "postMessage" in script
    [stored] = stored_platforms()
    assert (stored.issuer, stored.client_id) == (lms.issuer, "dynamic-client-1")
    assert [d.deployment_id for d in stored.deployments] == ["dynamic-deployment-1"]
    assert (stored.auth_login_url, stored.keyset_url) == (f"{lms.url}/auth", f"{lms.url}/jwks")
    assert stored.auth_token_url == f"{lms.url}/token"
    rubric_cli(app, "lti", "context", "link", "--issuer", lms.issuer,
               "--context-id", lms.settings.context_id, "demo")  # fmt: skip
    lms.settings.custom = {"assignment": QUIZ}
    answer = launch(lms)
    assert answer.status_code == 200, answer.text
    assert answer.url == f"{rubric}/courses/demo/assignments/{QUIZ}"


def test_the_registration_request_carries_what_the_spec_asks(app, lms):
    confirm(open_registration(register_url(app), lms.dynamic.start_params()))
    [sent] = lms.dynamic.requests
    tool = sent[registration.TOOL_CONFIGURATION]
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"].split()
    assert [m["type"] for m in tool["messages"]] == [
        "LtiResourceLinkRequest",
        "LtiDeepLinkingRequest",
    ]


def test_a_link_works_once(app, lms):
    url = register_url(app)
    assert confirm(open_registration(url, lms.dynamic.start_params())).status_code == 200
    again = open_registration(url, lms.dynamic.start_params())
    refusal(again, "already used")
    assert len(stored_platforms()) == 1


def test_registering_the_same_client_again_updates_it_not_doubles_it(app, lms):
    lms.dynamic.same_client = True  # the LMS re-registers an existing tool
    for _ in range(2):
        done = confirm(open_registration(register_url(app), lms.dynamic.start_params()))
        assert done.status_code == 200, done.text
    assert "Updated" in done.text
    [stored] = stored_platforms()
    assert [d.deployment_id for d in stored.deployments] == ["dynamic-deployment-1"]


@pytest.mark.parametrize(
    "code",
    ["", "not-a-code", registration.make_code("another app's secret key")],
    # Named, not shown: the signed code has a timestamp, and every xdist worker collects.
    ids=["missing", "not-a-code", "signed-with-another-key"],
)
def test_a_missing_or_forged_code_is_refused(rubric, lms, code):
    params = lms.dynamic.start_params() | {"code": code}
    refusal(open_registration(f"{rubric}/lti/register", params), "code")
    refusal(requests.post(f"{rubric}/lti/register", data=params, timeout=30), "code")
    assert stored_platforms() == []
    assert lms.dynamic.requests == []  # nothing was sent to the platform


def test_a_bad_registration_token_is_refused(app, lms):
    params = lms.dynamic.start_params() | {"registration_token": "guessed"}
    refusal(open_registration(register_url(app), params), "HTTP 401")
    assert stored_platforms() == []


def test_a_registration_the_platform_refuses_is_a_400_and_the_link_still_works(app, lms):
    url = register_url(app)
    page = open_registration(url, lms.dynamic.start_params())
    lms.dynamic.token_expired = True  # between the confirmation page and the button
    refusal(confirm(page), "registration endpoint answered HTTP 401")
    assert stored_platforms() == []
    lms.dynamic.token_expired = False
    assert confirm(open_registration(url, lms.dynamic.start_params())).status_code == 200
    assert len(stored_platforms()) == 1


def test_a_configuration_whose_issuer_does_not_match_its_url_is_refused(app, lms):
    lms.dynamic.config_issuer = lms.url.replace("localhost", "127.0.0.1")
    refusal(open_registration(register_url(app), lms.dynamic.start_params()), "does not match")
    assert stored_platforms() == []


def test_an_unreachable_configuration_url_is_a_400_page(app, lms):
    params = lms.dynamic.start_params()
    lms.server.stop()
    try:
        refusal(open_registration(register_url(app), params), "could not be reached")
    finally:
        lms.server.start()


@pytest.mark.parametrize(
    "config_url",
    ["file:///etc/passwd", "gopher://localhost/", "http://internal.example/config", "x"],
)
def test_only_https_configuration_urls_are_fetched(app, lms, config_url):
    params = lms.dynamic.start_params() | {"openid_configuration": config_url}
    refusal(open_registration(register_url(app), params), "not an https URL")


def test_a_configuration_that_does_not_answer_in_time_is_a_400_page(app, lms):
    lms.dynamic.config_delay = 3  # RUBRIC_LTI_HTTP_TIMEOUT is 1 s here
    refusal(open_registration(register_url(app), lms.dynamic.start_params()), "did not answer")


def test_an_oversized_configuration_is_refused(app, lms):
    lms.dynamic.config_extra = {"padding": "x" * 300_000}
    refusal(open_registration(register_url(app), lms.dynamic.start_params()), "larger than")
