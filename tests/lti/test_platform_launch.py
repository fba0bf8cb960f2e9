"""Launches from the real test LTI platform (lti1p3platform over HTTP).

First the platform itself, against a stand-in tool that only publishes its keys: its
id_tokens verify with PyJWT against its JWKS, its knobs break exactly one thing, its
token endpoint checks the tool's signed assertion.
"""

import json
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from werkzeug.wrappers import Request, Response

from server.extensions import db
from server.models import Enrollment, LtiUser, Role

from .platform_lti1p3 import (
    CLIENT_ASSERTION_TYPE,
    INSTRUCTOR,
    NRPS_SCOPE,
    User,
    form_fields,
    new_private_key,
    public_pem,
    register_in_rubric,
    running_platform,
    serving,
)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


class ToolKeys:
    """A stand-in tool's key set, for testing the platform on its own."""

    def __init__(self) -> None:
        self.key = new_private_key()
        self.kid = "tool-key-1"
        self.url = ""

    def __call__(self, environ, start_response):
        """Serve /lti/jwks.json, as the tool does."""
        if Request(environ).path != "/lti/jwks.json":
            return Response(status=404)(environ, start_response)
        public = serialization.load_pem_public_key(public_pem(self.key).encode())
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        keys = {"keys": [jwk | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}
        return Response(json.dumps(keys), mimetype="application/json")(environ, start_response)


@pytest.fixture
def tool_keys():
    """A stand-in tool on 127.0.0.1 that only publishes its key set."""
    keys = ToolKeys()
    with serving(keys) as url:
        keys.url = url
        yield keys


@pytest.fixture
def bare_platform(tool_keys):
    """The platform on localhost, registered with the stand-in tool."""
    with running_platform(tool_keys.url) as platform:
        yield platform


def login_request(platform) -> dict[str, str]:
    """Follow a click on the activity to the tool's login URL; return its parameters."""
    answer = requests.get(platform.start_url(), allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}".endswith("/lti/login")
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def authorize(platform, login: dict[str, str], **changes) -> requests.Response:
    """Send the tool's OIDC authorization request to the platform, as a browser would."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": login["client_id"],
        "redirect_uri": login["target_link_uri"],
        "login_hint": login["login_hint"],
        "lti_message_hint": login["lti_message_hint"],
        "state": "state-1",
        "nonce": "nonce-1",
    }
    return requests.get(f"{platform.url}/auth", params=params | changes, timeout=10)


def id_token(platform) -> str:
    """A launch's id_token, as posted by the platform's form."""
    answer = authorize(platform, login_request(platform))
    assert answer.status_code == 200, answer.text
    fields = form_fields(answer.text)
    assert fields["action"] == platform.registration().get_launch_url()
    assert fields["state"] == "state-1"
    return fields["id_token"]


def verify(platform, token: str) -> dict:
    """Verify an id_token as a tool must: the platform's JWKS, RS256, iss, aud, exp."""
    key = jwt.PyJWKClient(f"{platform.url}/jwks").get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=platform.settings.client_id,
        issuer=platform.issuer,
    )


def test_login_initiation_names_the_platform_and_the_launch(bare_platform):
    login = login_request(bare_platform)
    assert login["iss"] == bare_platform.issuer
    assert login["client_id"] == "rubric-client"
    assert login["lti_deployment_id"] == "deployment-1"
    assert login["login_hint"] == "lms-user-1"
    assert login["target_link_uri"].endswith("/lti/launch")


def test_id_token_verifies_against_the_platform_jwks(bare_platform):
    bare_platform.settings.user.roles = [INSTRUCTOR]
    bare_platform.settings.custom = {"assignment": "gd"}
    claims = verify(bare_platform, id_token(bare_platform))
    assert claims["nonce"] == "nonce-1"
    assert claims["sub"] == "lms-user-1"
    assert claims["name"] == "Ada Lovelace"
    assert claims[LTI + "roles"] == [INSTRUCTOR]
    assert claims[LTI + "message_type"] == "LtiResourceLinkRequest"
    assert claims[LTI + "version"] == "1.3.0"
    assert claims[LTI + "deployment_id"] == "deployment-1"
    assert claims[LTI + "context"]["id"] == "lms-course-101"
    assert claims[LTI + "resource_link"]["id"] == "resource-link-1"
    assert claims[LTI + "custom"] == {"assignment": "gd"}


def test_forged_signature_names_the_published_kid_but_does_not_verify(bare_platform):
    bare_platform.settings.knobs.forge_signature = True
    token = id_token(bare_platform)
    assert jwt.get_unverified_header(token)["kid"] == bare_platform.kid
    with pytest.raises(jwt.InvalidSignatureError):
        verify(bare_platform, token)


def test_wrong_audience_knob(bare_platform):
    bare_platform.settings.knobs.audience = "someone-else"
    with pytest.raises(jwt.InvalidAudienceError):
        verify(bare_platform, id_token(bare_platform))


def test_expired_knob(bare_platform):
    bare_platform.settings.knobs.expires_in = -600
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(bare_platform, id_token(bare_platform))


def test_unknown_deployment_knob(bare_platform):
    bare_platform.settings.knobs.deployment_id = "deployment-never-registered"
    claims = verify(bare_platform, id_token(bare_platform))
    assert claims[LTI + "deployment_id"] == "deployment-never-registered"


def test_hanging_jwks_knob_times_a_client_out(bare_platform):
    bare_platform.settings.knobs.jwks_hang = True
    with pytest.raises(requests.Timeout):
        requests.get(f"{bare_platform.url}/jwks", timeout=0.5)


@pytest.mark.parametrize(
    "change", [{"redirect_uri": "http://127.0.0.1:9/steal"}, {"response_type": "code"}]
)
def test_authorization_refuses_a_request_a_platform_must_refuse(bare_platform, change):
    answer = authorize(bare_platform, login_request(bare_platform), **change)
    assert answer.status_code == 400
    assert list(change)[0] in answer.text


def assertion(platform, tool_keys, key: str | None = None, **changes) -> str:
    """A client assertion signed by the tool, as the IMS Security Framework asks."""
    now = int(time.time())
    claims = {
        "iss": platform.settings.client_id,
        "sub": platform.settings.client_id,
        "aud": f"{platform.url}/token",
        "iat": now,
        "exp": now + 300,
        "jti": f"jti-{now}",
    }
    headers = {"kid": tool_keys.kid}
    return jwt.encode(claims | changes, key or tool_keys.key, algorithm="RS256", headers=headers)


def request_token(platform, client_assertion: str, scope: str = SCORE_SCOPE) -> requests.Response:
    """The tool's client-credentials grant at the platform's token endpoint."""
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion,
        "scope": scope,
    }
    return requests.post(f"{platform.url}/token", data=form, timeout=10)


def test_token_endpoint_grants_a_token_for_the_tools_assertion(bare_platform, tool_keys):
    answer = request_token(bare_platform, assertion(bare_platform, tool_keys))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["scope"] == SCORE_SCOPE
    assert bare_platform.config().validate_token(body["access_token"], [SCORE_SCOPE])


BAD_ASSERTIONS = {
    "another key": lambda: {"key": new_private_key()},
    "wrong aud": lambda: {"aud": "https://elsewhere.example/token"},
    "wrong iss": lambda: {"iss": "not-the-client"},
    "expired": lambda: {"exp": int(time.time()) - 60},
}


@pytest.mark.parametrize("bad", BAD_ASSERTIONS)
def test_token_endpoint_refuses_a_bad_assertion(bare_platform, tool_keys, bad):
    change = BAD_ASSERTIONS[bad]()
    answer = request_token(bare_platform, assertion(bare_platform, tool_keys, **change))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"


def bearer(platform, tool_keys, scope: str) -> dict[str, str]:
    """An Authorization header with a token the platform granted for the scope."""
    answer = request_token(platform, assertion(platform, tool_keys), scope)
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_launch_offers_the_line_item_and_memberships(bare_platform):
    claims = verify(bare_platform, id_token(bare_platform))
    endpoint = claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
    assert endpoint["lineitem"] == f"{bare_platform.url}/lineitems/item-resource-link-1"
    assert SCORE_SCOPE in endpoint["scope"]
    nrps = claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"]
    assert nrps["context_memberships_url"] == f"{bare_platform.url}/memberships"


def test_scores_reach_the_gradebook_with_a_granted_token(bare_platform, tool_keys):
    lineitem = verify(bare_platform, id_token(bare_platform))[
        "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
    ]["lineitem"]
    score = {"userId": "lms-user-1", "scoreGiven": 7, "scoreMaximum": 10}
    headers = {"Content-Type": "application/vnd.ims.lis.v1.score+json"}
    refused = requests.post(f"{lineitem}/scores", json=score, headers=headers, timeout=10)
    assert refused.status_code == 401
    headers |= bearer(bare_platform, tool_keys, SCORE_SCOPE)
    answer = requests.post(f"{lineitem}/scores", json=score, headers=headers, timeout=10)
    assert answer.status_code == 204
    assert bare_platform.scores == [("item-resource-link-1", score)]


def test_memberships_need_the_nrps_scope(bare_platform, tool_keys):
    bare_platform.members.append(User(sub="lms-user-2", name="Grace", roles=[]))
    url = f"{bare_platform.url}/memberships"
    wrong = bearer(bare_platform, tool_keys, SCORE_SCOPE)
    assert requests.get(url, headers=wrong, timeout=10).status_code == 401
    right = bearer(bare_platform, tool_keys, NRPS_SCOPE)
    members = requests.get(url, headers=right, timeout=10).json()["members"]
    assert [member["user_id"] for member in members] == ["lms-user-1", "lms-user-2"]


# Rubric, the tool, served over HTTP on 127.0.0.1, launched from the platform on localhost.

QUIZ = "l2-regularization-quiz"


@pytest.fixture
def rubric(app, demo, tmp_path):
    """Serve Rubric's app on its demo database; the JWKS fetch times out within a second."""
    from server.lti.launch import forget_key_sets

    app.config["RUBRIC_LTI_KEY_DIR"] = str(tmp_path / "lti-keys")
    app.config["RUBRIC_LTI_HTTP_TIMEOUT"] = 1.0
    forget_key_sets()  # a port reused from an earlier test must not reuse its keys
    with serving(app) as url:
        yield url
    forget_key_sets()


@pytest.fixture
def lms(app, demo, rubric):
    """The platform, registered in Rubric with the CLI, its course linked to the demo course."""
    with running_platform(rubric) as platform:
        register_in_rubric(app, platform)
        platform.settings.custom = {"assignment": QUIZ}
        yield platform


def launch(platform, session: requests.Session | None = None) -> requests.Response:
    """Click the activity: follow the login redirects, then post the platform's form."""
    session = session or requests.Session()
    page = session.get(platform.start_url(), timeout=30)
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    assert "id_token" in fields, page.text
    return post_form(session, fields)


def post_form(session: requests.Session, fields: dict[str, str]) -> requests.Response:
    """The browser's submission of the platform's auto-submitting form."""
    data = {"id_token": fields["id_token"], "state": fields["state"]}
    return session.post(fields["action"], data=data, timeout=30)


def account(platform):
    """The Rubric user of the platform's launching user, and its demo-course role."""
    db.session.remove()  # read what the server's threads committed
    identity = db.session.scalar(
        sa.select(LtiUser).filter_by(issuer=platform.issuer, sub=platform.settings.user.sub)
    )
    assert identity is not None
    enrollment = db.session.scalar(sa.select(Enrollment).filter_by(user_id=identity.user_id))
    return identity.user, enrollment.role


def test_student_lands_logged_in_on_the_linked_assignment(lms, rubric):
    answer = launch(lms)
    assert answer.status_code == 200, answer.text
    assert answer.url == f"{rubric}/courses/demo/assignments/{QUIZ}"
    user, role = account(lms)
    assert (user.name, user.email, role) == ("Ada Lovelace", "ada@lms.example", Role.STUDENT)


def test_instructor_role_becomes_instructor(lms, rubric):
    lms.settings.user = User(sub="lms-teacher", name="Grace Hopper", roles=[INSTRUCTOR])
    assert launch(lms).status_code == 200
    assert account(lms)[1] == Role.INSTRUCTOR


def test_no_role_is_a_student(lms):
    lms.settings.user.roles = []
    assert launch(lms).status_code == 200
    assert account(lms)[1] == Role.STUDENT


def test_second_launch_reuses_the_account(lms):
    assert launch(lms).status_code == 200
    first = account(lms)[0].id
    assert launch(lms).status_code == 200
    assert account(lms)[0].id == first
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LtiUser)) == 1


def test_without_custom_assignment_the_launch_opens_the_course(lms, rubric):
    lms.settings.custom = {}
    lms.settings.resource_link_id = "resource-link-unbound"
    answer = launch(lms)
    assert answer.status_code == 200
    assert answer.url == f"{rubric}/courses/demo"


def refusal(answer: requests.Response, reason: str) -> None:
    """A refused launch: a 400 HTML page naming the reason."""
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith("text/html")
    assert reason in answer.text


ATTACKS = {
    "forged signature": (lambda knobs: setattr(knobs, "forge_signature", True), "signature"),
    "wrong aud": (lambda knobs: setattr(knobs, "audience", "someone-else"), "audience"),
    "expired": (lambda knobs: setattr(knobs, "expires_in", -600), "expired"),
    "unknown issuer": (
        lambda knobs: setattr(knobs, "token_issuer", "https://unknown.example"),
        "unknown issuer",
    ),
    "unknown deployment": (
        lambda knobs: setattr(knobs, "deployment_id", "deployment-never-registered"),
        "unknown deployment",
    ),
    "JWKS that hangs": (lambda knobs: setattr(knobs, "jwks_hang", True), "key set"),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_launch_is_refused_naming_the_reason(lms, attack):
    turn, reason = ATTACKS[attack]
    turn(lms.settings.knobs)
    refusal(launch(lms), reason)


def test_replayed_launch_is_refused(lms):
    assert launch(lms).status_code == 200
    refusal(post_form(requests.Session(), lms.launches[-1]), "already used")


def test_swapped_state_is_refused(lms):
    victim, attacker = requests.Session(), requests.Session()
    victim_form = form_fields(victim.get(lms.start_url(), timeout=30).text)
    attacker_form = form_fields(attacker.get(lms.start_url(), timeout=30).text)
    swapped = attacker_form | {"state": victim_form["state"]}
    refusal(post_form(attacker, swapped), "state")


def test_the_key_set_is_cached_and_fetched_again_for_a_new_kid(app, lms):
    app.config["RUBRIC_LTI_JWKS_COOLDOWN"] = 0  # the rotation follows at once here
    assert launch(lms).status_code == 200
    assert launch(lms).status_code == 200
    assert lms.jwks_fetches == 1
    lms.rotate_key()
    assert launch(lms).status_code == 200
    assert lms.jwks_fetches == 2


DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def deep_linking_response(platform, tool_keys, key: str | None = None, **changes) -> str:
    """The tool's signed LtiDeepLinkingResponse with one resource link and its line item."""
    now = int(time.time())
    claims = {
        "iss": platform.settings.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 300,
        "nonce": "dl-nonce",
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": "1.3.0",
        LTI + "deployment_id": platform.settings.deployment_id,
        DL + "content_items": [
            {
                "type": "ltiResourceLink",
                "title": "L2 regularization quiz",
                "custom": {"assignment": "l2-regularization-quiz"},
                "lineItem": {"label": "L2 quiz", "scoreMaximum": 5},
            }
        ],
    }
    headers = {"kid": tool_keys.kid}
    return jwt.encode(claims | changes, key or tool_keys.key, algorithm="RS256", headers=headers)


def test_deep_linking_request_and_response(bare_platform, tool_keys):
    bare_platform.settings.deep_linking = True
    claims = verify(bare_platform, id_token(bare_platform))
    assert claims[LTI + "message_type"] == "LtiDeepLinkingRequest"
    assert LTI + "resource_link" not in claims
    settings = claims[DL + "deep_linking_settings"]
    assert settings["accept_types"] == ["ltiResourceLink"]
    form = {"JWT": deep_linking_response(bare_platform, tool_keys)}
    answer = requests.post(settings["deep_link_return_url"], data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    assert bare_platform.content_items[0]["lineItem"] == {"label": "L2 quiz", "scoreMaximum": 5}


BAD_DEEP_LINKING = {
    "another key": lambda: {"key": new_private_key()},
    "wrong aud": lambda: {"aud": "https://elsewhere.example"},
    "wrong iss": lambda: {"iss": "not-the-client"},
    "other deployment": lambda: {LTI + "deployment_id": "deployment-2"},
}


@pytest.mark.parametrize("bad", BAD_DEEP_LINKING)
def test_deep_linking_response_is_refused_when_wrong(bare_platform, tool_keys, bad):
    token = deep_linking_response(bare_platform, tool_keys, **BAD_DEEP_LINKING[bad]())
    url = f"{bare_platform.url}/deep_link_return"
    assert requests.post(url, data={"JWT": token}, timeout=10).status_code == 400
    assert bare_platform.content_items == []


def test_platform_goes_down_and_comes_back_on_its_url(bare_platform, tool_keys):
    bare_platform.server.stop()
    with pytest.raises(requests.ConnectionError):
        request_token(bare_platform, assertion(bare_platform, tool_keys))
    bare_platform.server.start()
    assert request_token(bare_platform, assertion(bare_platform, tool_keys)).status_code == 200


def test_service_status_knob_makes_token_and_scores_fail(bare_platform, tool_keys):
    headers = bearer(bare_platform, tool_keys, SCORE_SCOPE)
    bare_platform.settings.knobs.service_status = 503
    assert request_token(bare_platform, assertion(bare_platform, tool_keys)).status_code == 503
    url = bare_platform.lineitem_url("resource-link-1") + "/scores"
    assert requests.post(url, json={}, headers=headers, timeout=10).status_code == 503


def test_tokens_revoked_knob_refuses_them_until_lifted(bare_platform, tool_keys):
    url = bare_platform.lineitem_url("resource-link-1") + "/scores"
    score = {"userId": "lms-user-1", "scoreGiven": 1, "scoreMaximum": 1}
    kind = {"Content-Type": "application/vnd.ims.lis.v1.score+json"}
    old = bearer(bare_platform, tool_keys, SCORE_SCOPE)
    bare_platform.settings.knobs.tokens_revoked_before = time.time() + 1
    assert requests.post(url, json=score, headers=kind | old, timeout=10).status_code == 401
    bare_platform.settings.knobs.tokens_revoked_before = 0.0
    assert requests.post(url, json=score, headers=kind | old, timeout=10).status_code == 204
