"""Operations: health check and counters an operator (or Prometheus) can read."""

import functools
import hmac
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request

from server.api.errors import error_response
from server.extensions import db
from server.submissions.stats import grading_stats

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Report whether the database and broker answer and the fork server is warm.

    Also whether finished gradings are announced to this process (scale-out): without
    that, long-polling requests learn of results by looking at the database, a little
    later; slower, not unhealthy.
    """
    checks = {
        "database": _database(),
        "broker": _broker(),
        "sandbox": _sandbox(),
        "announcements": _announcements(),
    }
    healthy = (
        checks["database"] == "ok"
        and checks["broker"] in ("ok", "not configured")
        and not checks["sandbox"].startswith("unavailable")
    )
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    body["isolation"] = _isolation()  # what this host gives the sandbox for cgroups
    return body, (200 if healthy else 503)


def _database() -> str:
    try:
        db.session.execute(sa.text("SELECT 1"))
        return "ok"
    except sa.exc.DBAPIError as exc:
        return f"unreachable: {type(exc.orig).__name__}"


def _broker() -> str:
    url = current_app.config["RUBRIC_BROKER_URL"]
    if not url:
        return "not configured"
    import redis

    try:
        with redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) as client:
            client.ping()
        return "ok"
    except redis.RedisError as exc:
        return f"unreachable: {type(exc).__name__}"


def _sandbox() -> str:
    """Warm this process's fork server, or say why it cannot run (Celery: it is in workers)."""
    if current_app.config["RUBRIC_BROKER_URL"]:
        return "in workers"
    from server.sandbox import SandboxUnavailable, get_sandbox

    try:
        get_sandbox()
    except SandboxUnavailable as exc:
        return f"unavailable: {exc}"
    return "warm"


def _isolation() -> str:
    """Say what the cgroup layer of this process's sandbox is, or what stands in for it."""
    if current_app.config["RUBRIC_BROKER_URL"]:
        return "in workers"
    from server.sandbox.client import current_isolation

    return current_isolation()


def _announcements() -> str:
    """Say how this process hears of gradings finished elsewhere (broadcast.py)."""
    if not current_app.config["RUBRIC_BROKER_URL"]:
        return "in process"  # the grading threads are in this process
    listener = getattr(current_app.extensions.get("rubric_queue"), "listener", None)
    if listener is None:
        return "not listening"  # no queue yet: gunicorn's workers make theirs at boot
    return "listening" if listener.live.is_set() else "reconnecting"


@bp.record_once
def _check_metrics_allow(state) -> None:
    """Refuse to start with a RUBRIC_METRICS_ALLOW that names no address or network."""
    metrics_networks(state.app.config["RUBRIC_METRICS_ALLOW"])


@functools.cache
def metrics_networks(setting: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Parse RUBRIC_METRICS_ALLOW: comma-separated addresses or CIDR networks."""
    try:
        return tuple(
            ip_network(item.strip(), strict=False) for item in setting.split(",") if item.strip()
        )
    except ValueError as exc:
        raise ValueError(f"RUBRIC_METRICS_ALLOW: {exc}") from None


def _metrics_refusal() -> tuple[Response, int] | None:
    """Say why this request may not read /metrics (a 401 or 403), or None when it may.

    A matching bearer token (RUBRIC_METRICS_TOKEN) or a client address in
    RUBRIC_METRICS_ALLOW (loopback by default, so a Prometheus on the same host keeps
    working). The address is the one ProxyFix leaves (RUBRIC_TRUSTED_PROXIES): behind a
    proxy on the same host, allow the scrapers' own addresses, not loopback.
    """
    token = current_app.config["RUBRIC_METRICS_TOKEN"]
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and _same_secret(sent.strip(), token):
        return None
    if _address_allowed(request.remote_addr):
        return None
    if token:
        refusal = error_response(401, "unauthorized", "send 'Authorization: Bearer TOKEN'")
        refusal[0].headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refusal
    return error_response(
        403, "forbidden", "metrics are served only to the addresses in RUBRIC_METRICS_ALLOW"
    )


def _same_secret(sent: str, token: str) -> bool:
    """Compare in constant time; as bytes, since compare_digest refuses non-ASCII str."""
    return hmac.compare_digest(sent.encode("utf-8", "replace"), token.encode("utf-8", "replace"))


def _address_allowed(address: str | None) -> bool:
    try:
        client = ip_address(address or "")
    except ValueError:
        return False
    networks = metrics_networks(current_app.config["RUBRIC_METRICS_ALLOW"])
    # An IPv4 client reached over an IPv6 socket arrives as ::ffff:a.b.c.d.
    mapped = getattr(client, "ipv4_mapped", None) or client
    return any(mapped in network for network in networks if network.version == mapped.version)


@bp.get("/metrics")
def metrics():
    """Expose queue depth and grading latency in Prometheus' text format."""
    if (refusal := _metrics_refusal()) is not None:
        return refusal
    stats = grading_stats()
    lines = ["# TYPE rubric_submissions gauge"]
    lines += [f'rubric_submissions{{status="{s}"}} {n}' for s, n in stats.by_status.items()]
    lines += ["# TYPE rubric_grading_latency_seconds summary"]
    lines += [
        f'rubric_grading_latency_seconds{{quantile="{q}"}} {v:.4f}'
        for q, v in stats.latency_quantiles.items()
    ]
    lines += [f"rubric_grading_latency_seconds_count {stats.latency_count}"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
