"""OIDC third-party initiated login and the validation of a launch's id_token.

Checks follow the LTI 1.3 core spec (5.1, 5.3) and the IMS Security Framework (5.1.3):
RS256 only, the platform's key set, iss, aud/azp, exp/iat, a single-use nonce bound
to a single-use, fresh login state, the deployment, message type, version and target.
"""

import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import sqlalchemy as sa

from server.extensions import db
from server.lti import platforms
from server.models import LtiLoginState, LtiNonce, LtiPlatform
from server.models.types import utcnow

log = logging.getLogger("rubric.lti")

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
# A login the user does not finish within this time is refused and purged.
STATE_LIFETIME = timedelta(minutes=10)
# A token older than this is refused, so a nonce need only be remembered this long.
NONCE_LIFETIME = timedelta(hours=1)
LEEWAY = timedelta(seconds=60)


class LaunchRefused(Exception):
    """A launch or login that must be refused; the message says why, for the 400 page."""


@dataclass(frozen=True)
class Launch:
    """A validated launch: the platform it came from and the token's claims."""

    platform: LtiPlatform
    claims: dict[str, Any]

    def claim(self, name: str, default: Any = None) -> Any:
        """An LTI claim by its short name, e.g. claim('context')."""
        return self.claims.get(CLAIM + name, default)


def start_login(platform: LtiPlatform, target_link_uri: str) -> LtiLoginState:
    """Store a fresh state and nonce for a login, purging abandoned ones."""
    now = utcnow()
    db.session.execute(
        sa.delete(LtiLoginState).where(LtiLoginState.created_at < now - STATE_LIFETIME)
    )
    login = LtiLoginState(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        platform_id=platform.id,
        target_link_uri=target_link_uri,
        created_at=now,
    )
    db.session.add(login)
    db.session.commit()
    return login


def auth_request_url(platform: LtiPlatform, login: LtiLoginState, redirect_uri: str, hints) -> str:
    """The platform's OIDC authorization URL for this login (LTI 1.3 core 5.1.1.2)."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": hints["login_hint"],
        "state": login.state,
        "nonce": login.nonce,
    }
    if hints.get("lti_message_hint"):
        params["lti_message_hint"] = hints["lti_message_hint"]
    separator = "&" if "?" in platform.auth_login_url else "?"
    return platform.auth_login_url + separator + urlencode(params)


@dataclass(frozen=True)
class HttpLimits:
    """The key-set fetch's timeout, and the least time between two refetches."""

    timeout: float = 5.0
    cooldown: float = 10.0


_clients: dict[tuple[str, float, float], jwt.PyJWKClient] = {}
_clients_lock = threading.Lock()


def _jwk_client(url: str, http: "HttpLimits") -> jwt.PyJWKClient:
    """One caching key-set client per URL.

    PyJWKClient fetches the set again once when a token names an unknown kid, but at
    most once per cooldown: tokens with made-up kids cannot make Rubric hammer the LMS.
    """
    index = (url, http.timeout, http.cooldown)
    with _clients_lock:
        client = _clients.get(index)
        if client is None:
            client = jwt.PyJWKClient(
                url,
                cache_keys=True,
                lifespan=300,
                timeout=http.timeout,
                cooldown_duration=http.cooldown,
            )
            _clients[index] = client
        return client


def forget_key_sets() -> None:
    """Drop the cached key sets (tests and a platform's key change)."""
    with _clients_lock:
        _clients.clear()


def _platform_of(token: str) -> LtiPlatform:
    """Find the registered platform named by the token's (unverified) iss and aud."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise LaunchRefused(f"the id_token is not a JWT ({exc})") from None
    if header.get("alg") != "RS256":
        raise LaunchRefused(f"the id_token is signed with {header.get('alg')!r}, not RS256")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or platforms.find_platform_any(issuer) is None:
        raise LaunchRefused(f"unknown issuer {issuer!r}: no platform is registered with it")
    audience = unverified.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    for client_id in audiences:
        if isinstance(client_id, str) and (found := platforms.find_platform(issuer, client_id)):
            return found
    raise LaunchRefused(f"wrong audience {audience!r}: not the client id registered for {issuer}")


def _verify(token: str, platform: LtiPlatform, http: HttpLimits) -> dict[str, Any]:
    """Check the signature against the platform's key set, then iss, aud, exp and iat."""
    try:
        key = _jwk_client(platform.keyset_url, http).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as exc:
        raise LaunchRefused(f"the platform's key set could not be fetched: {exc}") from None
    except jwt.PyJWKClientError as exc:
        raise LaunchRefused(
            f"no key of the platform's key set signed the id_token: {exc}"
        ) from None
    except (jwt.PyJWTError, ValueError, OSError) as exc:
        # A key set that is not JSON, holds no usable key, or breaks off mid-answer.
        raise LaunchRefused(f"the platform's key set is unusable: {exc}") from None
    try:
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "nonce", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise LaunchRefused("the id_token has expired (exp)") from None
    except jwt.InvalidSignatureError:
        raise LaunchRefused("the id_token's signature does not verify (forged?)") from None
    except jwt.InvalidAudienceError:
        raise LaunchRefused("wrong audience: aud does not contain Rubric's client id") from None
    except (jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
        raise LaunchRefused("the id_token is issued in the future (iat)") from None
    except jwt.PyJWTError as exc:
        raise LaunchRefused(f"the id_token is invalid: {exc}") from None


# Claims stored in 255-character columns or read as objects: anything else is refused,
# so a malformed token is a 400 page rather than a database error.
_SHORT_STRINGS = ("nonce", "sub")
_OBJECTS = ("context", "resource_link", "custom")


def _check_shapes(claims: dict[str, Any]) -> None:
    for name in _SHORT_STRINGS:
        value = claims.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= 255:
            raise LaunchRefused(f"the {name} claim is not a string of 1 to 255 characters")
    for name in _OBJECTS:
        value = claims.get(CLAIM + name)
        if value is not None and not isinstance(value, dict):
            raise LaunchRefused(f"the {name} claim is not an object")
    for name in ("context", "resource_link"):
        ident = (claims.get(CLAIM + name) or {}).get("id")
        if ident is not None and (not isinstance(ident, str) or not 0 < len(ident) <= 255):
            raise LaunchRefused(f"the {name} id is not a string of 1 to 255 characters")


def _check_times_and_azp(claims: dict[str, Any], platform: LtiPlatform) -> None:
    if claims["iat"] < (utcnow() - NONCE_LIFETIME).timestamp():
        raise LaunchRefused("the id_token is too old (iat more than an hour ago)")
    several = isinstance(claims["aud"], list) and len(claims["aud"]) > 1
    if (several or "azp" in claims) and claims.get("azp") != platform.client_id:
        raise LaunchRefused("wrong authorized party: azp is not Rubric's client id")


def storage_value(secret: str, state: str) -> str:
    """The value the login leaves in the platform's storage for this state.

    Keyed with the app's secret, so only Rubric's own login page can have put it there.
    """
    return hmac.new(secret.encode(), b"lti-storage:" + state.encode(), "sha256").hexdigest()


@dataclass(frozen=True)
class Browser:
    """What the launching browser shows of the login it started: cookie or platform storage."""

    cookie_state: str | None = None  # the state cookie, when it came back
    stored_value: str | None = None  # what Rubric's page read back from the platform's storage
    secret: str = ""  # the key of storage_value


def _check_browser(state: str, browser: Browser) -> None:
    """The state must be the one this browser's login started (no login CSRF)."""
    if browser.cookie_state is not None:
        if not secrets.compare_digest(browser.cookie_state, state):
            raise LaunchRefused("the state is not this browser's login (swapped state)")
        return
    if browser.stored_value is None:
        # A state alone could have been captured from another browser's login.
        raise LaunchRefused(
            "the state is not bound to this browser: its login cookie did not come back "
            "and the platform's storage was not read (third-party cookies blocked?)"
        )
    if not browser.stored_value:
        raise LaunchRefused(
            "the login cookie did not come back and the platform's storage does not hold "
            "this login: this browser blocks Rubric's cookies inside the platform"
        )
    if not secrets.compare_digest(browser.stored_value, storage_value(browser.secret, state)):
        raise LaunchRefused("the state is not this browser's login (swapped state)")


def _signed_claims(token: str, http: "HttpLimits") -> tuple[LtiPlatform, dict[str, Any]]:
    """The token's platform and claims: signature, claim shapes, times and azp checked."""
    if not token:
        raise LaunchRefused("no id_token in the launch")
    platform = _platform_of(token)
    claims = _verify(token, platform, http)
    _check_shapes(claims)
    _check_times_and_azp(claims, platform)
    return platform, claims


def pending_login(token: str, state: str, http: "HttpLimits") -> LtiPlatform:
    """Check the token and its fresh, unused login, using up neither; return the platform.

    For a launch whose state cookie did not come back: the browser must first read the
    login's value back from the platform's storage, so a bad token is refused now.
    """
    platform, claims = _signed_claims(token, http)
    if db.session.get(LtiNonce, claims["nonce"]) is not None:
        raise LaunchRefused("the nonce was already used: a replayed launch")
    login = db.session.get(LtiLoginState, state) if state else None
    if login is None or login.platform_id != platform.id:
        raise LaunchRefused("unknown or already used state: start the launch again from the LMS")
    if login.created_at < utcnow() - STATE_LIFETIME:
        raise LaunchRefused("the login has expired: start the launch again from the LMS")
    return platform


def _consume_state(state: str, browser: Browser) -> LtiLoginState:
    """Take the login state once, and only from the browser that started the login."""
    if not state:
        raise LaunchRefused("no state: the launch did not come from a login Rubric started")
    _check_browser(state, browser)
    login = db.session.get(LtiLoginState, state)
    deleted = db.session.execute(sa.delete(LtiLoginState).where(LtiLoginState.state == state))
    if login is None or deleted.rowcount != 1:
        raise LaunchRefused("unknown or already used state: start the launch again from the LMS")
    if login.created_at < utcnow() - STATE_LIFETIME:
        raise LaunchRefused("the login has expired: start the launch again from the LMS")
    return login


def _use_nonce(nonce: str) -> None:
    """Remember the nonce; a second launch with it is a replay."""
    cutoff = utcnow() - NONCE_LIFETIME
    db.session.execute(sa.delete(LtiNonce).where(LtiNonce.used_at < cutoff))
    if db.session.get(LtiNonce, nonce) is not None:
        raise LaunchRefused("the nonce was already used: a replayed launch")
    db.session.add(LtiNonce(nonce=nonce, used_at=utcnow()))
    db.session.flush()  # a concurrent replay fails here on the primary key


def _check_message(claims: dict[str, Any], platform: LtiPlatform, login: LtiLoginState) -> None:
    deployment = claims.get(CLAIM + "deployment_id")
    if not isinstance(deployment, str) or not platforms.has_deployment(platform, deployment):
        raise LaunchRefused(f"unknown deployment {deployment!r} for this platform")
    if claims.get(CLAIM + "version") != "1.3.0":
        raise LaunchRefused(f"LTI version {claims.get(CLAIM + 'version')!r}, not 1.3.0")
    kind = claims.get(CLAIM + "message_type")
    if kind not in (RESOURCE_LINK, DEEP_LINKING):
        raise LaunchRefused(f"message type {kind!r} is not {RESOURCE_LINK} or {DEEP_LINKING}")
    target = claims.get(CLAIM + "target_link_uri")
    if not target:
        raise LaunchRefused("no target_link_uri claim")
    if target != login.target_link_uri:
        raise LaunchRefused("the target_link_uri is not the one the login was started for")
    if kind == DEEP_LINKING:
        _check_deep_linking(claims)
    elif not (claims.get(CLAIM + "resource_link") or {}).get("id"):
        raise LaunchRefused("no resource_link id claim")


def _check_deep_linking(claims: dict[str, Any]) -> None:
    """A deep-linking request must say where the answer goes and accept resource links.

    LTI-DL 2.0, 4.4.1: deep_linking_settings with deep_link_return_url and accept_types.
    """
    settings = claims.get(DL_CLAIM + "deep_linking_settings")
    if not isinstance(settings, dict):
        raise LaunchRefused("the deep-linking request has no deep_linking_settings object")
    url = settings.get("deep_link_return_url")
    if not isinstance(url, str) or len(url) > 1000:
        raise LaunchRefused("the deep_link_return_url is not a URL of at most 1000 characters")
    try:
        platforms.check_url("deep_link_return_url", url)  # https, as the platform's own URLs
    except platforms.BadValue as bad:
        raise LaunchRefused(str(bad)) from None
    accepted = settings.get("accept_types")
    if not isinstance(accepted, list) or "ltiResourceLink" not in accepted:
        raise LaunchRefused(
            f"the platform accepts only {accepted!r} here, not ltiResourceLink: Rubric adds "
            "activities as resource links"
        )
    if not (claims.get(CLAIM + "context") or {}).get("id"):
        raise LaunchRefused("the deep-linking request has no context: open it from a course")


def validate(token: str, state: str, browser: Browser, http: HttpLimits) -> Launch:
    """Validate a launch's form post; the state and nonce are used up only if all holds."""
    platform, claims = _signed_claims(token, http)
    try:
        _use_nonce(claims["nonce"])
        login = _consume_state(state, browser)
        if login.platform_id != platform.id:
            raise LaunchRefused("the state was issued for another platform's login")
        if not secrets.compare_digest(str(claims["nonce"]), login.nonce):
            raise LaunchRefused("the nonce is not the one issued with this state")
        _check_message(claims, platform, login)
    except (LaunchRefused, sa.exc.IntegrityError) as refused:
        db.session.rollback()
        if isinstance(refused, sa.exc.IntegrityError):
            raise LaunchRefused("the nonce was already used: a replayed launch") from None
        raise
    db.session.commit()
    return Launch(platform=platform, claims=claims)
