"""Count the SQL statements a piece of work sends: a page must not take one per student."""

from collections.abc import Callable

import sqlalchemy as sa

from server.extensions import db


def statements_during(work: Callable[[], object]) -> int:
    """Run work and return how many SQL statements it sent."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)
