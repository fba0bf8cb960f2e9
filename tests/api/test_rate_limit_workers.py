"""The per-user code-submission limit holds across every web process of a machine."""

from tests.api.test_submissions import URL
from tests.conftest import BROKER_URL
from tests.scaleout.cluster import service_env
from tests.scaleout.processes import gunicorn
from tests.scaleout.support import call


def test_ten_a_minute_accepts_exactly_ten_of_twenty_posts_over_two_processes(
    app, demo, token_for, tmp_path
):
    # Without Redis (the default deployment) the counters are in a file beside the
    # database; in the scale-out pass, in Redis.
    env = service_env(app.config["SQLALCHEMY_DATABASE_URI"], BROKER_URL)
    env |= {"RUBRIC_SUBMISSION_RATE": "10/minute"}
    # Two gunicorns of one worker each, posted to in turn: which worker of one gunicorn
    # takes a connection is the kernel's choice, and it often picks the same one.
    servers = [gunicorn(env, tmp_path, workers=1, name=f"web{n}") for n in (1, 2)]
    headers = token_for("student@example.edu")
    try:
        for server in servers:
            server.start()
        statuses = [
            call(servers[n % 2].port, "POST", URL, headers, {"code": f"x = {n}"})[0]
            for n in range(20)
        ]
    finally:
        for server in servers:
            server.stop()
    assert sorted(statuses) == [202] * 10 + [429] * 10
