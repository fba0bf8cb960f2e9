"""Rate-limit counters in a SQLite file, shared by every process of one machine.

Without Redis, the `limits` library keeps counters in each process's memory, so each
gunicorn worker of `rubric serve` counted its own share: under 10/minute about 40 of 52
quick posts went through. `limits` ships no file-backed storage, so this registers a
small one (scheme `sqlite://`) for its fixed-window strategy, the one Flask-Limiter
uses by default. A counter is one row, changed by one atomic UPSERT ... RETURNING, so
workers never lose an increment; WAL and a busy timeout keep writers from failing.
The file is a cache like Redis, not part of the schema (no migration): deleting it only
forgets the current minute's counts.
"""

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

from limits.storage import Storage

_SCHEMA = "CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, hits INTEGER, expires REAL)"
_INCREMENT = """
INSERT INTO counter (key, hits, expires) VALUES (:key, :amount, :now + :expiry)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN expires > :now THEN hits + :amount ELSE :amount END,
    expires = CASE WHEN expires > :now THEN expires ELSE :now + :expiry END
RETURNING hits
"""
# Expired rows are dropped now and then, so the file stays the size of one window's users.
PURGE_EVERY = 1000


class SQLiteStorage(Storage):
    """A `limits` storage on a local SQLite file: sqlite:///ABSOLUTE/PATH."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = Path(uri.removeprefix("sqlite://"))
        self._local = threading.local()
        self._writes = 0
        # Created 0600 like the database: the keys name users.
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        with self._connection() as connection:
            connection.execute(_SCHEMA)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (a sqlite3 connection belongs to its thread)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add to a key's count in its current window (a new window once it expired)."""
        now = time.time()
        connection = self._connection()
        params = {"key": key, "amount": amount, "now": now, "expiry": expiry}
        (hits,) = connection.execute(_INCREMENT, params).fetchone()
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            connection.execute("DELETE FROM counter WHERE expires <= ?", (now,))
        return hits

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def _row(self, key: str) -> tuple[int, float] | None:
        return (
            self._connection()
            .execute(
                "SELECT hits, expires FROM counter WHERE key = ? AND expires > ?",
                (key, time.time()),
            )
            .fetchone()
        )

    def check(self) -> bool:
        self._connection().execute("SELECT 1")
        return True

    def reset(self) -> int | None:
        return self._connection().execute("DELETE FROM counter").rowcount

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM counter WHERE key = ?", (key,))


def counters_file(database_url: str, instance_path: str) -> Path:
    """Where this machine's counters live: beside a SQLite database, else under instance/.

    Beside the database, so every process serving that database shares one file (and a
    test's fresh database starts with fresh counts).
    """
    from server.config import sqlite_file

    database = sqlite_file(database_url)
    if database is not None:
        return database.with_name(database.name + "-ratelimits")
    # A database server: one file per database, so two instances on one host stay apart.
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return Path(instance_path) / f"ratelimits-{digest}.sqlite3"
