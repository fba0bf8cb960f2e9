"""Accommodations: a course-wide shift of one student's dates, and migration 0011."""

import flask_migrate
import sqlalchemy as sa

from server.extensions import db


def rows(query: str) -> list:
    with db.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.text(query)))


def test_the_demo_data_survives_0011_down_and_up(demo):
    assignments = "SELECT id, slug, due_at, late_until FROM assignment"
    before = rows(assignments)
    assert before, "the demo course has assignments"
    db.session.remove()
    flask_migrate.downgrade(revision="0010")
    assert "accommodation" not in db.inspect(db.engine).get_table_names()
    flask_migrate.upgrade()
    assert rows(assignments) == before
    # Every assignment of the demo data releases its feedback at once, as before 0011.
    assert {r[0] for r in rows("SELECT feedback_release FROM assignment")} == {"immediately"}
    if db.engine.dialect.name == "sqlite":
        return  # the CHECK is PostgreSQL's only (see the migration)
    try:
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE assignment SET feedback_release = 'someday'"))
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("the feedback_release CHECK let 'someday' in")
