"""Fixtures for tests against real processes: a gunicorn on the test's database, students."""

import pytest

from server.demo import enroll_load_students
from tests.conftest import SCALE_OUT
from tests.scaleout.cluster import service_env
from tests.scaleout.processes import gunicorn


@pytest.fixture
def web(request, app, demo, tmp_path):
    """gunicorn (2 workers, `rubric serve` settings) on this test's database.

    Embedded mode: each web worker grades in its own threads. Scale-out mode: the
    web workers send grading to the cluster's `rubric worker` processes.
    """
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if SCALE_OUT:
        server = request.getfixturevalue("cluster").web()
    else:
        server = gunicorn(service_env(url, None), tmp_path)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def students(demo):
    """Enroll n new students in the demo course; return their Authorization headers."""

    def make(n: int) -> list[dict[str, str]]:
        tokens = enroll_load_students(demo, "load", n)
        return [{"Authorization": f"Bearer {token}"} for token in tokens]

    return make
