"""Shared fixtures: an app on a freshly migrated database, clients and demo data."""

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
from tests.databases import databases_for_tests


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


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    """The factory of test databases (SQLite files, or PostgreSQL databases)."""
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


@pytest.fixture
def app(databases, migrated_database):
    """An app on its own copy of the migrated database."""
    url = databases.clone(migrated_database)
    app = make_app(url)
    with app.app_context():
        yield app
        if queue := app.extensions.get("rubric_queue"):
            queue.close()
        db.session.remove()
        db.engine.dispose()
    databases.drop(url)


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
    """Swap in a copy of the seeded database: bundled content and the demo course."""
    db.session.remove()
    db.engine.dispose()
    databases.clone(seeded_database, url=app.config["SQLALCHEMY_DATABASE_URI"])
    return db.session.scalar(db.select(Course).filter_by(slug="demo"))


@pytest.fixture
def token_for(app):
    """Make an API token for a user by e-mail and return its Authorization header."""

    def make(email: str) -> dict[str, str]:
        token = create_token(find_user(email))
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make
