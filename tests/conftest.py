"""Shared fixtures: an app on a freshly migrated database, clients and demo data.

Two modes, chosen by the environment (`make test` runs both):
- embedded (default): SQLite, or PostgreSQL with RUBRIC_TEST_DATABASE_URL; grading
  runs in threads of the test process, as in one-machine deployments.
- scale-out: RUBRIC_TEST_BROKER_URL (redis://...) and a PostgreSQL
  RUBRIC_TEST_DATABASE_URL; grading runs on two real `rubric worker` processes.
"""

import os

import flask_migrate
import pytest
from flask.testing import FlaskClient

from server import create_app
from server.accounts import create_token, find_user
from server.config import PROJECT_ROOT
from server.content.sync import sync_content
from server.demo import seed_demo
from server.extensions import db
from server.models import Course
from tests.databases import PostgresDatabases, databases_for_tests
from tests.scaleout.cluster import Cluster, reachable
from tests.scaleout.processes import LOGS, log_tail

# A socket left open and found only by the collector is reported with where it connected.
pytest_plugins = ["tests.socket_origins"]


def _broker_url() -> str | None:
    """The suite's Redis database; each pytest-xdist worker takes the next one (9, 10...).

    Every worker runs its own cluster of `rubric worker` processes, and the fixtures
    empty the broker before each test: a shared database would lose another's tasks.
    """
    url = os.environ.get("RUBRIC_TEST_BROKER_URL") or None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if url is None or worker == "gw0":
        return url
    base, number = url.rsplit("/", 1)
    return f"{base}/{int(number) + int(worker.removeprefix('gw'))}"


BROKER_URL = _broker_url()
SCALE_OUT = BROKER_URL is not None


class FreshContextClient(FlaskClient):
    """A test client that runs each request in its own app context, as a server does.

    The `app` fixture keeps one app context open for the whole test; sharing it would
    let `g`, and Flask-Login's cached user in it, leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(database_url: str, **overrides):
    """Create an app for tests on the given database."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RUBRIC_CONTENT_ROOT": str(PROJECT_ROOT),
        # Tests see stuck work recovered in seconds, not the production half-minute.
        "RUBRIC_SWEEP_SECONDS": 0.5,
        "RUBRIC_REQUEUE_AFTER_SECONDS": 2,
        "RUBRIC_GRADING_LEASE_SECONDS": 10,
        "RUBRIC_SUBMISSION_RATE": "off",
        # scrypt costs ~0.1 s a hash on purpose; the suite hashes and checks thousands.
        "RUBRIC_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    app = create_app(config | overrides)
    app.test_client_class = FreshContextClient
    return app


def _prepare(url: str, *steps) -> None:
    app = make_app(url)
    with app.app_context():
        for step in steps:
            step()
        db.session.remove()
        db.engine.dispose()


def require_services() -> None:
    """Fail when the configured PostgreSQL or Redis is unreachable on CI; skip elsewhere."""
    database = os.environ.get("RUBRIC_TEST_DATABASE_URL") or ""
    if SCALE_OUT and not database.startswith("postgresql"):
        pytest.fail("RUBRIC_TEST_BROKER_URL needs a PostgreSQL RUBRIC_TEST_DATABASE_URL too")
    urls = [u for u in (database, BROKER_URL) if u and not u.startswith("sqlite")]
    problems = [problem for url in urls if (problem := reachable(url))]
    if not problems:
        return
    unavailable("unreachable, start it (see .ci/run): " + "; ".join(problems))


def unavailable(message: str) -> None:
    """Fail on CI, whose machine has everything the suite needs; skip elsewhere, saying why."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    """The factory of test databases (SQLite files, or PostgreSQL databases)."""
    require_services()
    factory = databases_for_tests(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def migrated_database(databases) -> str:
    """Run the Alembic migrations once into a template database."""
    url = databases.new_url()
    _prepare(url, flask_migrate.upgrade)
    return url


@pytest.fixture(scope="session")
def seeded_database(databases, migrated_database) -> str:
    """A template with the bundled content synced and the demo course seeded.

    Seeding hashes ten passwords, which is slow on purpose; doing it once keeps
    the suite fast while every test still gets real, migrated data.
    """
    url = databases.clone(migrated_database)
    _prepare(url, lambda: sync_content(PROJECT_ROOT), seed_demo)
    return url


@pytest.fixture(scope="session")
def cluster(databases, seeded_database, tmp_path_factory):
    """Scale-out mode: two real `rubric worker` processes on one fixed database name."""
    if not SCALE_OUT:
        pytest.skip("scale-out only: set RUBRIC_TEST_BROKER_URL (make test does)")
    assert isinstance(databases, PostgresDatabases)
    url = databases.clone(seeded_database, url=databases.named_url("scaleout"))
    workers = Cluster(url, BROKER_URL, tmp_path_factory.mktemp("logs"))
    try:
        yield workers.start()
    finally:
        workers.stop()


@pytest.fixture
def app(request, databases, migrated_database):
    """An app on its own copy of the migrated database.

    In scale-out mode the copy takes the cluster's fixed name, and the app sends
    grading to the cluster's workers through a freshly emptied Redis database.
    """
    overrides, workers = {}, None
    if SCALE_OUT:
        workers = request.getfixturevalue("cluster")
        workers.ensure_running()
        workers.flush_broker()
        overrides["RUBRIC_BROKER_URL"] = BROKER_URL
    # A test that asks for the demo starts on the seeded copy: one clone, not two.
    seeded = "demo" in request.fixturenames
    template = request.getfixturevalue("seeded_database") if seeded else migrated_database
    url = databases.clone(template, url=workers.database_url if workers else None)
    app = make_app(url, **overrides)
    app.config["RUBRIC_TEST_SEEDED"] = seeded
    with app.app_context():
        yield app
        if queue := app.extensions.get("rubric_queue"):
            queue.close()
        db.session.remove()
        db.engine.dispose()
    if not workers:  # the cluster's database is replaced by the next test, never dropped
        databases.drop(url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tails of the logs of every process the tests started to a failure."""
    report = yield
    if report.failed:
        for path in LOGS:
            report.sections.append((f"log {path.name}", log_tail(path)))
    return report


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()


@pytest.fixture
def demo(app, databases, seeded_database):
    """The bundled content and the demo course (a copy of the seeded database).

    The `app` fixture already started on that copy when the test names `demo`; asked
    for later (request.getfixturevalue), it is swapped in under the app.
    """
    if not app.config["RUBRIC_TEST_SEEDED"]:
        db.session.remove()
        db.engine.dispose()
        databases.clone(seeded_database, url=app.config["SQLALCHEMY_DATABASE_URI"])
        app.config["RUBRIC_TEST_SEEDED"] = True
    return db.session.scalar(db.select(Course).filter_by(slug="demo"))


@pytest.fixture
def token_for(app):
    """Make an API token for a user by e-mail and return its Authorization header."""

    def make(email: str) -> dict[str, str]:
        token = create_token(find_user(email))
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make
