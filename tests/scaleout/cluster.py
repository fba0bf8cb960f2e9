"""The scale-out deployment the tests run against: N `rubric worker`s on one database.

Workers are long-lived processes, so they connect to one fixed database URL; each
test gets a fresh database under that same name (dropped WITH (FORCE) and re-created
from the seeded template) and an empty Redis database.
"""

import os
from pathlib import Path

import redis
import sqlalchemy as sa

from tests.scaleout.processes import Service, gunicorn, worker

# Settings of every process the tests start. The lease and sweep are short so that
# recovering from a killed worker takes seconds, not the production half-minute.
TEST_SETTINGS = {
    "RUBRIC_GRADING_LEASE_SECONDS": "3",
    "RUBRIC_REQUEUE_AFTER_SECONDS": "2",
    "RUBRIC_SWEEP_SECONDS": "1",
    "RUBRIC_GRADING_THREADS": "2",
    "RUBRIC_SUBMISSION_RATE": "off",
    "RUBRIC_SECRET_KEY": "test-secret",
    # Grade passback from the workers retries within a second, as the LTI tests' app does.
    "RUBRIC_LTI_HTTP_TIMEOUT": "1",
    "RUBRIC_LTI_PASSBACK_POLL_SECONDS": "0.2",
    "RUBRIC_LTI_PASSBACK_BACKOFF_SECONDS": "0.2",
    "RUBRIC_LTI_PASSBACK_BACKOFF_MAX_SECONDS": "0.5",
}


def service_env(database_url: str, broker_url: str | None, **overrides: str) -> dict:
    """The environment of a worker or web process on this database and broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUBRIC_")}
    where = {"RUBRIC_DATABASE_URL": database_url, "RUBRIC_BROKER_URL": broker_url or ""}
    return env | TEST_SETTINGS | overrides | where


def reachable(url: str) -> str | None:
    """Return why a PostgreSQL or Redis URL cannot be reached, or None when it answers."""
    try:
        if url.startswith("redis"):
            with redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) as client:
                client.ping()
        else:
            engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
            with engine.connect():
                pass
            engine.dispose()
    except (redis.RedisError, sa.exc.DBAPIError) as exc:
        return f"{sa.make_url(url).render_as_string()}: {type(exc).__name__}: {exc}".strip()
    return None


class Cluster:
    """Grading workers on one database and one Redis database, started and stopped here."""

    def __init__(self, database_url: str, broker_url: str, log_dir: Path, size: int = 2):
        self.database_url, self.broker_url, self.log_dir = database_url, broker_url, log_dir
        self.env = service_env(database_url, broker_url)
        self.workers = [worker(f"worker{n}", self.env, log_dir) for n in range(1, size + 1)]

    def start(self) -> "Cluster":
        """Start every worker and wait until each consumes from the queue."""
        for service in self.workers:
            service.start()
        return self

    def holding(self, pid: int) -> Service:
        """Return the worker with this process id."""
        return next(w for w in self.workers if w.process and w.pid == pid)

    def ensure_running(self) -> None:
        """Restart any worker that a test killed, so the next test has all of them."""
        for service in self.workers:
            if service.process is None or service.process.poll() is not None:
                service.stop()
                service.start()

    def web(self, name: str = "gunicorn") -> Service:
        """A gunicorn (not started) that sends grading to these workers."""
        return gunicorn(self.env, self.log_dir, name=name)

    def flush_broker(self) -> None:
        """Empty the test's Redis database: no message or rate count leaks between tests."""
        client = redis.Redis.from_url(self.broker_url)
        client.flushdb()
        client.close()

    def stop(self) -> None:
        """Stop every worker (and its fork server)."""
        for service in self.workers:
            service.stop()
