"""Shared fixtures: an app on a freshly migrated database, clients and demo data."""

import shutil
from pathlib import Path

import flask_migrate
import pytest

from server import create_app
from server.accounts import create_token
from server.config import PROJECT_ROOT
from server.content.sync import sync_quizzes
from server.demo import seed_demo
from server.extensions import db
from server.models import Course


def make_app(database: Path, **overrides):
    """Create an app for tests on the given SQLite file."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "RUBRIC_CONTENT_ROOT": str(PROJECT_ROOT),
    }
    return create_app(config | overrides)


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Path:
    """Run the Alembic migrations once into a template database file."""
    path = tmp_path_factory.mktemp("template") / "rubric.sqlite3"
    app = make_app(path)
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def seeded_database(migrated_database, tmp_path_factory) -> Path:
    """A template database with the bundled content synced and the demo course seeded.

    Seeding hashes ten passwords, which is slow on purpose; doing it once keeps
    the suite fast while every test still gets real, migrated data.
    """
    path = tmp_path_factory.mktemp("seeded") / "rubric.sqlite3"
    shutil.copy(migrated_database, path)
    app = make_app(path)
    with app.app_context():
        sync_quizzes(PROJECT_ROOT)
        seed_demo()
        db.session.remove()
        db.engine.dispose()
    return path


@pytest.fixture
def app(migrated_database, tmp_path):
    """An app on its own copy of the migrated database."""
    database = tmp_path / "rubric.sqlite3"
    shutil.copy(migrated_database, database)
    app = make_app(database)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()


@pytest.fixture
def demo(app, seeded_database):
    """Swap in a copy of the seeded database: bundled content and the demo course."""
    db.session.remove()
    db.engine.dispose()
    database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    shutil.copy(seeded_database, database)
    return db.session.scalar(db.select(Course).filter_by(slug="demo"))


@pytest.fixture
def token_for(app):
    """Make an API token for a user by e-mail and return its Authorization header."""
    from server.accounts import find_user

    def make(email: str) -> dict[str, str]:
        token = create_token(find_user(email))
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make
