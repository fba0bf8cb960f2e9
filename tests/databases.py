"""Test databases: migrated templates cloned per test, on SQLite or PostgreSQL.

Set RUBRIC_TEST_DATABASE_URL to a PostgreSQL URL (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test) to run the suite there; each
test then gets its own database made with CREATE DATABASE ... TEMPLATE. In
scale-out mode every test's database takes one fixed name (`named_url`), the one
the long-lived worker processes connect to.
"""

import itertools
import os
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa


class SqliteDatabases:
    """Templates are files; a test database is a copy of one."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.counter = itertools.count()

    def new_url(self) -> str:
        return f"sqlite:///{self.folder / f'db{next(self.counter)}.sqlite3'}"

    def clone(self, template_url: str, url: str | None = None) -> str:
        url = url or self.new_url()
        target = Path(url.removeprefix("sqlite:///"))
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        shutil.copy(template_url.removeprefix("sqlite:///"), target)
        return url

    def drop(self, url: str) -> None:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)

    def close(self) -> None:
        """Files go with pytest's temporary folder."""


class PostgresDatabases:
    """Templates are databases; a test database is CREATE DATABASE ... TEMPLATE."""

    def __init__(self, server_url: str):
        self.server = sa.make_url(server_url)
        self.admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT")
        self.prefix = f"rubric_test_{uuid.uuid4().hex[:8]}"
        self.counter = itertools.count()
        self.created: set[str] = set()

    def new_url(self) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        self._run(f'CREATE DATABASE "{name}"')
        self.created.add(name)
        return self._url(name)

    def named_url(self, suffix: str) -> str:
        """Return the URL of a database of this session with a fixed name (not created)."""
        return self._url(f"{self.prefix}_{suffix}")

    def clone(self, template_url: str, url: str | None = None) -> str:
        """Copy a template into a new database, or in place of the one at `url`."""
        if url:
            self.drop(url)
        name = sa.make_url(url).database if url else f"{self.prefix}_{next(self.counter)}"
        self._run(f'CREATE DATABASE "{name}" TEMPLATE "{sa.make_url(template_url).database}"')
        self.created.add(name)
        return self._url(name)

    def drop(self, url: str) -> None:
        name = sa.make_url(url).database
        self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.discard(name)

    def close(self) -> None:
        for name in list(self.created):
            self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()

    def _url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def _run(self, statement: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(statement))


def databases_for_tests(folder: Path):
    """Return the database factory chosen by RUBRIC_TEST_DATABASE_URL (SQLite by default)."""
    url = os.environ.get("RUBRIC_TEST_DATABASE_URL")
    if url and url.startswith("postgresql"):
        return PostgresDatabases(url)
    return SqliteDatabases(folder)
