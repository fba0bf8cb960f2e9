"""Health check and metrics an operator reads."""

import time

import pytest

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


FAR = {"REMOTE_ADDR": "203.0.113.5"}  # an address on the internet (TEST-NET-3)


def test_metrics_are_refused_to_other_addresses_but_healthz_is_open(client):
    response = client.get("/metrics", environ_base=FAR)
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert "rubric_submissions" not in response.get_data(as_text=True)
    assert client.get("/healthz", environ_base=FAR).status_code == 200
    assert client.get("/metrics").status_code == 200  # loopback, the default


def test_metrics_with_a_token_need_it_from_elsewhere(app, client):
    app.config["RUBRIC_METRICS_TOKEN"] = "s3cret-token"
    missing = client.get("/metrics", environ_base=FAR)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {"Authorization": "Bearer s3cret-tokeN"}
    assert client.get("/metrics", environ_base=FAR, headers=wrong).status_code == 401
    odd = {"Authorization": "Bearer sécret"}  # not ASCII: still a plain 401
    assert client.get("/metrics", environ_base=FAR, headers=odd).status_code == 401
    right = {"Authorization": "Bearer s3cret-token"}
    response = client.get("/metrics", environ_base=FAR, headers=right)
    assert response.status_code == 200 and "rubric_submissions" in response.text


def status_from(client, address: str) -> int:
    return client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code


def test_metrics_allow_names_addresses_and_networks(app, client):
    app.config["RUBRIC_METRICS_ALLOW"] = "10.0.0.0/8, 192.0.2.7"
    assert status_from(client, "10.1.2.3") == status_from(client, "192.0.2.7") == 200
    assert status_from(client, "::ffff:10.9.9.9") == 200  # IPv4 through an IPv6 socket
    assert status_from(client, "192.0.2.8") == status_from(client, "127.0.0.1") == 403


def test_a_bad_metrics_allow_setting_stops_the_start(databases):
    with pytest.raises(ValueError, match="RUBRIC_METRICS_ALLOW"):
        make_app(databases.new_url(), RUBRIC_METRICS_ALLOW="10.0.0.0/33")
