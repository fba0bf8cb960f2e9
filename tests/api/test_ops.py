"""Health check and metrics an operator reads."""

import time

from server.submissions.queue import get_queue
from tests.api.test_submissions import REFERENCE, URL, wait_graded
from tests.conftest import SCALE_OUT, make_app


def test_healthz_reports_database_and_warm_sandbox(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    # Scale-out: the web process reaches Redis, and the fork servers live in the workers.
    broker, sandbox = ("ok", "in workers") if SCALE_OUT else ("not configured", "warm")
    announcements = "not listening" if SCALE_OUT else "in process"  # no queue made yet
    assert response.json["checks"] == {
        "database": "ok",
        "broker": broker,
        "sandbox": sandbox,
        "announcements": announcements,
    }


def test_healthz_says_whether_announcements_reach_this_process(client, app):
    get_queue(app)  # what each gunicorn worker does at boot
    if SCALE_OUT:
        assert app.extensions["rubric_queue"].listener.live.wait(5)
    checks = client.get("/healthz").json["checks"]
    assert checks["announcements"] == ("listening" if SCALE_OUT else "in process")


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    # A real unreachable database: nothing listens on port 9 (discard) of loopback.
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["checks"]["database"].startswith("unreachable")


def test_metrics_count_submissions_and_latency(client, demo, token_for):
    headers = token_for("student@example.edu")
    submission_id = client.post(URL, json={"code": REFERENCE}, headers=headers).json["id"]
    wait_graded(client, submission_id, headers)
    time.sleep(0.01)
    text = client.get("/metrics").text
    assert 'rubric_submissions{status="graded"} 1' in text
    assert 'rubric_submissions{status="queued"} 0' in text
    assert "rubric_grading_latency_seconds_count 1" in text
    assert 'rubric_grading_latency_seconds{quantile="0.99"}' in text


def test_api_answers_503_json_when_the_database_is_unreachable():
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    response = app.test_client().get(
        "/api/v1/courses/demo/assignments", headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 503
    assert response.json["error"]["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == "5"
