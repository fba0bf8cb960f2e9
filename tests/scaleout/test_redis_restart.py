"""Redis stops and comes back: submissions made meanwhile are stored, then graded once.

The shared Redis is never touched: this test runs its own redis-server, worker and
gunicorn on a database of its own, so no other grader can rescue its submissions.
"""

import re
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from server.accounts import create_token, find_user
from server.extensions import db
from server.models import SubmissionStatus
from tests.conftest import make_app
from tests.scaleout.cluster import service_env
from tests.scaleout.processes import free_port, gunicorn, redis_server, wait_until, worker
from tests.scaleout.support import REFERENCE, WRONG, all_graded, submissions, submit


@pytest.fixture
def private(cluster, databases, seeded_database, tmp_path):
    """A redis-server, a worker and a gunicorn of this test's own, on a new database."""
    url = databases.clone(seeded_database)
    port = free_port()
    # A real rate limit, so its counters (kept in Redis) are exercised while Redis is down;
    # the sweep's production settings, so that only a prompt reconnection, not a
    # test-short grace period, gets the outage's submissions graded soon.
    env = service_env(
        url,
        f"redis://127.0.0.1:{port}/0",
        RUBRIC_SUBMISSION_RATE="100/minute",
        RUBRIC_REQUEUE_AFTER_SECONDS="30",
        RUBRIC_SWEEP_SECONDS="5",
    )
    app = make_app(url)
    with ExitStack() as stack, app.app_context():
        parts = SimpleNamespace(
            redis=redis_server(port, tmp_path, name="private-redis"),
            worker=worker("private-worker", env, tmp_path),
            web=gunicorn(env, tmp_path, name="private-gunicorn"),
        )
        for service in (parts.redis, parts.worker, parts.web):
            stack.callback(service.stop)
            service.start()
        token = create_token(find_user("student@example.edu"))
        parts.headers = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        yield parts
        db.session.remove()
        db.engine.dispose()
    databases.drop(url)


def test_submissions_made_while_redis_is_down_are_graded_after_it_returns(private):
    status, body = submit(private.web.port, private.headers, REFERENCE)
    assert status == 202, body
    wait_until(lambda: all_graded(1), 30, "the first submission to be graded")

    private.redis.stop()
    started = time.monotonic()
    answers = [submit(private.web.port, private.headers, code) for code in [WRONG, REFERENCE] * 3]
    assert [status for status, _ in answers] == [202] * 6, answers
    # Only the first request waits on the dead broker; the others skip it (it was 2 s each).
    assert time.monotonic() - started < 8
    waiting = submissions()[1:]
    assert [row.status for row in waiting] == [SubmissionStatus.QUEUED] * 6
    time.sleep(max(0.0, started + OUTAGE_SECONDS - time.monotonic()))

    restarted_at = datetime.now(UTC)
    private.redis.start()
    # The worker reconnects (it tries every 2 s at most), and once reconnected its
    # sweep re-sends at once what the web process could not publish.
    rows = wait_until(lambda: all_graded(7), 45, "the submissions made during the outage")
    for row in rows[1:]:
        assert row.graded_at > restarted_at
        assert row.tries == 1
    assert [row.score for row in rows[1:]] == [7.5, 10.0] * 3
    recovered = max(row.graded_at for row in rows) - restarted_at
    assert recovered < timedelta(seconds=8), recovered
    waits = [float(s) for s in RETRY_LINE.findall(private.worker.log.read_text())]
    assert len(waits) >= 3 and max(waits) <= 2.0, waits


OUTAGE_SECONDS = 7  # long enough for Celery's own backoff to reach 4 s, then 6 s
RETRY_LINE = re.compile(r"Trying again in ([0-9.]+) seconds?")
