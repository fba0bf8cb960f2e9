"""Fair grading: one student's burst of submissions does not make everybody else wait.

Graders take submissions round-robin by student (the embedded queue in memory, the
scale-out workers through service.claim_next), so another student's submission waits
for at most about one grading per grading thread, not for the whole burst. Asserted on
the order of the claims (each claim sets started_at), never on how long anything took.
"""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Submission
from server.models.types import utcnow
from server.submissions import service
from server.submissions.queue import FairOrder
from tests.api.test_submissions import REFERENCE, URL, stored, wait_graded
from tests.conftest import SCALE_OUT
from tests.scaleout.processes import wait_until
from tests.scaleout.support import slow_reference, store_without_message

BURST = 16
# Each of the burst's submissions holds a grading thread this long, so that most of
# the burst still waits when the other student submits.
SLOW_SECONDS = 0.3
# Issue 13, point 3: every function hangs, holding a grading thread as long as the
# grader lets a submission run.
HOSTILE = "import time\n" + "".join(
    f"\n\ndef {name}(*args):\n    time.sleep(100)\n"
    for name in ("l2_penalty", "l2_gradient", "weight_decay_step")
)


def queued(email: str, count: int = 1) -> list[int]:
    """Store queued submissions directly, with no message sent: only claim_next takes them."""
    ids = []
    for _ in range(count):
        ids.append(store_without_message(email))
        db.session.execute(  # it numbers each 1000: free that number for the next one
            db.update(Submission).where(Submission.id == ids[-1]).values(number=Submission.id)
        )
        db.session.commit()
    return ids


@pytest.fixture
def graders(request, app) -> int:
    """How many submissions can be graded at once: every grading thread there is."""
    if SCALE_OUT:
        cluster = request.getfixturevalue("cluster")
        return len(cluster.workers) * 2  # tests.scaleout.processes.worker's concurrency
    return app.config["RUBRIC_GRADING_THREADS"]


def test_a_burst_of_one_student_delays_another_by_at_most_a_grading_per_thread(
    client, student, other, graders
):
    waited_behind, still_waiting = burst_then_one(
        client, student, other, slow_reference(SLOW_SECONDS), BURST
    )

    # Still waiting when the other student came, most of the burst (FIFO: all of it)
    # would be claimed first; in turn, at most the thread that frees up first.
    assert still_waiting > graders
    assert len(waited_behind) <= graders, waited_behind


def test_the_hostile_burst_of_issue_13_does_not_stall_another_student(
    client, student, other, graders
):
    # Twice the graders and one: first in, first out, the other student would wait
    # for every thread's hostile grading and one more besides.
    waited_behind, still_waiting = burst_then_one(client, student, other, HOSTILE, 2 * graders + 1)

    assert still_waiting > graders
    assert len(waited_behind) <= graders, waited_behind


def test_a_grading_longer_than_the_lease_keeps_its_claim(app, client, student):
    # The grader may spend two wall limits (4 s) on a hanging submission: longer than
    # the lease here (the cluster's is 3 s), which would have it taken back and graded
    # again, each grading losing its claim in turn.
    app.config["RUBRIC_GRADING_LEASE_SECONDS"] = 1
    submission_id = client.post(URL, json={"code": HOSTILE}, headers=student).json["id"]

    row = wait_until(lambda: graded_or_taken_back(submission_id), 30, "the grading")

    assert (row.status, row.tries) == ("graded", 1)


def graded_or_taken_back(submission_id: int) -> Submission | None:
    """The submission once graded or claimed a second time, else None."""
    (row,) = [r for r in stored() if r.id == submission_id]
    return row if row.status == "graded" or row.tries > 1 else None


def burst_then_one(client, student, other, code: str, count: int) -> tuple[list[int], int]:
    """Submit `count` times as one student, then the reference as another; wait for all.

    Returns the burst's submissions claimed after the other student's came and before
    it, and how many of the burst were claimed after it came at all.
    """
    burst = [client.post(URL, json={"code": code}, headers=student) for _ in range(count)]
    assert [r.status_code for r in burst] == [202] * count
    theirs = client.post(URL, json={"code": REFERENCE}, headers=other).json["id"]

    assert wait_graded(client, theirs, other)["score"] == 10
    for response in burst:
        wait_graded(client, response.json["id"], student)

    rows = stored()
    mine = next(r for r in rows if r.id == theirs)
    after = [r for r in rows if r.id != theirs and r.started_at > mine.submitted_at]
    return [r.id for r in after if r.started_at < mine.started_at], len(after)


@pytest.mark.skipif(SCALE_OUT, reason="the cluster's workers would claim the rows themselves")
def test_claim_next_takes_turns_by_student_and_leaves_regrades_last(app, demo):
    a = queued("student@example.edu", 3)
    (regrade,) = queued("student3@example.edu")
    (b,) = queued("student2@example.edu")
    db.session.execute(
        db.update(Submission).where(Submission.id == regrade).values(regraded_at=utcnow())
    )
    db.session.commit()

    first = service.claim_next()  # a's oldest; it is now being graded
    second = service.claim_next()  # b's: a already has one running

    assert (first.submission_id, second.submission_id) == (a[0], b)
    assert [service.claim_next().submission_id for _ in range(3)] == [a[1], a[2], regrade]
    assert service.claim_next() is None


@pytest.mark.skipif(SCALE_OUT, reason="the cluster's workers would claim the rows themselves")
def test_claim_next_takes_back_an_expired_lease_in_its_turn(app, demo):
    a = queued("student@example.edu", 2)
    (b,) = queued("student2@example.edu")
    held = service.claim(a[0])
    db.session.execute(
        db.update(Submission)
        .where(Submission.id == held.submission_id)
        .values(lease_until=utcnow() - timedelta(seconds=1))  # its grader died
    )
    db.session.commit()

    taken = [service.claim_next().submission_id for _ in range(3)]

    assert taken == [a[0], b, a[1]]  # a's dead grading no longer counts as running


def test_the_embedded_order_takes_turns_by_student_and_leaves_regrades_last():
    order = FairOrder()
    for submission_id in (1, 2, 3):
        order.add(submission_id, student=10, regrade=False)
    order.add(4, student=30, regrade=True)
    order.add(5, student=20, regrade=False)

    first, second = order.take(), order.take()
    order.done(10)  # student 10's first grading ended
    rest = [order.take() for _ in range(3)]

    assert (first, second) == ((1, 10), (5, 20))
    assert rest == [(2, 10), (3, 10), (4, 30)]
    assert len(order) == 0 and 4 not in order


def test_a_turn_waits_for_its_own_submission_held_by_a_short_transaction(app, demo):
    """The POST notes the message as sent just after sending it: a worker must not skip it."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no row locks, writers wait for each other")
    (mine,) = queued("student@example.edu")
    claims = []

    def grader() -> None:
        with app.app_context():
            claims.append(service.claim_next())
            db.session.remove()

    with db.engine.connect() as poster:  # holds the row's lock until it commits
        poster.execute(
            db.update(Submission).where(Submission.id == mine).values(enqueued_at=utcnow())
        )
        thread = threading.Thread(target=grader)
        thread.start()
        # Either it waits for the lock (then gets the row), or it gave up on it already.
        wait_until(lambda: lock_awaited() or not thread.is_alive(), 10, "the grader")
        poster.commit()
    thread.join(10)

    assert [c.submission_id if c else None for c in claims] == [mine]


def lock_awaited() -> bool:
    """Whether a transaction on this database waits for a lock (PostgreSQL)."""
    with db.engine.connect() as conn:
        waiting = conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return waiting > 0
