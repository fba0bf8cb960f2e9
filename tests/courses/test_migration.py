"""Migration 0007 upgrades a database that holds the demo data, and comes back down."""

import flask_migrate
import sqlalchemy as sa

from server.extensions import db


def rows(query: str) -> list:
    with db.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.text(query)))


def test_the_demo_data_survives_0007_down_and_up(demo):
    enrollments = 'SELECT u.email, e.role FROM enrollment e JOIN "user" u ON u.id = e.user_id'
    before = rows(enrollments)
    assert before, "the demo course has people"
    db.session.remove()
    flask_migrate.downgrade(revision="0006")  # the schema the demo data was in before
    assert "audit_entry" not in db.inspect(db.engine).get_table_names()
    flask_migrate.upgrade()
    assert rows(enrollments) == before
    assert rows("SELECT slug, term, timezone FROM course") == [("demo", "", "UTC")]
    # The widened CHECK takes a TA now; a role it does not know is still refused.
    with db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE enrollment SET role = 'ta' WHERE id = 1"))
    try:
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE enrollment SET role = 'dean' WHERE id = 1"))
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("the role CHECK let 'dean' in")


def test_downgrade_turns_tas_into_students(demo):
    with db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE enrollment SET role = 'ta' WHERE id = 1"))
    db.session.remove()
    flask_migrate.downgrade(revision="0006")
    assert rows("SELECT role FROM enrollment WHERE id = 1") == [("student",)]
    flask_migrate.upgrade()
