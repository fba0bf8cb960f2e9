"""Roster benchmark: how long importing a class from CSV takes, new and again.

Run: .venv/bin/python bench/roster_bench.py [--people 500]
On a migrated SQLite file (no server, mail kept in a temporary outbox): reads the
CSV, previews it (dry run), imports it (every person new: an account, an enrollment,
a one-time link, an audit entry and a mail each), then imports it again (all
unchanged). Prints seconds for each and milliseconds per person.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=500)
    count = parser.parse_args().people

    import flask_migrate

    from server import create_app
    from server.courses import people
    from server.courses.roster import read_csv

    rows = "".join(f"person{i}@example.edu,Person {i},student\n" for i in range(count))
    data = ("email,name,role\n" + rows).encode()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        config = {"TESTING": True, "SECRET_KEY": "b", "SQLALCHEMY_DATABASE_URI": url}
        app = create_app(config | {"RUBRIC_OUTBOX_DIR": f"{folder}/outbox"})
        with app.app_context():
            flask_migrate.upgrade()
            course = people.create_course("bench", "Bench")
            people.commit_course(course)
            figures = []
            for label, dry_run in (("preview", True), ("import", False), ("again", False)):
                start = time.perf_counter()
                roster = read_csv(data)
                people.import_roster(course, roster, None, "http://localhost", dry_run=dry_run)
                figures.append((label, time.perf_counter() - start))
    print(f"{count} people, SQLite")
    for label, seconds in figures:
        print(f"  {label:8} {seconds:7.2f} s  {seconds / count * 1000:6.2f} ms per person")


if __name__ == "__main__":
    main()
