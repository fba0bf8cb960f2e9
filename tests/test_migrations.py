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


# Tables whose rows refer to an assignment, a course or a user (ON DELETE CASCADE), and
# that exist at 0009: what a SQLite table copy used to take with it.
KEPT = ("enrollment", "assignment", "submission", "quiz_attempt", "api_token", "draft")


def row_counts() -> dict[str, int]:
    with db.engine.connect() as connection:
        return {t: connection.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar() for t in KEPT}


def test_a_migration_that_copies_a_table_keeps_the_rows_that_refer_to_it(demo, client, token_for):
    student = token_for("student@example.edu")
    base = "/api/v1/courses/demo/assignments"
    code = {"code": "def l2_penalty(w, lam):\n    return 0.0\n"}
    assert (
        client.post(f"{base}/l2-regularization/submissions", json=code, headers=student).status_code
        == 202
    )
    assert (
        client.put(f"{base}/l2-regularization/draft", json=code, headers=student).status_code == 200
    )
    quiz = {"answers": {"q1": "b"}}
    assert (
        client.post(
            f"{base}/l2-regularization-quiz/attempts", json=quiz, headers=student
        ).status_code
        == 201
    )
    before = row_counts()
    assert all(count > 0 for count in before.values()), before
    db.session.remove()

    # 0010 and later alter `assignment` in batch mode: on SQLite a copy, then DROP TABLE.
    flask_migrate.downgrade(revision="0009")
    flask_migrate.upgrade()

    assert row_counts() == before
