"""Re-queue what a dead worker, a lost message or a failed grader left behind."""

import logging
import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from server.extensions import db
from server.models import Submission, SubmissionStatus
from server.models.types import utcnow
from server.submissions.sessions import first_line, release_session

log = logging.getLogger("rubric.sweep")
BATCH = 500
# A queued submission that was never noted as sent (the broker was down when it came)
# has no message anywhere: it is re-sent this long after it was stored, whatever the
# backlog. The wait only covers the moment between storing and noting the send.
UNSENT_AFTER_SECONDS = 2
# Regrades sent per round, and only when the queue is idle: a student's submission
# that arrives just after never waits behind more than these.
REGRADE_BATCH = 20


def stuck_submissions(include_queued: bool = True, notes_sends: bool = False) -> list[int]:
    """Return submissions that should be graded by now but nobody is grading.

    notes_sends: the queue notes each message it sends (enqueued_at), so a queued
    submission without that note was never sent.
    """
    from server.submissions.service import setting

    now = utcnow()
    grace = timedelta(seconds=setting("RUBRIC_REQUEUE_AFTER_SECONDS"))
    last_sent = sa.func.coalesce(Submission.enqueued_at, Submission.submitted_at)
    queued = Submission.status == SubmissionStatus.QUEUED
    stuck = [
        sa.and_(Submission.status == SubmissionStatus.RUNNING, Submission.lease_until < now),
        sa.and_(Submission.status == SubmissionStatus.ERROR, Submission.retry_at <= now),
    ]
    regrade = Submission.regraded_at.is_not(None)
    if include_queued:
        stuck.append(sa.and_(queued, ~regrade, last_sent < now - grace))
    if notes_sends:
        stored_before = now - timedelta(seconds=UNSENT_AFTER_SECONDS)
        unsent = sa.and_(queued, Submission.enqueued_at.is_(None))
        stuck.append(sa.and_(unsent, Submission.submitted_at < stored_before))
    found = _ids(sa.or_(*stuck), BATCH)
    if include_queued:  # regrades (regrade.py) last, a few at a time
        found += _ids(sa.and_(queued, regrade, last_sent < now - grace), REGRADE_BATCH)
    return sorted(set(found))


def _ids(condition: sa.ColumnElement[bool], limit: int) -> list[int]:
    query = sa.select(Submission.id).where(condition).order_by(Submission.id).limit(limit)
    return list(db.session.scalars(query))


def sweep_once(queue) -> int:
    """Re-queue every stuck submission once; return how many were sent.

    A submission queued longer than the grace period may just be waiting behind
    others: while the queue has a backlog, re-sending it would only add copies
    (each costing a failed claim later) and feed the overload. Its message is
    presumed lost only once the queue has drained. An expired lease, a due retry or
    a submission never sent is re-sent whatever the backlog: no message for it waits.
    """
    from server.submissions.service import mark_enqueued

    sent = 0
    stuck = stuck_submissions(include_queued=not queue.backlog(), notes_sends=queue.notes_sends)
    for submission_id in stuck:
        if queue.enqueue(submission_id):
            mark_enqueued(submission_id)
            sent += 1
    if sent:
        log.info("re-queued %d stuck submission(s)", sent)
    return sent


class Sweeper:
    """A daemon thread that sweeps every few seconds while the process lives."""

    def __init__(self, app: Flask, queue):
        self.app, self.queue = app, queue
        self.stopped = threading.Event()
        self.woken = threading.Event()  # sweep now, not at the end of the interval
        self.interval = app.config["RUBRIC_SWEEP_SECONDS"]
        self.thread = threading.Thread(target=self._loop, name="rubric-sweeper", daemon=True)
        if self.interval > 0:
            self.thread.start()

    def wake(self) -> None:
        """Sweep at once (e.g. the broker is back: what it missed can be sent now)."""
        self.woken.set()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            self.woken.wait(self.interval)
            self.woken.clear()
            if self.stopped.is_set():
                break
            try:
                self._round()
            except Exception:  # never let the thread die: stuck work would stay stuck
                log.exception("sweep failed")

    def _round(self) -> None:
        with self.app.app_context():
            try:
                sweep_once(self.queue)
            except sa.exc.DBAPIError as exc:  # the database is down: a line, not a trace
                log.warning("sweep skipped, database unavailable: %s", first_line(exc.orig))
            finally:
                release_session()

    def stop(self, timeout: float = 10) -> None:
        """Stop, and wait for the current round: it may hold a database connection."""
        self.stopped.set()
        self.woken.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
