"""Session benchmark: what a server-side log-in session costs each page view.

Run: .venv/bin/python bench/session_bench.py [--requests 2000]
On a migrated SQLite file with the demo seeded, in this process (no server): times
the lookup of a session from its cookie's id as every page does it (last seen written
at most once a minute), the same lookup writing last seen every time, and the old
lookup by user id that a signed cookie allowed. Prints microseconds per lookup.
"""

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(lookups: int, lookup) -> float:
    """Microseconds per call of lookup(), the median of three runs."""
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(lookups):
            lookup()
        runs.append((time.perf_counter() - start) / lookups * 1e6)
    return sorted(runs)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    lookups = parser.parse_args().requests

    import flask_migrate

    from server import accounts, create_app
    from server.demo import seed_demo
    from server.extensions import db
    from server.models import User

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        app = create_app({"TESTING": True, "SECRET_KEY": "b", "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            flask_migrate.upgrade()
            seed_demo()
            user = accounts.find_user("student@example.edu")
            limits = accounts.SessionLimits(timedelta(hours=12), timedelta(hours=2))
            session_id = accounts.open_session(user, "bench", "127.0.0.1", limits)
            db.session.commit()

            def by_session():
                db.session.remove()  # each request starts with a fresh session
                accounts.user_for_session(session_id, limits)

            def by_user_id():
                db.session.remove()
                db.session.get(User, user.id)

            old = timed(lookups, by_user_id)
            cheap = timed(lookups, by_session)
            accounts._LAST_SEEN_EVERY = timedelta(0)  # write last seen on every lookup
            eager = timed(lookups, by_session)
            db.session.remove()
            db.engine.dispose()
    print(f"lookups: {lookups} x 3, SQLite, one thread")
    print(f"session by cookie id, last seen at most once a minute: {cheap:8.1f} us")
    print(f"session by cookie id, last seen written every time:    {eager:8.1f} us")
    print(f"user by id (the old signed-cookie session):            {old:8.1f} us")


if __name__ == "__main__":
    main()
