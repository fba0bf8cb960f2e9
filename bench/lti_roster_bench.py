"""LTI roster benchmark: `rubric lti roster` (NRPS) for a large LMS course, first and again.

Run: .venv/bin/python bench/lti_roster_bench.py [--members 500] [--page-size 100]

Rubric's app is served on 127.0.0.1 over a fresh SQLite database (migrated, content
synced, demo seeded); the test LTI platform (tests/lti/platform_lti1p3.py, PyPI
lti1p3platform) on localhost is registered with the CLI and its course linked to the
demo course; one instructor launch records the memberships URL. Then the roster is
pulled in this process as the command does: the first pull makes every account and
enrolment, the second finds them all. Prints the wall time of each pull, per member,
the pages fetched, and where the first pull's CPU goes (cProfile's top entries;
`--profile 0` leaves the profiler out of the timing).
"""

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepare(database_url: str) -> None:
    """Migrate, sync the content and seed the demo course, with the real CLI."""
    env = os.environ | {"RUBRIC_DATABASE_URL": database_url, "RUBRIC_CONTENT_ROOT": str(ROOT)}
    for args in (["db", "upgrade"], ["content", "sync"], ["seed-demo"]):
        subprocess.run([sys.executable, "-m", "server.cli", *args], env=env, check=True,
                       capture_output=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--profile", type=int, default=8, help="profile entries (0: none)")
    options = parser.parse_args()

    from server import create_app
    from server.extensions import db
    from server.lti import roster, services
    from server.models import Course
    from tests.lti.platform_lti1p3 import (
        INSTRUCTOR,
        User,
        register_in_rubric,
        running_platform,
        serving,
    )  # fmt: skip
    from tests.lti.test_platform_launch import launch

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        prepare(url)
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True,
             "RUBRIC_LTI_KEY_DIR": f"{folder}/keys", "RUBRIC_CONTENT_ROOT": str(ROOT)}
        )  # fmt: skip
        with app.app_context(), serving(app) as rubric, running_platform(rubric) as lms:
            register_in_rubric(app, lms)
            lms.settings.user = User(sub="teacher", name="Teacher", roles=[INSTRUCTOR])
            lms.members = [
                User(sub=f"member-{n}", name=f"Member {n}", email=f"m{n}@lms.example")
                for n in range(options.members)
            ]
            lms.members_page_size = options.page_size
            assert launch(lms).status_code == 200  # records the memberships URL
            course = db.session.scalar(db.select(Course).filter_by(slug="demo"))
            services.forget_tokens()
            total = options.members + 1
            pages = -(-total // options.page_size)
            print(f"roster of {total} members in {pages} pages of {options.page_size}")
            profile = cProfile.Profile()
            for label in ("first pull (new accounts)", "second pull (all there)"):
                start = time.perf_counter()
                if label.startswith("first") and options.profile:
                    counts = profile.runcall(roster.pull, course)
                else:
                    counts = roster.pull(course)
                took = time.perf_counter() - start
                print(f"  {label:28s} {took:7.2f} s  {1000 * took / total:6.1f} ms/member  "
                      f"({counts})")  # fmt: skip
            if not options.profile:
                return
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(
                options.profile + 12
            )
            print("first pull, cumulative CPU (cProfile):")
            print("\n".join(out.getvalue().splitlines()[-(options.profile + 14) :]))


if __name__ == "__main__":
    main()
