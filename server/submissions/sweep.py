"""Re-queue what a dead worker, a lost message or a failed grader left behind."""

import logging
import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from server.extensions import db
from server.models import Submission, SubmissionStatus
from server.models.types import utcnow

log = logging.getLogger("rubric.sweep")
BATCH = 500


def stuck_submissions() -> list[int]:
    """Return submissions that should be graded by now but nobody is grading."""
    from server.submissions.service import setting

    now = utcnow()
    grace = timedelta(seconds=setting("RUBRIC_REQUEUE_AFTER_SECONDS"))
    last_sent = sa.func.coalesce(Submission.enqueued_at, Submission.submitted_at)
    query = (
        sa.select(Submission.id)
        .where(
            sa.or_(
                sa.and_(Submission.status == SubmissionStatus.QUEUED, last_sent < now - grace),
                sa.and_(
                    Submission.status == SubmissionStatus.RUNNING, Submission.lease_until < now
                ),
                sa.and_(Submission.status == SubmissionStatus.ERROR, Submission.retry_at <= now),
            )
        )
        .order_by(Submission.id)
        .limit(BATCH)
    )
    return list(db.session.scalars(query))


def sweep_once(queue) -> int:
    """Re-queue every stuck submission once; return how many were sent."""
    from server.submissions.service import mark_enqueued

    sent = 0
    for submission_id in stuck_submissions():
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
        self.interval = app.config["RUBRIC_SWEEP_SECONDS"]
        self.thread = threading.Thread(target=self._loop, name="rubric-sweeper", daemon=True)
        if self.interval > 0:
            self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            with self.app.app_context():
                try:
                    sweep_once(self.queue)
                except Exception:  # the database may be down; try again next round
                    log.exception("sweep failed")
                finally:
                    db.session.remove()

    def stop(self) -> None:
        """Stop after the current round."""
        self.stopped.set()
