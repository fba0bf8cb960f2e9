"""The OAuth2 client-credentials token and service calls, against the real test platform.

Rubric is served over HTTP so the platform can fetch its key set and check the signed
client assertion; every answer below is the platform's own.
"""

import time

import jwt
import pytest

from server.lti import services
from server.lti.platforms import find_platform
from server.models import LtiPlatform

from .platform_lti1p3 import (
    AGS,
    CLIENT_ASSERTION_TYPE,
    register_in_rubric,
    running_platform,
    serving,
)

SCORE = AGS + "score"
LINEITEM = AGS + "lineitem"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"


@pytest.fixture
def rubric(app, demo, tmp_path):
    """Rubric served on 127.0.0.1 (its JWKS), with a fresh key folder and token cache."""
    app.config["RUBRIC_LTI_KEY_DIR"] = str(tmp_path / "lti-keys")
    app.config["RUBRIC_LTI_HTTP_TIMEOUT"] = 1.0
    services.forget_tokens()
    with serving(app) as url:
        yield url
    services.forget_tokens()


@pytest.fixture
def lms(app, rubric):
    """The platform, registered in Rubric, with its line item for resource-link-1."""
    with running_platform(rubric) as platform:
        register_in_rubric(app, platform)
        platform.lineitem_url("resource-link-1")
        yield platform


def registered(lms) -> LtiPlatform:
    """Rubric's registration of the test platform."""
    return find_platform(lms.issuer, lms.settings.client_id)


def token_requests(lms) -> list[dict]:
    """The token requests the platform received."""
    return [form for kind, form in lms.received if kind == "token"]


def post_score(lms, given: float = 3):
    """Post one score for the launching user through services.call."""
    url = lms.lineitem_url("resource-link-1") + "/scores"
    score = {"userId": "lms-user-1", "scoreGiven": given, "scoreMaximum": 5}
    return services.call(registered(lms), "POST", url, [SCORE], json=score, content_type=SCORE_TYPE)


def test_access_token_is_granted_for_a_signed_assertion(lms, app):
    token = services.access_token(registered(lms), [SCORE, LINEITEM])
    assert lms.config().validate_token(token, [SCORE])
    (form,) = token_requests(lms)
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert set(form["scope"].split()) == {SCORE, LINEITEM}
    claims = jwt.decode(form["client_assertion"], options={"verify_signature": False})
    assert claims["iss"] == claims["sub"] == lms.settings.client_id
    assert claims["aud"] == f"{lms.url}/token"
    assert 0 < claims["exp"] - claims["iat"] <= 300
    header = jwt.get_unverified_header(form["client_assertion"])
    assert header["alg"] == "RS256" and header["kid"]


def test_token_is_cached_per_scopes(lms):
    platform = registered(lms)
    first = services.access_token(platform, [SCORE])
    assert services.access_token(platform, [SCORE]) == first
    assert len(token_requests(lms)) == 1
    services.access_token(platform, [LINEITEM])
    assert len(token_requests(lms)) == 2


def test_each_assertion_has_its_own_jti(lms):
    services.access_token(registered(lms), [SCORE])
    services.forget_tokens()
    services.access_token(registered(lms), [SCORE])
    jtis = [
        jwt.decode(form["client_assertion"], options={"verify_signature": False})["jti"]
        for form in token_requests(lms)
    ]
    assert len(set(jtis)) == 2


def test_call_posts_a_score_with_its_content_type(lms):
    assert post_score(lms).status_code == 204
    assert lms.scores == [
        ("item-resource-link-1", {"userId": "lms-user-1", "scoreGiven": 3, "scoreMaximum": 5})
    ]


def test_revoked_token_is_replaced_and_the_call_retried_once(lms):
    post_score(lms, 1)
    issued = jwt.decode(
        services.access_token(registered(lms), [SCORE]), options={"verify_signature": False}
    )["iat"]
    # The platform's iat has whole seconds: revoke that second, then let it pass.
    lms.settings.knobs.tokens_revoked_before = issued + 1
    while time.time() < issued + 1:
        time.sleep(0.05)
    assert post_score(lms, 2).status_code == 204
    assert [score["scoreGiven"] for _, score in lms.scores] == [1, 2]
    assert len(token_requests(lms)) == 2


def test_unavailable_service_is_a_retryable_error(lms):
    lms.settings.knobs.service_status = 503
    with pytest.raises(services.ServiceError) as caught:
        post_score(lms)
    assert (caught.value.status, caught.value.retryable) == (503, True)


def test_unknown_line_item_is_a_permanent_error(lms):
    url = f"{lms.url}/lineitems/no-such-item/scores"
    with pytest.raises(services.ServiceError) as caught:
        services.call(registered(lms), "POST", url, [SCORE], json={}, content_type=SCORE_TYPE)
    assert (caught.value.status, caught.value.retryable) == (404, False)


def test_platform_down_is_a_retryable_error(lms):
    lms.server.stop()
    with pytest.raises(services.ServiceError) as caught:
        post_score(lms)
    assert (caught.value.status, caught.value.retryable) == (None, True)
    lms.server.start()
    assert post_score(lms).status_code == 204


def test_slow_platform_times_out_as_a_retryable_error(lms, app):
    services.access_token(registered(lms), [SCORE])
    lms.settings.knobs.service_delay = 3 * app.config["RUBRIC_LTI_HTTP_TIMEOUT"]
    with pytest.raises(services.ServiceError) as caught:
        post_score(lms)
    assert caught.value.retryable
    assert "timed out" in str(caught.value).lower()
