"""Ending a database session safely when the server may have dropped its connection."""

import logging

import sqlalchemy as sa

from server.extensions import db

log = logging.getLogger("rubric.db")


def release_session() -> None:
    """Close this context's session, even on a connection PostgreSQL has terminated.

    Closing rolls back the open transaction; on a dropped connection that rollback
    raises, although SQLAlchemy has already discarded the connection. A second close
    then ends the session cleanly, so no caller (a request's teardown, a grading
    thread, the sweep loop) fails or dies because of it.
    """
    try:
        db.session.remove()
    except sa.exc.DBAPIError as exc:
        log.warning("database connection lost, session closed: %s", first_line(exc.orig))
        db.session.remove()


def first_line(error: BaseException | None) -> str:
    """The first line of an error's message (drivers' messages run over several)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)
