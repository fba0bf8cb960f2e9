"""Calling the LMS's LTI Advantage services (AGS, NRPS) with an OAuth2 access token.

The token comes from the platform's token endpoint by the client-credentials grant,
the client authenticated by a JWT signed with the tool's current key (IMS Security
Framework 4.1). Tokens are cached per (platform, scopes) until shortly before expiry.
"""

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import jwt
import orjson
import requests
from flask import current_app

from server.lti import keys
from server.models import LtiPlatform

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; the Security Framework asks for a short-lived assertion
# A token is fetched again this long before it expires, so a call never carries a dead one.
EXPIRY_MARGIN = 60
DEFAULT_TOKEN_LIFETIME = 3600  # when the platform's answer names no expires_in
# Worth trying again later: the platform is overloaded, down, slow or lost our token.
RETRYABLE_STATUSES = {401, 408, 429} | set(range(500, 600))


class ServiceError(Exception):
    """A service call that failed; `retryable` says whether trying later may succeed."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic() after which it is not used


_tokens: dict[tuple[int, tuple[str, ...]], _Token] = {}
_tokens_lock = threading.Lock()
_fetch_locks: dict[tuple[int, tuple[str, ...]], threading.Lock] = {}
# One HTTP session per thread: requests' Session is not promised to be thread-safe.
_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _timeout() -> float:
    return float(current_app.config.get("RUBRIC_LTI_HTTP_TIMEOUT", 5.0))


def forget_tokens() -> None:
    """Drop every cached access token (tests, and after a platform revokes them)."""
    with _tokens_lock:
        _tokens.clear()


def client_assertion(platform: LtiPlatform) -> str:
    """The JWT that authenticates Rubric at the platform's token endpoint."""
    folder = keys.key_dir(current_app.config, current_app.instance_path)
    key = keys.current_key(folder)
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.auth_token_url,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
        "jti": secrets.token_urlsafe(16),
    }
    pem = keys.private_pem(folder, key.kid)
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": key.kid})


def _post_token_request(platform: LtiPlatform, scopes: tuple[str, ...]) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(platform),
        "scope": " ".join(scopes),
    }
    try:
        return _session().post(platform.auth_token_url, data=form, timeout=_timeout())
    except requests.RequestException as error:
        raise ServiceError(f"token endpoint unreachable: {error}", retryable=True) from error


def _fetch_token(platform: LtiPlatform, scopes: tuple[str, ...]) -> _Token:
    answer = _post_token_request(platform, scopes)
    if answer.status_code != 200:
        # A 4xx here is a registration problem (wrong client id, unknown key): not
        # retryable by itself; 5xx and 429 are the platform's trouble.
        status = answer.status_code
        raise ServiceError(
            f"token endpoint answered {status}: {answer.text[:200]}",
            status=status,
            retryable=status in RETRYABLE_STATUSES and status != 401,
        )
    try:
        body = answer.json()
        value = body["access_token"]
        lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (ValueError, KeyError, TypeError) as error:
        raise ServiceError("token endpoint answered no access_token", retryable=True) from error
    return _Token(value, time.monotonic() + max(lifetime - EXPIRY_MARGIN, 0))


def access_token(platform: LtiPlatform, scopes: Sequence[str]) -> str:
    """An access token for the scopes, from the cache or the platform's token endpoint."""
    index = (platform.id, tuple(sorted(scopes)))
    token = _cached(index)
    if token is not None:
        return token
    with _fetch_lock(index):  # threads needing the same token wait for one request
        token = _cached(index)
        if token is None:
            fetched = _fetch_token(platform, index[1])
            with _tokens_lock:
                _tokens[index] = fetched
            token = fetched.value
    return token


def _cached(index) -> str | None:
    with _tokens_lock:
        token = _tokens.get(index)
    return token.value if token is not None and token.expires_at > time.monotonic() else None


def _fetch_lock(index) -> threading.Lock:
    with _tokens_lock:
        return _fetch_locks.setdefault(index, threading.Lock())


def _forget(platform: LtiPlatform, scopes: Sequence[str]) -> None:
    with _tokens_lock:
        _tokens.pop((platform.id, tuple(sorted(scopes))), None)


def _send(platform, method, url, scopes, headers, **kwargs) -> requests.Response:
    headers = headers | {"Authorization": f"Bearer {access_token(platform, scopes)}"}
    try:
        return _session().request(method, url, headers=headers, timeout=_timeout(), **kwargs)
    except requests.RequestException as error:
        raise ServiceError(f"{method} {url} failed: {error}", retryable=True) from error


def call(
    platform: LtiPlatform,
    method: str,
    url: str,
    scopes: Sequence[str],
    *,
    json=None,
    content_type: str | None = None,
    accept: str | None = None,
    params=None,
) -> requests.Response:
    """Call a service URL with a bearer token; a 401 fetches a fresh token and retries once."""
    headers = {}
    if accept:
        headers["Accept"] = accept
    kwargs = {"params": params}
    if json is not None:
        # Serialised here so the content type is the service's, not application/json.
        kwargs["data"] = orjson.dumps(json)
        headers["Content-Type"] = content_type or "application/json"
    answer = _send(platform, method, url, scopes, headers, **kwargs)
    if answer.status_code == 401:
        _forget(platform, scopes)  # revoked or expired early: one fresh token, one retry
        answer = _send(platform, method, url, scopes, headers, **kwargs)
    if not 200 <= answer.status_code < 300:
        status = answer.status_code
        raise ServiceError(
            f"{method} {url} answered {status}: {answer.text[:200]}",
            status=status,
            retryable=status in RETRYABLE_STATUSES,
        )
    return answer
