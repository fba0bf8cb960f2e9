"""The models and the Alembic migrations describe the same schema."""

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.extensions import db


def test_migrations_match_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_downgrade_then_upgrade(app):
    flask_migrate.downgrade(revision="base")
    assert db.inspect(db.engine).get_table_names() == ["alembic_version"]
    flask_migrate.upgrade()
    assert {"user", "quiz_attempt", "api_token"} <= set(db.inspect(db.engine).get_table_names())
