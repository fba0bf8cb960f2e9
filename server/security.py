"""Security headers, cookie flags for HTTPS and LMS iframes, and trusted proxies.

Not Flask-Talisman: its init_app sets the session cookie's flags once for the app and
redirects plain HTTP to HTTPS, while Rubric decides Secure per request (behind a
trusted proxy) and leaves HTTPS to the proxy; what is left is four fixed headers.
"""

import re

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from server.config import SECURITY_DEFAULTS

# An origin as CSP's frame-ancestors takes it: scheme, host (optionally "*." first), port.
# A pattern, not urlsplit: "https://*.example.edu" is no URL, and urlsplit accepts paths.
_ORIGIN = re.compile(r"https?://(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?", re.IGNORECASE)


class SettingError(ValueError):
    """A setting with a value Rubric refuses to start with."""


def frame_ancestors(value: str) -> list[str]:
    """Parse RUBRIC_FRAME_ANCESTORS: space-separated origins, e.g. https://canvas.example.edu."""
    origins = value.split()
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise SettingError(
                f"RUBRIC_FRAME_ANCESTORS: {origin!r} is not an origin such as "
                "https://lms.example.edu or https://*.example.edu (scheme, host, optional "
                "port; no path)"
            )
    return origins


def content_security_policy(ancestors: list[str]) -> str:
    """Everything from Rubric itself only; framing by Rubric and the listed origins."""
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Chart.js may draw into data: images
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors " + " ".join(["'self'", *ancestors]),
    ]
    return "; ".join(directives)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, made Secure for any request that came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        # request.is_secure is true behind a trusted TLS proxy once ProxyFix has read its
        # X-Forwarded-Proto; SESSION_COOKIE_SECURE forces it (an LMS iframe needs it).
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def whole_numbers(config) -> None:
    """Make the SECURITY_DEFAULTS settings numbers in place, refusing any that is not one."""
    for name, default in SECURITY_DEFAULTS.items():
        least = 0 if default == 0 else 1  # only the number of proxies may be 0
        raw = str(config[name]).strip()
        if not raw.isascii() or not raw.isdigit() or int(raw) < least:
            raise SettingError(f"{name}: {raw!r} is not a whole number of at least {least}")
        config[name] = int(raw)


def init_app(app: Flask) -> None:
    """Check the settings, then add the headers to every answer and set the cookie flags."""
    whole_numbers(app.config)
    ancestors = frame_ancestors(app.config["RUBRIC_FRAME_ANCESTORS"])
    if ancestors:
        # Inside a cross-site iframe the browser only sends a SameSite=None cookie, and
        # only a Secure one; Partitioned (CHIPS) keeps it when third-party cookies are
        # blocked, keyed by the LMS's site.
        app.config.update(
            SESSION_COOKIE_SAMESITE="None",
            SESSION_COOKIE_SECURE=True,
            SESSION_COOKIE_PARTITIONED=True,
        )
    app.session_interface = SessionInterface()
    if proxies := app.config["RUBRIC_TRUSTED_PROXIES"]:
        # Only the client's address and the scheme: a proxy that passes a client's own
        # X-Forwarded-Host through (nginx does, unless told) would let it pick the host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    headers = _headers(ancestors)
    app.after_request(lambda response: _add_headers(response, headers))


def _headers(ancestors: list[str]) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Content-Security-Policy": content_security_policy(ancestors),
    }
    if not ancestors:
        # X-Frame-Options cannot name other origins: with an LMS listed, CSP alone decides.
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


def _add_headers(response: Response, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    return response
