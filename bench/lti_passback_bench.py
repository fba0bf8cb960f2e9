"""Grade passback benchmark: drain 1,000 queued scores into a slow LMS, grading meanwhile.

Run: .venv/bin/python bench/lti_passback_bench.py [--scores 1000] [--delay 0.2] [--threads 8]

Rubric's app is served on 127.0.0.1 over a fresh SQLite database (migrated, content
synced, demo seeded) so the test LTI platform (tests/lti/platform_lti1p3.py, PyPI
lti1p3platform, on localhost) can check the tool's signed token requests; every AGS
call to it takes --delay seconds (its service_delay knob). `--scores` students with an
LMS identity each submit the quiz, bound to one LMS link: that queues their scores.
Then the sender starts, and while it drains the outbox this process keeps grading quiz
attempts of other students; the same attempts are timed again once passback is idle.
Prints the drain time, the scores per second, and grading latency side by side.
"""

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WRONG = {"q1": "a"}  # a quick, valid attempt: only q1 answered
RIGHT = {"q1": "b", "q2": "0.998", "q3": "b"}


def prepare(database_url: str) -> None:
    """Migrate, sync the content and seed the demo course, with the real CLI."""
    env = os.environ | {"RUBRIC_DATABASE_URL": database_url, "RUBRIC_CONTENT_ROOT": str(ROOT)}
    for args in (["db", "upgrade"], ["content", "sync"], ["seed-demo"]):
        subprocess.run([sys.executable, "-m", "server.cli", *args], env=env, check=True,
                       capture_output=True)  # fmt: skip


def lms_students(course, platform, count: int):
    """Students with an LMS identity (issuer, sub) on the platform."""
    from server.demo import enroll_load_students
    from server.extensions import db
    from server.models import LtiUser, User

    enroll_load_students(course, "lti", count)
    users = db.session.scalars(db.select(User).where(User.email.like("lti%@example.edu")))
    for user in users:
        db.session.add(LtiUser(issuer=platform.issuer, sub=f"sub-{user.id}", user_id=user.id))
    db.session.commit()
    return list(db.session.scalars(db.select(User).where(User.email.like("lti%@example.edu"))))


def bind_link(platform, quiz) -> None:
    """An LMS activity bound to the quiz, with its line item, as a launch records it."""
    from server.extensions import db
    from server.lti.platforms import find_context
    from server.models import LtiResourceLink

    context = find_context(platform.issuer, platform.settings.context_id)
    db.session.add(
        LtiResourceLink(
            issuer=platform.issuer, resource_link_id="bench-link", context_id=context.id,
            assignment_id=quiz.id, lineitem_url=platform.lineitem_url("bench-link"),
        )
    )  # fmt: skip
    db.session.commit()


def grade_for(quiz, students, answers) -> list[float]:
    """Submit one quiz attempt per student; each attempt's wall time in ms."""
    from server.scoring.quizzes import submit_attempt

    took = []
    for student in students:
        start = time.perf_counter()
        submit_attempt(quiz, student, answers)
        took.append(1000 * (time.perf_counter() - start))
    return took


def summary(label: str, took: list[float]) -> str:
    cuts = statistics.quantiles(took, n=100)
    return (f"  {label:34s} n={len(took):4d}  p50 {cuts[49]:6.1f} ms  p95 {cuts[94]:6.1f} ms"
            f"  max {max(took):6.1f} ms")  # fmt: skip


def sent_count() -> int:
    from server.extensions import db
    from server.models import LtiPassback, PassbackStatus

    db.session.remove()
    query = db.select(db.func.count()).where(LtiPassback.status == PassbackStatus.SENT)
    return db.session.scalar(query.select_from(LtiPassback))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per AGS call")
    parser.add_argument("--threads", type=int, default=8, help="RUBRIC_LTI_PASSBACK_THREADS")
    parser.add_argument("--graders", type=int, default=50, help="students grading meanwhile")
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    from server import create_app
    from server.demo import enroll_load_students
    from server.extensions import db
    from server.lti import passback
    from server.models import Assignment, Course, User
    from tests.lti.platform_lti1p3 import register_in_rubric, running_platform, serving

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        prepare(url)
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True,
             "RUBRIC_LTI_KEY_DIR": f"{folder}/keys", "RUBRIC_CONTENT_ROOT": str(ROOT),
             "RUBRIC_LTI_PASSBACK_THREADS": options.threads,
             "RUBRIC_LTI_PASSBACK_POLL_SECONDS": 0.5}
        )  # fmt: skip
        with app.app_context(), serving(app) as rubric, running_platform(rubric) as lms:
            register_in_rubric(app, lms)
            course = db.session.scalar(db.select(Course).filter_by(slug="demo"))
            quiz = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization-quiz"))
            bind_link(lms, quiz)
            students = lms_students(course, lms, options.scores)
            enroll_load_students(course, "plain", options.graders)
            plain = list(db.session.scalars(
                db.select(User).where(User.email.like("plain%@example.edu")).order_by(User.id)
            ))  # fmt: skip
            lms.settings.knobs.service_delay = options.delay

            # Queue every score with no sender running (it would start on the first).
            starter, passback._sender_for = passback._sender_for, lambda app: None
            queue_took = grade_for(quiz, students, RIGHT)
            passback._sender_for = starter
            print(f"{options.scores} scores queued; LMS answers each AGS call in "
                  f"{1000 * options.delay:.0f} ms; {options.threads} sending threads")  # fmt: skip
            print(summary("attempt + outbox row (LTI student)", queue_took))

            start = time.perf_counter()
            passback.start_sender(app)
            # Grading in this thread, round after round, until the sender's threads are done.
            grade_during: list[float] = []
            while sent_count() < options.scores:
                grade_during += grade_for(quiz, plain, WRONG)
            drained = time.perf_counter() - start
            passback.stop_sender(app)
            idle: list[float] = []
            while len(idle) < len(grade_during):  # as many attempts, passback idle
                idle += grade_for(quiz, plain, WRONG)

            floor = options.scores * options.delay / options.threads
            print(f"  drained {options.scores} scores in {drained:6.2f} s "
                  f"({options.scores / drained:6.1f} scores/s; one at a time would take "
                  f"{options.scores * options.delay:.0f} s, {options.threads} threads at "
                  f"best {floor:.1f} s)")  # fmt: skip
            print(f"  platform recorded {len(lms.scores)} scores")
            print("grading latency (quiz attempts in this process, meanwhile and after):")
            print(summary("while passback drains", grade_during))
            print(summary("passback idle", idle))


if __name__ == "__main__":
    main()
