"""Operations: health check and counters an operator (or Prometheus) can read."""

import sqlalchemy as sa
from flask import Blueprint, Response, current_app

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
    return {"status": "ok" if healthy else "unavailable", "checks": checks}, (
        200 if healthy else 503
    )


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


def _announcements() -> str:
    """Say how this process hears of gradings finished elsewhere (broadcast.py)."""
    if not current_app.config["RUBRIC_BROKER_URL"]:
        return "in process"  # the grading threads are in this process
    listener = getattr(current_app.extensions.get("rubric_queue"), "listener", None)
    if listener is None:
        return "not listening"  # no queue yet: gunicorn's workers make theirs at boot
    return "listening" if listener.live.is_set() else "reconnecting"


@bp.get("/metrics")
def metrics():
    """Expose queue depth and grading latency in Prometheus' text format."""
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
