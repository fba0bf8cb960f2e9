"""Who grades: a pool of threads in this process, or Celery workers behind a broker.

Either way the database is the source of truth: a message only says "grade one"
(a turn at the graders, taken by whichever submission comes next round-robin by
student); losing one delays grading until the sweep, it never loses work.
"""

import logging
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from flask import Flask

from server.extensions import db
from server.models import Submission
from server.submissions import broadcast, notify, runner, service, sweep
from server.submissions.sessions import first_line, release_session

log = logging.getLogger("rubric.queue")
# After a failed publish, don't try the broker again for this long: each try can block
# for seconds (connect timeout, client retries), on a request thread or per submission
# of a sweep. Submissions stay stored and queued; the sweep re-sends them afterwards.
BROKER_RETRY_SECONDS = 5.0


class FairOrder:
    """Submissions waiting in this process, handed out round-robin by student.

    The next is the oldest of the student with the fewest gradings running here (ties:
    whose oldest waited longest), so one student's burst takes one turn in each round
    while every other student waiting gets one too; regrades (regrade.py) come after
    all live work. The same order as service.claim_next's, kept in memory because the
    submissions were handed to this process. Not thread-safe: the queue holds its lock.
    """

    def __init__(self) -> None:
        # (regrade?, student) -> submission ids, oldest first
        self.lines: dict[tuple[bool, int], deque[int]] = {}
        self.student_of: dict[int, int] = {}  # waiting submission -> its student
        self.running: Counter[int] = Counter()  # student -> gradings taken, not done

    def __contains__(self, submission_id: int) -> bool:
        return submission_id in self.student_of

    def __len__(self) -> int:
        return len(self.student_of)

    def add(self, submission_id: int, student: int, regrade: bool) -> None:
        """Put a submission at the end of its student's line."""
        self.lines.setdefault((regrade, student), deque()).append(submission_id)
        self.student_of[submission_id] = student

    def take(self) -> tuple[int, int]:
        """Remove the submission whose turn it is; return it and its student, now running."""
        # A scan of the students waiting (at most the course queue cap): no heap to
        # keep in step with the running counts, which change as gradings end.
        key = min(self.lines, key=self.turn)
        line = self.lines[key]
        submission_id = line.popleft()
        if not line:
            del self.lines[key]
        student = self.student_of.pop(submission_id)
        self.running[student] += 1
        return submission_id, student

    def turn(self, key: tuple[bool, int]) -> tuple:
        """Sort key of a line's first submission: the smallest goes next."""
        regrade, student = key
        return regrade, self.running[student], self.lines[key][0]

    def done(self, student: int) -> None:
        """A grading taken for this student ended, graded or not."""
        self.running[student] -= 1
        if self.running[student] <= 0:
            del self.running[student]


_STUDENT = sa.select(Submission.user_id, Submission.regraded_at.is_not(None)).where(
    Submission.id == sa.bindparam("submission_id")
)


class EmbeddedQueue:
    """Grade in threads of this process, feeding the local fork server, in fair order."""

    # A hand-over to this process's pool is lost only if the process dies, and then
    # the sweep finds the submission by its submitted_at: noting the send would cost
    # a second write transaction per submission and tell the sweep nothing new.
    notes_sends = False
    order_class = FairOrder  # the fairness benchmark swaps in first-in-first-out

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(
            app.config["RUBRIC_GRADING_THREADS"], thread_name_prefix="rubric-grader"
        )
        self.lock = threading.Lock()
        # Handed to the pool, not started yet. The pool gets one task per submission
        # added here, and each task takes whichever submission's turn it is then.
        self.order = self.order_class()
        self.sweeper = sweep.Sweeper(app, self)

    def enqueue(self, submission_id: int) -> bool:
        """Hand a submission to the pool, unless it is already waiting there."""
        row = db.session.execute(_STUDENT, {"submission_id": submission_id}).first()
        if row is None:
            return False  # nothing to grade
        with self.lock:
            if submission_id in self.order:
                return True  # a second copy would only lose the claim later
            self.order.add(submission_id, *row)
        notify.grading_here(submission_id)  # its waiters here need not poll the database
        self.pool.submit(self._grade_next)
        return True

    def backlog(self) -> int:
        """How many submissions wait in this process for a grading thread."""
        return len(self.order)

    def _grade_next(self) -> None:
        with self.lock:
            submission_id, student = self.order.take()
        with self.app.app_context():
            try:
                runner.process(submission_id)
            except sa.exc.DBAPIError as exc:  # the database is down: the sweep retries
                log.warning(
                    "database unavailable, the sweep will retry: %s",
                    first_line(exc.orig),
                    extra={"submission_id": submission_id},
                )
            except Exception:  # a bug: worth its traceback; the sweep retries too
                log.exception("grading failed", extra={"submission_id": submission_id})
            finally:
                with self.lock:
                    self.order.done(student)
                notify.done_here(submission_id)
                release_session()

    def close(self) -> None:
        """Stop sweeping and let running gradings finish."""
        self.sweeper.stop()
        self.pool.shutdown(wait=True)


class CeleryQueue:
    """Send grading to `rubric worker` processes through the broker."""

    notes_sends = True  # the sweep re-sends what went unnoted (e.g. Redis was down)

    def __init__(self, app: Flask):
        from server.submissions.celery_app import configure

        self.broker_url = app.config["RUBRIC_BROKER_URL"]
        self.celery = configure(self.broker_url)
        self.broker_down_until = 0.0  # time.monotonic() before which we don't try
        self.listener: broadcast.Listener | None = None

    def enqueue(self, submission_id: int) -> bool:
        """Publish a grading message; False when the broker is (recently was) unreachable."""
        if time.monotonic() < self.broker_down_until:
            return False
        try:
            self.celery.send_task("rubric.grade", args=[submission_id], retry=False)
        except Exception as exc:  # kombu's errors vary by transport; all mean "not sent"
            self.broker_down_until = time.monotonic() + BROKER_RETRY_SECONDS
            log.warning(
                "broker unreachable, the sweep will re-send: %s",
                exc,
                extra={"submission_id": submission_id},
            )
            return False
        return True

    def broker_is_back(self) -> None:
        """Try the broker again now, not after BROKER_RETRY_SECONDS (it answered elsewhere)."""
        self.broker_down_until = 0.0

    def backlog(self) -> int | None:
        """How many messages wait in the broker for a worker; None when it cannot tell."""
        from server.submissions.celery_app import QUEUE

        if time.monotonic() < self.broker_down_until:
            return None
        try:
            with self.celery.pool.acquire(block=True, timeout=2) as connection:
                # On Redis (the supported broker) declaring is a no-op that reports the size.
                return connection.default_channel.queue_declare(queue=QUEUE).message_count
        except Exception:  # unreachable broker: the caller decides without the figure
            return None

    def listen(self) -> None:
        """Hear the workers' announcements of finished gradings, for this process's waiters."""
        if self.listener is None:
            self.listener = broadcast.Listener(self.broker_url)

    def close(self) -> None:
        """Stop listening for announcements."""
        if self.listener is not None:
            self.listener.stop()


_lock = threading.Lock()


def get_queue(app: Flask):
    """Return this process's grading queue (a web process's), made on first use."""
    with _lock:
        if "rubric_queue" not in app.extensions:
            if app.config["RUBRIC_BROKER_URL"]:
                queue = CeleryQueue(app)
                queue.listen()  # its long-polling requests want to hear of gradings
            else:
                queue = EmbeddedQueue(app)
            app.extensions["rubric_queue"] = queue
        return app.extensions["rubric_queue"]


def dispatch(app: Flask, submission_id: int) -> None:
    """Queue a stored submission for grading and note when it was sent.

    Never fails for a database error: the submission is committed already, so the
    caller's 202 is true, and whatever was not sent or noted here the sweep re-sends.
    """
    try:
        queue = get_queue(app)
        if queue.enqueue(submission_id) and queue.notes_sends:
            service.mark_enqueued(submission_id)
    except sa.exc.DBAPIError as exc:
        db.session.rollback()
        log.warning(
            "could not note the submission as sent, the sweep will: %s",
            exc.orig,
            extra={"submission_id": submission_id},
        )
