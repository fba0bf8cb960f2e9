"""Migration 0012 gives every assignment of a database holding the demo data a weight of 1."""

import flask_migrate
import sqlalchemy as sa

from server.extensions import db


def rows(query: str) -> list:
    with db.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.text(query)))


def test_demo_assignments_weigh_one_after_0012(demo):
    before = rows("SELECT id, slug FROM assignment")
    assert before, "the demo course has assignments"
    db.session.remove()
    flask_migrate.downgrade(revision="0011")
    columns = {c["name"] for c in db.inspect(db.engine).get_columns("assignment")}
    assert "weight" not in columns
    flask_migrate.upgrade()
    assert rows("SELECT id, slug FROM assignment") == before
    assert {w for (w,) in rows("SELECT weight FROM assignment")} == {1.0}
