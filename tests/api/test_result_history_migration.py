"""Migration 0013 (result_history) upgrades a database holding the demo data, and back."""

import flask_migrate
import sqlalchemy as sa

from server.extensions import db
from server.submissions import regrade
from tests.api.regrade_support import FORGOT_TWO, assignment, graded_submission


def rows(query: str) -> list:
    with db.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.text(query)))


def test_the_demo_data_and_its_submissions_survive_0013_down_and_up(demo):
    graded_submission("student@example.edu", FORGOT_TWO)
    regrade.regrade(assignment(), "", None)  # nothing older: no history yet
    submissions = "SELECT id, user_id, score, max_score FROM submission"
    before, people = rows(submissions), rows('SELECT email FROM "user"')
    db.session.remove()

    flask_migrate.downgrade(revision="0012")
    assert "result_history" not in db.inspect(db.engine).get_table_names()
    flask_migrate.upgrade()

    assert rows(submissions) == before and rows('SELECT email FROM "user"') == people
    assert rows("SELECT count(*) FROM result_history") == [(0,)]  # history starts now
    # The table takes a submission's result, and refuses a row that names no work.
    with db.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO result_history (submission_id, version, score, max_score, "
                "graded_at, graded_because, graded_by, replaced_at, replaced_by) VALUES "
                "(:id, 1, 5, 10, CURRENT_TIMESTAMP, 'first_grading', '', CURRENT_TIMESTAMP, 'x')"
            ),
            {"id": before[0][0]},
        )
    try:
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO result_history (version, max_score, graded_at, graded_because,"
                    " graded_by, replaced_at, replaced_by) VALUES "
                    "(1, 10, CURRENT_TIMESTAMP, 'regrade', '', CURRENT_TIMESTAMP, 'x')"
                )
            )
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("a history row naming no submission nor attempt was stored")
