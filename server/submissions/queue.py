"""Who grades: a pool of threads in this process, or Celery workers behind a broker.

Either way the database is the source of truth: a message only says "look at
submission N"; losing one delays grading until the sweep, it never loses work.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from server.extensions import db
from server.submissions import runner, service, sweep

log = logging.getLogger("rubric.queue")


class EmbeddedQueue:
    """Grade in threads of this process, feeding the local fork server."""

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(
            app.config["RUBRIC_GRADING_THREADS"], thread_name_prefix="rubric-grader"
        )
        self.sweeper = sweep.Sweeper(app, self)

    def enqueue(self, submission_id: int) -> bool:
        """Hand a submission to the pool."""
        self.pool.submit(self._grade, submission_id)
        return True

    def _grade(self, submission_id: int) -> None:
        with self.app.app_context():
            try:
                runner.process(submission_id)
            except Exception:  # e.g. the database is down: the sweep retries later
                log.exception("grading failed", extra={"submission_id": submission_id})
            finally:
                db.session.remove()

    def close(self) -> None:
        """Stop sweeping and let running gradings finish."""
        self.sweeper.stop()
        self.pool.shutdown(wait=True)


class CeleryQueue:
    """Send grading to `rubric worker` processes through the broker."""

    def __init__(self, app: Flask):
        from server.submissions.celery_app import configure

        self.celery = configure(app.config["RUBRIC_BROKER_URL"])

    def enqueue(self, submission_id: int) -> bool:
        """Publish a grading message; False (and logged) when the broker is unreachable."""
        try:
            self.celery.send_task("rubric.grade", args=[submission_id], retry=False)
        except Exception as exc:  # kombu's errors vary by transport; all mean "not sent"
            log.warning(
                "broker unreachable, the sweep will re-send: %s",
                exc,
                extra={"submission_id": submission_id},
            )
            return False
        return True

    def close(self) -> None:
        """Nothing runs here."""


_lock = threading.Lock()


def get_queue(app: Flask):
    """Return this process's grading queue, made on first use."""
    with _lock:
        if "rubric_queue" not in app.extensions:
            broker = app.config["RUBRIC_BROKER_URL"]
            app.extensions["rubric_queue"] = CeleryQueue(app) if broker else EmbeddedQueue(app)
        return app.extensions["rubric_queue"]


def dispatch(app: Flask, submission_id: int) -> None:
    """Queue a stored submission for grading and note when it was sent."""
    if get_queue(app).enqueue(submission_id):
        service.mark_enqueued(submission_id)
