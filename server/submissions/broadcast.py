"""Announcing finished gradings to every web process, over Redis pub/sub (scale-out).

A `rubric worker` that records a result publishes the submission's id; each web
process listens and wakes its own waiters (notify.finished), so a long-polling
request answers as soon as the grading is recorded instead of at its next look at
the database. Fire and forget: an announcement lost while a listener reconnects only
means its waiter sees the result at that next look, at most a second later.
"""

import contextlib
import logging
import threading

import redis

from server.submissions import notify

log = logging.getLogger("rubric.broadcast")
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # between attempts to listen again, per failure
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def client(broker_url: str) -> redis.Redis:
    """Return this process's Redis client for the broker (thread-safe, pooled)."""
    with _clients_lock:
        if broker_url not in _clients:
            _clients[broker_url] = redis.Redis.from_url(
                broker_url, socket_timeout=2, socket_connect_timeout=2
            )
        return _clients[broker_url]


def channel(broker_url: str) -> str:
    """Name the channel after the broker's database, as pub/sub ignores database numbers."""
    database = client(broker_url).connection_pool.connection_kwargs.get("db", 0)
    return f"rubric:{database}:finished"


def announce(broker_url: str, submission_id: int) -> None:
    """Tell every listening web process that a submission's grading finished."""
    try:
        client(broker_url).publish(channel(broker_url), str(submission_id))
    except redis.RedisError as exc:  # its waiters will see the result in the database
        log.info("could not announce: %s", exc, extra={"submission_id": submission_id})


class Listener:
    """A daemon thread that wakes this process's waiters for each announced submission."""

    def __init__(self, broker_url: str):
        self.client, self.channel = client(broker_url), channel(broker_url)
        self.live = threading.Event()  # subscribed: announcements reach this process
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rubric-broadcast", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop listening (within a second)."""
        self.stopping.set()
        self.thread.join(5)

    def _run(self) -> None:
        failures = 0  # attempts in a row that failed to subscribe
        while not self.stopping.is_set():
            try:
                self._listen()
            except (redis.RedisError, OSError) as exc:
                if self.live.is_set() or not failures:  # once per outage
                    log.warning("not hearing finished gradings, retrying: %s", exc)
            failures = 1 if self.live.is_set() else failures + 1  # a dropped one starts over
            self._heard(False)
            self.stopping.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    def _listen(self) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            self._heard(True)
            while not self.stopping.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "message":
                    with contextlib.suppress(ValueError):
                        notify.finished(int(message["data"]))
        finally:
            with contextlib.suppress(Exception):
                pubsub.close()

    def _heard(self, live: bool) -> None:
        """Say whether announcements reach this process, here and to the waiters."""
        if live == self.live.is_set():
            return
        if live:
            self.live.set()
        else:
            self.live.clear()
        notify.listener_live(live)
