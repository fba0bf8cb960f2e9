"""Fixtures for tests against real processes: a gunicorn on the test's database, students."""

import pytest
from werkzeug.security import generate_password_hash

from server.accounts import create_token
from server.courses import enroll
from server.extensions import db
from server.models import Role, User
from tests.conftest import SCALE_OUT
from tests.scaleout.cluster import service_env
from tests.scaleout.processes import gunicorn

# One slow hash shared by every generated student: their passwords are never used.
_HASH = generate_password_hash("unused")


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
        users = [
            User(email=f"load{i}@example.edu", name=f"Load {i}", role=Role.STUDENT)
            for i in range(n)
        ]
        for user in users:
            user.password_hash = _HASH
        db.session.add_all(users)
        db.session.flush()
        for user in users:
            enroll(user, demo)
        tokens = [create_token(user) for user in users]
        db.session.commit()
        return [{"Authorization": f"Bearer {token}"} for token in tokens]

    return make
