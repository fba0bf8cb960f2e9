"""PostgreSQL drops every connection, repeatedly, under load: no 500, no hang, no lost work.

Every backend of the test's database (web workers, grading workers, this process)
is terminated several times while students submit and poll over HTTP. Each answer
must be a success or a clean 503 in the JSON error shape, and once the storm ends
the service works again without a restart.
"""

import threading

import pytest
import sqlalchemy as sa

from tests.scaleout.processes import wait_until
from tests.scaleout.support import (
    REFERENCE,
    WRONG,
    all_graded,
    call,
    gradebook_attempts,
    log_marks,
    store_without_message,
    submissions,
    submit,
    thread_deaths,
)

ROUNDS = 6  # terminations, 0.3 s apart


@pytest.fixture
def terminate(app, databases):
    """Return a function that kills every connection to the test's database."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs PostgreSQL (pg_terminate_backend); make test runs it there")
    name = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    admin = databases.admin  # connected to the server's maintenance database, not this one

    def kill_all() -> int:
        with admin.connect() as conn:
            return conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).scalar_one()

    return kill_all


class Traffic:
    """Students submitting and polling in threads until told to stop."""

    def __init__(self, port: int, headers: list[dict]):
        self.port, self.stop = port, threading.Event()
        self.answers: list[tuple[str, int, object]] = []  # (request, status, body)
        self.accepted: list[int] = []
        self.crashes: list[str] = []  # exceptions: timeouts, reset connections
        self.threads = [threading.Thread(target=self._student, args=(h,)) for h in headers]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _student(self, headers: dict) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                self._submit_and_poll(headers, REFERENCE if n % 2 else WRONG)
            except Exception as exc:  # noqa: BLE001 - any of them is a failure to report
                self.crashes.append(f"{type(exc).__name__}: {exc}")

    def _submit_and_poll(self, headers: dict, code: str) -> None:
        status, body = submit(self.port, headers, code)
        self.answers.append(("POST", status, body))
        if status == 202:
            self.accepted.append(body["id"])
            status, body = call(self.port, "GET", f"/api/v1/submissions/{body['id']}", headers)
            self.answers.append(("GET", status, body))


def unclean(answers) -> list:
    """Answers that are neither a success nor a 503 with the JSON error shape."""
    clean_503 = {"code": "database_unavailable", "message": "the database is unavailable"}
    return [
        (request, status, body)
        for request, status, body in answers
        if status not in (200, 202)
        and not (status == 503 and isinstance(body, dict) and body.get("error") == clean_503)
    ]


def test_dropped_connections_give_clean_503s_and_the_service_recovers(
    app, web, students, token_for, terminate
):
    headers = students(6)
    marks = log_marks()
    with Traffic(web.port, headers) as traffic:
        wait_until(lambda: len(traffic.accepted) >= 6, 30, "the first submissions")
        killed = 0
        for _ in range(ROUNDS):
            killed += terminate()
            traffic.stop.wait(0.3)  # pacing the storm, not waiting for a condition
    assert killed > 0
    assert traffic.crashes == []
    assert unclean(traffic.answers) == []

    # Recovery without a restart: the same processes answer, store and grade, and
    # their sweeps still run (a submission whose message was lost is picked up).
    assert call(web.port, "GET", "/healthz", {})[0] == 200
    status, body = submit(web.port, headers[0], REFERENCE)
    assert status == 202, body
    store_without_message("student2@example.edu")
    stored = len(submissions())
    rows = wait_until(lambda: all_graded(stored), 45, "every stored submission to be graded")
    assert set(traffic.accepted) | {body["id"]} <= {row.id for row in rows}
    book = gradebook_attempts(web.port, token_for("instructor@example.edu"))
    assert sum(entry["attempts"] for entry in book.values()) == len(rows)
    assert thread_deaths(marks) == []
