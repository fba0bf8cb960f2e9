"""The Celery side: one task, `rubric.grade`, run by `rubric worker` processes."""

import functools
import logging
import threading

import sqlalchemy as sa
from celery import Celery, signals
from celery.worker.consumer import Consumer as CeleryConsumer
from flask import Flask

from server.submissions import broadcast
from server.submissions.sessions import first_line, release_session

log = logging.getLogger("rubric.worker")
celery = Celery("rubric")
QUEUE = "rubric-grading"
_flask_app: Flask | None = None
_sweeper = None  # this worker's, once it is ready
# Between attempts to reach a lost broker: the first wait, how much each next one
# adds, the longest. Kombu's default grows to 30 s: a worker would notice a Redis
# that came back up to half a minute late, and gave up after 100 attempts.
RECONNECT_SECONDS = (0.5, 0.5, 2.0)


class Consumer(CeleryConsumer):
    """Celery's consumer, retrying a lost broker every 2 s at most, and for ever.

    Once reconnected it wakes the sweep: what was stored while the broker was down
    was never sent, and can be now.
    """

    def ensure_connected(self, conn):
        first, step, longest = RECONNECT_SECONDS
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=first, interval_step=step, interval_max=longest
        )
        conn = super().ensure_connected(conn)
        if _sweeper is not None:
            _sweeper.queue.broker_is_back()
            _sweeper.wake()
        return conn


def configure(broker_url: str) -> Celery:
    """Point the Celery app at the broker, with at-least-once delivery settings."""
    celery.conf.update(
        broker_url=broker_url,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        # Acknowledge after grading, and hand the message back if the worker dies:
        # at-least-once delivery; the database claim makes recording exactly once.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a grading worker has nothing else to do
        worker_consumer=f"{__name__}:Consumer",
        broker_transport_options={"visibility_timeout": 300},
        worker_hijack_root_logger=False,
    )
    return celery


@celery.task(name="rubric.grade")
def grade(submission_id: int) -> str:
    """Grade one submission in this worker: the one next in fair order, not necessarily this one.

    A message is a turn at the graders, not an order: each submission sends one, and
    each turn takes whichever claimable submission comes next round-robin by student
    (service.claim_next), so one student's burst of messages queued in the broker
    cannot make everybody else's wait behind it. Duplicates and stale messages find
    nothing to claim; a lost one leaves a submission queued for the sweep to re-send.
    """
    from server.submissions.runner import process_next

    with _flask_app.app_context():
        try:
            outcome, graded_id = process_next(hint=submission_id)
            if outcome in ("graded", "error"):  # the web processes' waiters may look now
                broadcast.announce(_flask_app.config["RUBRIC_BROKER_URL"], graded_id)
            return outcome
        except sa.exc.DBAPIError as exc:  # the claim or record failed; the sweep retries
            log.warning(
                "database unavailable, the sweep will retry: %s",
                first_line(exc.orig),
                extra={"submission_id": submission_id},
            )
            return "database_unavailable"
        finally:
            release_session()


def run_worker(app: Flask, concurrency: int, loglevel: str = "INFO") -> None:
    """Run a Celery worker (threads feeding this process's warm fork server) and the sweep."""
    global _flask_app
    _flask_app = app
    configure(app.config["RUBRIC_BROKER_URL"])
    celery.worker_main(
        [
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            loglevel,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


@signals.worker_ready.connect
def _on_ready(**_kwargs) -> None:
    """Warm the fork server and start sweeping once the worker is up."""
    from server.sandbox import get_sandbox
    from server.submissions.queue import CeleryQueue
    from server.submissions.sweep import Sweeper

    global _sweeper
    threading.Thread(target=get_sandbox, name="rubric-warmup", daemon=True).start()
    _sweeper = Sweeper(_flask_app, CeleryQueue(_flask_app))
    from server.lti import passback

    passback.start_sender(_flask_app)  # grade passback: every worker sends due scores
