"""Waiting for a submission's grading to finish, for long-polling requests.

A grader in this process (embedded mode) wakes the waiters of a submission as soon
as it records the result. A grader elsewhere (another gunicorn worker, a `rubric
worker`) cannot, so a waiter also looks at the database now and then; either way the
database decides, the wake-up only says "look now". While someone will say when it is
done (a grader in this process holds the submission, or this process hears the
workers' announcements, see broadcast.py), the waiter looks only once a second, in
case that word is lost.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from server.extensions import db
from server.models import Submission, SubmissionStatus

# Seconds between looks at the database while nothing in this process said "done":
# short at first (a grading takes ~20 ms), then a cheap query every 0.2 s at most.
LOOK_AFTER = (0.02, 0.03, 0.05, 0.1, 0.1, 0.2)
# While someone will say when it is done, looks are only a safety net (each costs a
# query; on a loaded server a grading waits ~0.5 s, i.e. ~7 looks on the backoff).
LOOK_WHEN_TOLD = 1.0
FINISHED = (SubmissionStatus.GRADED, SubmissionStatus.ERROR)

_lock = threading.Lock()
_waiting: dict[int, tuple[threading.Event, int]] = {}  # submission id -> (event, waiters)
_graded_here: set[int] = set()  # handed to a grader of this process, not finished by it
_listeners_live = 0  # listeners through which gradings recorded elsewhere are announced here


@contextmanager
def _watching(submission_id: int) -> Iterator[threading.Event]:
    with _lock:
        event, count = _waiting.get(submission_id, (None, 0))
        event = event or threading.Event()
        _waiting[submission_id] = (event, count + 1)
    try:
        yield event
    finally:
        with _lock:
            event, count = _waiting[submission_id]
            if count == 1:
                del _waiting[submission_id]
            else:
                _waiting[submission_id] = (event, count - 1)


def grading_here(submission_id: int) -> None:
    """Note that a grader in this process has the submission and will say when it is done."""
    with _lock:
        _graded_here.add(submission_id)


def done_here(submission_id: int) -> None:
    """The grader in this process is done with the submission, graded or not: look now."""
    with _lock:
        _graded_here.discard(submission_id)
    finished(submission_id)


def listener_live(live: bool) -> None:
    """A listener (broadcast.py) began, or stopped, hearing gradings recorded elsewhere."""
    global _listeners_live
    with _lock:
        _listeners_live += 1 if live else -1


def finished(submission_id: int) -> None:
    """Wake this process's waiters for a submission whose result was just recorded."""
    with _lock:
        entry = _waiting.get(submission_id)
    if entry is not None:
        entry[0].set()


def wait_slots(app) -> threading.BoundedSemaphore:
    """This process's permits to hold a request while it waits (RUBRIC_WAIT_SLOTS).

    A waiting request holds one of the worker's threads; gunicorn sets the number to
    its threads less one, so one thread always remains for other requests.
    """
    with _lock:
        if "rubric_wait_slots" not in app.extensions:
            slots = threading.BoundedSemaphore(max(0, app.config["RUBRIC_WAIT_SLOTS"]))
            app.extensions["rubric_wait_slots"] = slots
        return app.extensions["rubric_wait_slots"]


def waiting_count() -> int:
    """How many submissions have a waiter in this process (for tests)."""
    with _lock:
        return len(_waiting)


_STATUS = sa.select(Submission.status).where(Submission.id == sa.bindparam("submission_id"))


def wait_until_finished(submission_id: int, seconds: float) -> bool:
    """Wait up to `seconds` for the submission to be graded (or to fail grading).

    Call it after seeing the submission unfinished. Holds no database transaction or
    connection while it waits. Returns whether it finished.
    """
    deadline = time.monotonic() + seconds
    looks = iter(LOOK_AFTER)
    # Watch before the first look: a result recorded between the look and the wait
    # sets the event, so the wait returns at once instead of missing it.
    with _watching(submission_id) as event:
        # A grader of this process that still holds it will set the event when done,
        # so the caller's own look stands for the first one.
        look = not _held_here(submission_id)
        while True:
            status = db.session.scalar(_STATUS, {"submission_id": submission_id}) if look else None
            db.session.rollback()  # give the connection back while waiting
            if status in FINISHED:
                return True
            look = True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if _listeners_live > 0 or _held_here(submission_id):
                pause = LOOK_WHEN_TOLD
            else:
                pause = next(looks, LOOK_AFTER[-1])
            if event.wait(min(remaining, pause)):
                event.clear()  # the look below decides; a stale wake-up must not spin


def _held_here(submission_id: int) -> bool:
    """Tell whether a grader of this process has the submission and will say when done."""
    with _lock:
        return submission_id in _graded_here
