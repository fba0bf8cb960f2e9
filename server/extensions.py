"""Flask extensions, created unbound and set up in the app factory."""

import sqlite3

import sqlalchemy as sa
from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from server.config import PROJECT_ROOT


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


# Objects stay readable after commit: a view commits, then serialises what it stored,
# and reloading every attribute from the database would double the queries.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate(directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
csrf = CSRFProtect()
login_manager = LoginManager()
# Limits are declared per view (submissions are limited per user, not per address).
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
# Code posted through the API and through the exercise page share one bucket per user.
SUBMISSION_SCOPE = "code-submissions"


def submission_rate_off() -> bool:
    """Tell whether RUBRIC_SUBMISSION_RATE switches the per-user limit off."""
    return current_app.config["RUBRIC_SUBMISSION_RATE"].strip().lower() == "off"


def submission_rate() -> str:
    """Return the per-user submission limit, e.g. "10/minute"."""
    # Flask-Limiter parses the string before asking exempt_when (and logs an error for
    # one it cannot parse, on every request), so "off" must still give a valid one.
    return "1/second" if submission_rate_off() else current_app.config["RUBRIC_SUBMISSION_RATE"]


@sa.event.listens_for(sa.Engine, "connect")
def _tune_sqlite(dbapi_connection, _record):
    """Use WAL and a busy timeout so several gunicorn workers can share one SQLite file."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
