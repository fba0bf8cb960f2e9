"""Workers announce finished gradings over Redis; each web process wakes its own waiters."""

import time
from functools import partial

import pytest

from server.submissions import broadcast, notify
from server.submissions.queue import get_queue
from tests.conftest import BROKER_URL
from tests.scaleout.processes import free_port, redis_server, wait_until
from tests.scaleout.support import (
    REFERENCE,
    SUBMIT,
    graded,
    store_without_message,
    wait_while,
)


@pytest.fixture
def listening(app, cluster, demo, monkeypatch):
    """This process hears announcements, and its waiters could not see a result otherwise."""
    monkeypatch.setattr(notify, "LOOK_AFTER", (30.0,))
    monkeypatch.setattr(notify, "LOOK_WHEN_TOLD", 30.0)
    listener = get_queue(app).listener  # what every scale-out web process starts
    assert listener is not None and listener.live.wait(5), "never subscribed"
    return listener


def test_an_announcement_wakes_the_waiter_at_once(app, listening):
    submission_id = store_without_message("student@example.edu")
    # Graded, then announced as the worker that graded it does.
    announced = partial(broadcast.announce, BROKER_URL, submission_id)
    finished, seconds = wait_while(app, submission_id, 20, 0.3, graded(submission_id), announced)
    assert finished is True and seconds < 5


def test_a_worker_announces_what_it_graded(app, client, listening, token_for):
    headers = token_for("student@example.edu")
    submission_id = client.post(SUBMIT, json={"code": REFERENCE}, headers=headers).json["id"]
    started = time.monotonic()
    response = client.get(f"/api/v1/submissions/{submission_id}?wait=20", headers=headers)
    assert response.json["status"] == "graded"
    assert time.monotonic() - started < 10  # woken by the worker, not at the end of the wait


def test_announcements_of_another_database_are_not_heard(app, listening):
    other = BROKER_URL.rsplit("/", 1)[0] + "/15"
    assert broadcast.channel(other) != broadcast.channel(BROKER_URL)
    submission_id = store_without_message("student@example.edu")
    # Graded, then announced by another deployment on the same Redis.
    announced = partial(broadcast.announce, other, submission_id)
    _, seconds = wait_while(app, submission_id, 3, 0.3, graded(submission_id), announced)
    assert seconds > 2.5  # not woken: it saw the result at the wait's end


def test_a_listener_hears_again_once_redis_returns(cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(broadcast, "RETRY_SECONDS", (0.1,))
    heard = []
    monkeypatch.setattr(notify, "finished", heard.append)
    port = free_port()
    server = redis_server(port, tmp_path, name="announcements-redis").start()
    url = f"redis://127.0.0.1:{port}/0"
    listener = broadcast.Listener(url)
    try:
        assert listener.live.wait(5)
        server.stop()
        wait_until(lambda: not listener.live.is_set(), 10, "the listener to lose Redis")
        broadcast.announce(url, 41)  # lost, and no error for the worker that announced it
        server.start()
        assert listener.live.wait(10), "it never subscribed again"
        broadcast.announce(url, 42)
        wait_until(lambda: heard == [42], 10, "the announcement after the restart")
    finally:
        listener.stop()
        server.stop()
