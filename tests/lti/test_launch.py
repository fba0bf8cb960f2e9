"""OIDC login and launch against a stand-in platform whose JWKS is served over HTTP."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.lti import platforms
from server.lti.launch import NONCE_LIFETIME, STATE_LIFETIME
from server.models import (
    Assignment,
    AssignmentKind,
    Course,
    Enrollment,
    LtiLoginState,
    LtiUser,
    Role,
    User,
)
from server.models.types import utcnow
from server.web.lti import PLAIN_STATE_COOKIE, STATE_COOKIE
from tests.lti.platform import CLAIM, INSTRUCTOR, new_key, public_jwk

TARGET = "http://localhost/lti/launch"


@pytest.fixture
def course(app, platform):
    """A Rubric course linked to the platform's LMS course, with one assignment."""
    found = Course(slug="ml101", title="ML 101")
    db.session.add(found)
    db.session.flush()
    db.session.add(
        Assignment(
            course_id=found.id,
            slug="week1",
            title="Week 1",
            kind=AssignmentKind.QUIZ,
            content_slug="numpy-basics",
        )
    )
    db.session.commit()
    platforms.link_context(platform.issuer, "lms-course-1", found)
    return found


def start(client, platform, **params) -> dict[str, str]:
    """Run the OIDC login; return the auth request's parameters (state, nonce...)."""
    query = {
        "iss": platform.issuer,
        "login_hint": "student-1",
        "target_link_uri": TARGET,
        "client_id": platform.client_id,
        "lti_message_hint": "hint-1",
    } | params
    response = client.post("/lti/login", data=query)
    assert response.status_code == 302, response.text
    location = urlsplit(response.location)
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{platform.jwks.base}/auth"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def launch(client, platform, auth: dict, **changes):
    """Post a signed id_token for the login, as the platform's form post does."""
    token = platform.sign(platform.claims(auth["nonce"], TARGET, **changes))
    return client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})


def assert_refused(response, reason: str) -> None:
    assert response.status_code == 400
    assert reason in response.text, response.text


def test_login_redirects_to_the_platform_with_the_oidc_parameters(client, platform):
    auth = start(client, platform)
    assert auth["scope"] == "openid"
    assert auth["response_type"] == "id_token"
    assert auth["response_mode"] == "form_post"
    assert auth["prompt"] == "none"
    assert auth["client_id"] == platform.client_id
    assert auth["redirect_uri"] == "http://localhost/lti/launch"
    assert auth["login_hint"] == "student-1"
    assert auth["lti_message_hint"] == "hint-1"
    assert len(auth["state"]) >= 32 and len(auth["nonce"]) >= 32


def test_the_state_cookie_survives_a_cross_site_post(client, platform):
    response = client.get(
        "/lti/login",
        query_string={"iss": platform.issuer, "login_hint": "x", "target_link_uri": TARGET},
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{STATE_COOKIE}=")
    for flag in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
        assert flag in cookie


def test_a_valid_launch_logs_in_and_enrols_as_student(client, platform, course):
    response = launch(client, platform, start(client, platform))
    assert response.status_code == 302
    assert response.location == "/courses/ml101"
    identity = db.session.scalar(sa.select(LtiUser).filter_by(sub="student-1"))
    user = identity.user
    assert (user.name, user.email) == ("Ada Student", "ada@lms.example.edu")
    enrolment = db.session.scalar(sa.select(Enrollment).filter_by(user_id=user.id))
    assert (enrolment.course_id, enrolment.role) == (course.id, Role.STUDENT)
    assert client.get("/courses/ml101").status_code == 200  # logged in


def test_a_second_launch_is_the_same_account(client, platform, course):
    launch(client, platform, start(client, platform))
    launch(client, platform, start(client, platform))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LtiUser)) == 1


def test_an_instructor_role_enrols_as_instructor(client, platform, course):
    launch(client, platform, start(client, platform), **{CLAIM + "roles": [INSTRUCTOR]})
    assert db.session.scalar(sa.select(Enrollment.role)) == Role.INSTRUCTOR


def test_no_role_at_all_is_a_student(client, platform, course):
    auth = start(client, platform)
    claims = platform.claims(auth["nonce"], TARGET)
    del claims[CLAIM + "roles"]
    token = platform.sign(claims)
    client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    assert db.session.scalar(sa.select(Enrollment.role)) == Role.STUDENT


def test_the_custom_assignment_parameter_opens_the_assignment(client, platform, course):
    custom = {CLAIM + "custom": {"assignment": "week1"}}
    response = launch(client, platform, start(client, platform), **custom)
    assert response.location == "/courses/ml101/assignments/week1"
    # The resource link remembers it: the next launch lands there without the parameter.
    response = launch(client, platform, start(client, platform))
    assert response.location == "/courses/ml101/assignments/week1"


def test_an_existing_accounts_email_is_not_taken_over(client, platform, course):
    owner = User(email="ada@lms.example.edu", name="Local Ada", password_hash="x")
    db.session.add(owner)
    db.session.commit()
    launch(client, platform, start(client, platform))
    identity = db.session.scalar(sa.select(LtiUser))
    assert identity.user_id != owner.id
    assert identity.user.email.endswith("@lti.invalid")


def test_an_unlinked_context_says_how_to_link_it(client, platform):
    context = {CLAIM + "context": {"id": "other-course"}, CLAIM + "roles": [INSTRUCTOR]}
    response = launch(client, platform, start(client, platform), **context)
    assert response.status_code == 200
    assert "rubric lti context link" in response.text
    assert "other-course" in response.text


def test_a_lost_state_cookie_asks_the_platform_storage_first(client, platform, course):
    auth = start(client, platform)
    client.delete_cookie(STATE_COOKIE, path="/lti/")  # third-party cookies blocked
    client.delete_cookie(PLAIN_STATE_COOKIE, path="/lti/")
    response = launch(client, platform, auth)
    assert response.status_code == 200 and 'data-mode="launch"' in response.text
    assert db.session.get(LtiLoginState, auth["state"]) is not None  # still unused


def test_a_key_the_platform_rotated_in_is_fetched_again(app, client, platform, course):
    app.config["RUBRIC_LTI_JWKS_COOLDOWN"] = 0  # no wait between the two fetches
    launch(client, platform, start(client, platform))  # caches the first key set
    platform.key, platform.kid = new_key(), "platform-key-2"
    platform.jwks.keys = [public_jwk(platform.key, platform.kid)]
    assert launch(client, platform, start(client, platform)).status_code == 302
    assert platform.jwks.fetches == 2


def test_unknown_kids_refetch_at_most_once_per_cooldown(client, platform, course):
    launch(client, platform, start(client, platform))
    for _ in range(3):
        made_up = platform.sign(platform.claims("n", TARGET), kid="made-up")
        client.post("/lti/launch", data={"id_token": made_up, "state": "s"})
    assert platform.jwks.fetches == 1


# The attacks: each is a 400 page that names what was wrong.


def test_a_replayed_launch_is_refused(client, platform, course):
    auth = start(client, platform)
    token = platform.sign(platform.claims(auth["nonce"], TARGET))
    form = {"id_token": token, "state": auth["state"]}
    assert client.post("/lti/launch", data=form).status_code == 302
    assert_refused(client.post("/lti/launch", data=form), "replayed launch")


def test_a_forged_signature_is_refused(client, platform, course):
    auth = start(client, platform)
    forged = platform.sign(platform.claims(auth["nonce"], TARGET), key=new_key())
    response = client.post("/lti/launch", data={"id_token": forged, "state": auth["state"]})
    assert_refused(response, "signature does not verify")


def test_a_wrong_audience_is_refused(client, platform, course):
    response = launch(client, platform, start(client, platform), aud="another-tool")
    assert_refused(response, "wrong audience")


def test_several_audiences_need_our_azp(client, platform, course):
    both = {"aud": [platform.client_id, "another-tool"]}
    assert_refused(launch(client, platform, start(client, platform), **both), "azp")


def test_an_expired_token_is_refused(client, platform, course):
    response = launch(client, platform, start(client, platform), exp=1_000_000_000)
    assert_refused(response, "expired")


def test_an_unknown_issuer_is_refused_at_login(client, platform):
    response = client.post(
        "/lti/login",
        data={"iss": "https://evil.example", "login_hint": "x", "target_link_uri": TARGET},
    )
    assert_refused(response, "unknown issuer")


def test_an_unknown_issuer_is_refused_at_launch(client, platform, course):
    response = launch(client, platform, start(client, platform), iss="https://evil.example")
    assert_refused(response, "unknown issuer")


def test_an_unknown_deployment_is_refused(client, platform, course):
    changes = {CLAIM + "deployment_id": "somebody-else"}
    assert_refused(launch(client, platform, start(client, platform), **changes), "deployment")


def test_a_swapped_state_is_refused(app, client, platform, course):
    attacker = app.test_client()
    theirs = start(attacker, platform)  # the attacker's own login and valid token
    start(client, platform)  # the victim's browser holds its own state cookie
    token = platform.sign(platform.claims(theirs["nonce"], TARGET))
    response = client.post("/lti/launch", data={"id_token": token, "state": theirs["state"]})
    assert_refused(response, "swapped state")


def test_a_nonce_of_another_login_is_refused(client, platform, course):
    first, second = start(client, platform), start(client, platform)
    token = platform.sign(platform.claims(first["nonce"], TARGET))
    response = client.post("/lti/launch", data={"id_token": token, "state": second["state"]})
    assert_refused(response, "nonce is not the one issued")


def test_a_jwks_that_times_out_is_refused(app, client, platform, course):
    app.config["RUBRIC_LTI_HTTP_TIMEOUT"] = 0.3
    platform.jwks.delay = 1.5
    response = launch(client, platform, start(client, platform))
    assert_refused(response, "key set could not be fetched")


def test_an_hs256_token_is_refused(client, platform, course):
    import jwt

    auth = start(client, platform)
    token = jwt.encode(platform.claims(auth["nonce"], TARGET), "secret" * 8, algorithm="HS256")
    response = client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    assert_refused(response, "not RS256")


def test_deep_linking_without_its_settings_is_refused(client, platform, course):
    kind = {CLAIM + "message_type": "LtiDeepLinkingRequest"}
    response = launch(client, platform, start(client, platform), **kind)
    assert_refused(response, "no deep_linking_settings")


def test_deep_linking_to_a_plain_http_return_url_is_refused(client, platform, course):
    settings = {"deep_link_return_url": "http://lms.example.edu/return", "accept_types": []}
    changes = {
        CLAIM + "message_type": "LtiDeepLinkingRequest",
        "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": settings,
    }
    response = launch(client, platform, start(client, platform), **changes)
    assert_refused(response, "not an https URL")


def test_a_wrong_version_is_refused(client, platform, course):
    changes = {CLAIM + "version": "1.1"}
    assert_refused(launch(client, platform, start(client, platform), **changes), "not 1.3.0")


def test_a_missing_id_token_is_refused(client, platform):
    assert_refused(client.post("/lti/launch", data={"state": "x"}), "no id_token")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sub": "x" * 256}, "sub claim"),
        ({CLAIM + "context": "lms-course-1"}, "context claim is not an object"),
        ({CLAIM + "resource_link": {"id": 7}}, "resource_link id"),
        ({CLAIM + "custom": ["assignment"]}, "custom claim"),
    ],
)
def test_malformed_claims_are_a_400_not_a_500(client, platform, course, changes, reason):
    assert_refused(launch(client, platform, start(client, platform), **changes), reason)


def test_a_nonce_that_is_not_a_string_is_refused(client, platform, course):
    auth = start(client, platform)
    token = platform.sign(platform.claims(auth["nonce"], TARGET) | {"nonce": 12345})
    response = client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    assert_refused(response, "nonce claim")


def test_a_key_set_that_is_not_json_is_refused(client, platform, course):
    platform.jwks.body = "<html>maintenance</html>"
    response = launch(client, platform, start(client, platform))
    assert_refused(response, "key set is unusable")


def test_a_login_left_too_long_is_refused(client, platform, course):
    auth = start(client, platform)
    state = db.session.get(LtiLoginState, auth["state"])
    state.created_at = utcnow() - STATE_LIFETIME - timedelta(seconds=1)
    db.session.commit()
    assert_refused(launch(client, platform, auth), "login has expired")


def test_a_token_older_than_the_nonces_memory_is_refused(client, platform, course):
    issued = int((utcnow() - NONCE_LIFETIME - timedelta(minutes=1)).timestamp())
    response = launch(client, platform, start(client, platform), iat=issued)
    assert_refused(response, "too old")


def test_an_overlong_target_is_refused_at_login(client, platform):
    target = TARGET + "?" + "x" * 1000
    response = client.post(
        "/lti/login", data={"iss": platform.issuer, "login_hint": "x", "target_link_uri": target}
    )
    assert_refused(response, "longer than 1000")
