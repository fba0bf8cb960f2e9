"""The pieces that keep a process useful after its database connections were dropped.

The connection-storm test found both bugs, but only when a termination happened to
land inside a sweep's transaction; these tests hit those moments on purpose.
"""

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.submissions import sweep
from server.submissions.sessions import release_session
from tests.scaleout.processes import wait_until


def test_the_sweep_thread_outlives_rounds_that_fail(app, monkeypatch):
    rounds = []

    def failing_then_fine(_queue) -> int:
        rounds.append(len(rounds))
        if rounds == [0]:
            raise RuntimeError("a bug in one round")
        if rounds == [0, 1]:
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection lost"))
        return 0

    monkeypatch.setattr(sweep, "sweep_once", failing_then_fine)
    app.config["RUBRIC_SWEEP_SECONDS"] = 0.05
    sweeper = sweep.Sweeper(app, queue=None)
    try:
        wait_until(lambda: len(rounds) >= 3, 10, "a round after the failing ones")
        assert sweeper.thread.is_alive()
    finally:
        sweeper.stop()


def test_a_session_whose_connection_was_terminated_is_released_cleanly(app, databases):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs PostgreSQL (pg_terminate_backend); make test runs it there")
    pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()  # opens a txn
    with databases.admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    wait_until(lambda: not _alive(databases, pid), 10, "the backend to end")

    release_session()  # Flask-SQLAlchemy's plain remove() raises OperationalError here
    assert db.session.execute(sa.text("SELECT 1")).scalar_one() == 1


def _alive(databases, pid: int) -> bool:
    with databases.admin.connect() as conn:
        query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        return conn.execute(query, {"pid": pid}).scalar_one() > 0
