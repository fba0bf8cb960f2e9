"""LTI Dynamic Registration: an LMS registers Rubric from a one-time registration link.

The flow (IMS LTI Dynamic Registration 1.0): the LMS opens Rubric's registration URL
with `openid_configuration` and `registration_token`; Rubric fetches the platform's
OpenID configuration, posts its own client registration to the platform's
registration endpoint, and stores the client id and deployment id it gets back.

Anyone can open /lti/register, so a registration needs a one-time code that an
administrator made with `rubric lti platform register-url`: signed with the app's
secret key, valid for an hour, used up by the registration it allowed.
"""

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from server.extensions import db
from server.lti import platforms
from server.lti.launch import NONCE_LIFETIME
from server.models import LtiNonce
from server.models.types import utcnow

log = logging.getLogger("rubric.lti")

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
# A code lives as long as the launches' nonce memory keeps used codes (they share the
# lti_nonce table and its purge), so a used code is remembered until it expires anyway.
CODE_LIFETIME = NONCE_LIFETIME
CODE_SALT = "rubric-lti-register"
USED_CODE = "register:"  # the prefix of a used code's row in lti_nonce
# An OpenID configuration or a registration answer is a few kilobytes; more is not one.
MAX_ANSWER_BYTES = 256 * 1024
# The claims Rubric asks the platform to put in launches (names for the gradebook).
CLAIMS = ["iss", "sub", "name", "given_name", "family_name", "email"]


class RegistrationRefused(Exception):
    """A registration Rubric will not do; the message says why, for the 400 page."""


@dataclass(frozen=True)
class ToolUrls:
    """Rubric's own endpoints, as the platform must call them."""

    login: str
    launch: str
    jwks: str


@dataclass(frozen=True)
class PlatformConfig:
    """What Rubric needs from the platform's OpenID configuration."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product: str  # the LMS's product family code, e.g. "moodle", for its name in Rubric


# The one-time registration code.


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=CODE_SALT)


def make_code(secret_key: str) -> str:
    """A fresh one-time registration code, signed with the app's secret key."""
    return _serializer(secret_key).dumps({"id": secrets.token_urlsafe(16)})


def check_code(secret_key: str, code: str) -> str:
    """The id of a valid, unexpired and unused code; else RegistrationRefused."""
    if not code:
        raise RegistrationRefused(
            "this registration URL has no code: ask Rubric's administrator for a link made "
            "by `rubric lti platform register-url`"
        )
    try:
        payload = _serializer(secret_key).loads(code, max_age=CODE_LIFETIME.total_seconds())
    except SignatureExpired as exc:
        raise RegistrationRefused("this registration link has expired: make a new one") from exc
    except BadSignature as exc:
        raise RegistrationRefused("this registration link's code is not valid") from exc
    code_id = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(code_id, str) or db.session.get(LtiNonce, USED_CODE + code_id):
        raise RegistrationRefused("this registration link was already used: make a new one")
    return code_id


def use_code(code_id: str) -> None:
    """Mark the code used (flushed; committed with the registration it allowed)."""
    db.session.execute(sa.delete(LtiNonce).where(LtiNonce.used_at < utcnow() - NONCE_LIFETIME))
    db.session.add(LtiNonce(nonce=USED_CODE + code_id, used_at=utcnow()))
    db.session.flush()  # two registrations racing with one code: the second fails here


# Talking to the platform.


def _url(what: str, value: Any, longest: int = 1000) -> str:
    """An https URL (http only on this machine) that fits its column; else RegistrationRefused."""
    if not isinstance(value, str) or not value or len(value) > longest:
        raise RegistrationRefused(
            f"the platform's {what} is missing, not a URL or longer than {longest} characters"
        )
    try:
        return platforms.check_url(what, value)
    except platforms.BadValue as exc:
        raise RegistrationRefused(
            f"the platform's {what} {value!r} is not an https URL (http only for localhost)"
        ) from exc


def _json_answer(answer: requests.Response, what: str) -> dict[str, Any]:
    """The JSON object of an answer no bigger than MAX_ANSWER_BYTES."""
    body = b""
    for chunk in answer.iter_content(16 * 1024):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise RegistrationRefused(f"the platform's {what} is larger than 256 KiB")
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise RegistrationRefused(f"the platform's {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise RegistrationRefused(f"the platform's {what} is not a JSON object")
    return value


def _request(method: str, url: str, what: str, timeout: float, **kwargs) -> dict[str, Any]:
    """One HTTP call to the platform: no redirects followed, a timeout, a size limit."""
    try:
        with requests.request(
            method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs
        ) as answer:
            if answer.status_code not in (200, 201):
                raise RegistrationRefused(
                    f"the platform's {what} answered HTTP {answer.status_code}"
                )
            return _json_answer(answer, what)
    except requests.Timeout as exc:
        raise RegistrationRefused(f"the platform's {what} did not answer in {timeout:g} s") from exc
    except requests.RequestException as exc:
        raise RegistrationRefused(f"the platform's {what} could not be reached") from exc


def _issuer_matches(issuer: str, config_url: str) -> bool:
    """The configuration URL lies under the issuer (Dynamic Registration 3.5.1)."""
    base = issuer.rstrip("/")
    return config_url == base or config_url.startswith(base + "/")


def fetch_platform_config(config_url: str, token: str, timeout: float) -> PlatformConfig:
    """The platform's OpenID configuration, checked; else RegistrationRefused."""
    _url("openid_configuration", config_url)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"  # some platforms guard it (Moodle)
    body = _request("GET", config_url, "OpenID configuration", timeout, headers=headers)
    issuer = _url("issuer", body.get("issuer"), longest=255)
    if not _issuer_matches(issuer, config_url):
        raise RegistrationRefused(
            f"the platform's issuer {issuer!r} does not match its configuration URL {config_url!r}"
        )
    lms = body.get(PLATFORM_CONFIGURATION)
    product = lms.get("product_family_code") if isinstance(lms, dict) else None
    return PlatformConfig(
        issuer=issuer,
        authorization_endpoint=_url("authorization_endpoint", body.get("authorization_endpoint")),
        token_endpoint=_url("token_endpoint", body.get("token_endpoint")),
        jwks_uri=_url("jwks_uri", body.get("jwks_uri")),
        registration_endpoint=_url("registration_endpoint", body.get("registration_endpoint")),
        product=product if isinstance(product, str) else "",
    )


def tool_configuration(urls: ToolUrls, scopes: list[str]) -> dict[str, Any]:
    """Rubric's client registration request (Dynamic Registration 3.5.2)."""
    domain = urlsplit(urls.launch).netloc
    messages = [
        {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch, "label": "Rubric"},
        {"type": "LtiDeepLinkingRequest", "target_link_uri": urls.launch, "label": "Rubric"},
    ]
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": "Rubric",
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: {
            "domain": domain,
            "description": "Auto-graded quizzes and NumPy coding exercises.",
            "target_link_uri": urls.launch,
            "claims": CLAIMS,
            "messages": messages,
        },
    }


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def post_registration(
    config: PlatformConfig, token: str, request: dict[str, Any], timeout: float
) -> tuple[str, str]:
    """Post Rubric's registration; return the client id and deployment id granted."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = _request(
        "POST", config.registration_endpoint, "registration endpoint", timeout,
        json=request, headers=headers,
    )  # fmt: skip
    client_id = _text(body.get("client_id"))
    tool = body.get(TOOL_CONFIGURATION)
    deployment_id = _text(tool.get("deployment_id") if isinstance(tool, dict) else None)
    if not client_id or len(client_id) > 255 or len(deployment_id) > 255:
        raise RegistrationRefused(
            "the platform's registration answer names no client_id, or an overlong one"
        )
    if not deployment_id:
        # Without one every launch would be refused; by hand once the LMS shows it.
        raise RegistrationRefused(
            "the platform's registration answer names no deployment_id: register it by "
            "hand with `rubric lti platform add` once the LMS shows it"
        )
    return client_id, deployment_id


def register(
    config: PlatformConfig, client_id: str, deployment_id: str, code_id: str
) -> tuple[Any, bool]:
    """Store the platform and its deployment (idempotent) and use up the code."""
    registration = platforms.Registration(
        issuer=config.issuer,
        client_id=client_id,
        deployment_ids=(deployment_id,),
        auth_login_url=config.authorization_endpoint,
        auth_token_url=config.token_endpoint,
        keyset_url=config.jwks_uri,
        name=(config.product or urlsplit(config.issuer).hostname or "")[:200],
    )
    try:
        use_code(code_id)
        found, created = platforms.add_platform(registration)
    except sa.exc.IntegrityError as exc:
        db.session.rollback()  # another registration used the code a moment ago
        raise RegistrationRefused("this registration link was already used") from exc
    except platforms.BadValue as exc:
        db.session.rollback()
        raise RegistrationRefused(str(exc)) from exc
    log.info("lti: %s platform %s client %s by dynamic registration",
             "registered" if created else "updated", found.issuer, found.client_id)  # fmt: skip
    return found, created
