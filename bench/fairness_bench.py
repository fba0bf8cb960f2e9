"""Fairness benchmark: one correct submission by student B behind 16 hostile ones by student A.

Each of A's submissions defines the L2 exercise's three functions as `time.sleep(100)`,
the attack of issue 13, point 3: every one holds a grading thread as long as the
grader lets a hanging submission run. Right after them B submits the reference. The
same burst runs once per order and mode, and the figures come side by side:

    .venv/bin/python bench/fairness_bench.py [--hostile 16] [--threads 2]
        [--orders fifo,fair] [--modes embedded,scaleout]
    .venv/bin/python bench/fairness_bench.py --claim-cost 200,1000

  fifo  first in, first out: the order before fair grading (kept here only, for this)
  fair  round-robin by student, as Rubric grades (queue.FairOrder, service.claim_next)

  embedded   this process grades, as a web worker does: an EmbeddedQueue with --threads
             grading threads and a warm fork server, on a fresh SQLite file
  scale-out  2 `rubric worker` processes (2 threads each) on a PostgreSQL database of
             their own (RUBRIC_BENCH_DATABASE_URL, default the local server) and Redis
             DB 11 (RUBRIC_BENCH_BROKER_URL), both emptied afterwards

Submissions go in through service.submit and queue.dispatch, as the API's POST does,
without HTTP (its cost is the submission benchmark's business). Printed: how long B
waited (submitted_at -> graded_at), how long A's burst took, gradings per second over
the whole run, how many of A's were claimed after B arrived and before B, and what one
hostile grading costs (started_at -> graded_at, the grader's bound on a hanging
submission). Times come from the database's timestamps.

--claim-cost only times the claim itself with that many submissions queued (spread
over 50 students), on SQLite and PostgreSQL: by id (the embedded queue's, and every
claim before fair grading) and in fair order (service.claim_next, the workers').
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from server.submissions.queue import EmbeddedQueue, FairOrder  # noqa: E402

REFERENCE = (ROOT / "exercises" / "l2-regularization" / "reference.py").read_text()
FUNCTIONS = ("l2_penalty", "l2_gradient", "weight_decay_step")
HOSTILE = "import time\n\n" + "".join(
    f"\ndef {name}(*args):\n    time.sleep(100)\n\n" for name in FUNCTIONS
)
A, B, WARM = "student@example.edu", "student2@example.edu", "student3@example.edu"
# The workers' settings: the production lease and sweep, not the tests' short ones (a
# 3 s lease would expire under a 4 s hostile grading and have it graded twice).
SETTINGS = {
    "RUBRIC_SUBMISSION_RATE": "off",
    "RUBRIC_SECRET_KEY": "bench",
    "RUBRIC_GRADING_LEASE_SECONDS": "30",
    "RUBRIC_REQUEUE_AFTER_SECONDS": "30",
    "RUBRIC_SWEEP_SECONDS": "5",
}
WORKERS, WORKER_THREADS = 2, 2
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_BROKER = "redis://127.0.0.1:6379/11"


# ---------------------------------------------------------------- the order before


class FifoOrder(FairOrder):
    """First in, first out across students (regrades still last): the order before."""

    def turn(self, key: tuple[bool, int]) -> tuple:
        regrade, _student = key
        return regrade, self.lines[key][0]


class FifoQueue(EmbeddedQueue):
    """The embedded queue grading in arrival order, for the comparison only."""

    order_class = FifoOrder


def fifo_worker(concurrency: int) -> None:
    """Run `rubric worker` claiming in arrival order (this file's --fifo-worker)."""
    from server.cli import main
    from server.submissions import service

    def oldest(skip_locked: bool) -> sa.ScalarSelect:
        table = service.SUBMISSION.alias("candidate")
        return (
            sa.select(table.c.id)
            .where(service._claimable(table))
            .order_by(table.c.regraded_at.is_not(None), table.c.id)
            .limit(1)
            .with_for_update(skip_locked=skip_locked)
            .scalar_subquery()
        )

    # The same claim statements, on the oldest claimable row instead of the fair one.
    service._CLAIM_NEXT = service._claim_statement(oldest(skip_locked=True))
    service._CLAIM_NEXT_WAITING = service._claim_statement(oldest(skip_locked=False))
    sys.argv = ["rubric", "worker", "--concurrency", str(concurrency)]
    main()


# ---------------------------------------------------------------- deployments


def make_app(database_url: str, **config):
    """A Flask app on the database, migrated, with the content and the demo course."""
    import flask_migrate

    from server import create_app
    from server.content.sync import sync_content
    from server.demo import seed_demo

    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "TESTING": True}
    app = create_app(settings | {"RUBRIC_SUBMISSION_RATE": "off"} | config)
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        sync_content(ROOT)
        seed_demo()
    return app


@contextmanager
def embedded(order: str, threads: int, tmp: Path) -> Iterator:
    """An app grading in this process, in the given order."""
    from server.extensions import db
    from server.sandbox import get_sandbox

    url = f"sqlite:///{tmp / f'fairness-{order}.sqlite3'}"
    app = make_app(url, RUBRIC_GRADING_THREADS=threads)
    get_sandbox()  # warm the fork server before the clock runs
    queue = (FifoQueue if order == "fifo" else EmbeddedQueue)(app)
    app.extensions["rubric_queue"] = queue
    try:
        yield app
    finally:
        queue.close()
        with app.app_context():
            db.engine.dispose()


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own on the server, dropped afterwards; yields its URL."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"rubric_fairness_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def scale_out(order: str, tmp: Path, server_url: str, broker_url: str) -> Iterator:
    """An app sending grading to 2 workers (claiming in the given order) through Redis."""
    from server.extensions import db
    from tests.scaleout.cluster import service_env
    from tests.scaleout.processes import Service, worker

    with postgres_database(server_url) as url:
        redis.Redis.from_url(broker_url).flushdb()
        app = make_app(url, RUBRIC_BROKER_URL=broker_url)
        env = service_env(url, broker_url, **SETTINGS)
        workers = []
        try:
            for n in range(1, WORKERS + 1):
                if order == "fifo":
                    argv = [sys.executable, __file__, "--fifo-worker", str(WORKER_THREADS)]
                    log = tmp / f"fifo-worker{n}.log"
                    service = Service(f"fifo-worker{n}", argv, env, log, _ready)
                else:
                    service = worker(f"fair-worker{n}", env, tmp, concurrency=WORKER_THREADS)
                workers.append(service.start())
            yield app
        finally:
            for service in workers:
                service.stop()
            with app.app_context():
                if queue := app.extensions.get("rubric_queue"):
                    queue.close()
                db.engine.dispose()
            redis.Redis.from_url(broker_url).flushdb()


def _ready(service, mark: int) -> bool:
    return " ready." in service.new_output(mark)


# ---------------------------------------------------------------- the burst


def submit(app, email: str, code: str) -> int:
    """Store a submission and hand it to the graders, as POST .../submissions does."""
    from server.accounts import find_user
    from server.extensions import db
    from server.models import Assignment
    from server.submissions import service
    from server.submissions.queue import dispatch

    with app.app_context():
        assignment = db.session.scalar(sa.select(Assignment).filter_by(slug="l2-regularization"))
        submission_id = service.submit(assignment, find_user(email), code).id
        dispatch(app, submission_id)
        db.session.remove()
    return submission_id


def wait_graded(app, ids: list[int], timeout: float) -> list:
    """Wait until every submission is graded; return their rows."""
    from server.extensions import db
    from server.models import Submission, SubmissionStatus

    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            rows = list(db.session.scalars(sa.select(Submission).where(Submission.id.in_(ids))))
            if all(r.status == SubmissionStatus.GRADED for r in rows):
                db.session.remove()
                return rows
            if time.monotonic() > deadline:
                raise SystemExit(f"not all graded after {timeout} s: {[r.status for r in rows]}")
            db.session.remove()
            time.sleep(0.1)


def burst(app, hostile: int, warm: int) -> dict:
    """Warm the graders, send A's hostile burst then B's reference; return the figures."""
    wait_graded(app, [submit(app, WARM, REFERENCE) for _ in range(warm)], 120)
    theirs = [submit(app, A, HOSTILE) for _ in range(hostile)]
    mine = submit(app, B, REFERENCE)
    rows = {r.id: r for r in wait_graded(app, [*theirs, mine], 60 + 15 * hostile)}
    b, a = rows[mine], [rows[i] for i in theirs]
    start = min(r.submitted_at for r in a)
    end = max(r.graded_at for r in rows.values())
    return {
        "b_wait": (b.graded_at - b.submitted_at).total_seconds(),
        "b_score": b.score,
        "a_total": (max(r.graded_at for r in a) - start).total_seconds(),
        "per_second": len(rows) / (end - start).total_seconds(),
        "ahead": sum(b.submitted_at < r.started_at < b.started_at for r in a),
        "hostile_cost": statistics.median((r.graded_at - r.started_at).total_seconds() for r in a),
    }


# ---------------------------------------------------------------- the claim's cost


def claim_cost(database_url: str, backlog: int, claims: int = 200, students: int = 50) -> dict:
    """Milliseconds per claim with `backlog` submissions queued: by id, and in fair order."""
    from server.demo import enroll_load_students
    from server.extensions import db
    from server.models import Assignment, Course, Submission, SubmissionStatus, User
    from server.submissions import service

    app = make_app(database_url)
    with app.app_context():
        enroll_load_students(db.session.scalar(sa.select(Course)), "cost", students)
        users = db.session.scalars(sa.select(User.id).where(User.email.like("cost%"))).all()
        assignment = db.session.scalar(sa.select(Assignment).filter_by(slug="l2-regularization"))
        exercise_id = db.session.scalar(sa.select(sa.func.max(Submission.exercise_id))) or 1
        rows = [
            {"assignment_id": assignment.id, "user_id": users[n % students], "number": n,
             "exercise_id": exercise_id, "code": REFERENCE, "max_score": 10}
            for n in range(backlog)
        ]  # fmt: skip
        db.session.execute(sa.insert(Submission), rows)
        db.session.commit()
        ids = db.session.scalars(sa.select(Submission.id).order_by(Submission.id)).all()
        figures = {}
        for name, take in (("by_id", service.claim), ("fair", lambda _id: service.claim_next())):
            started = time.perf_counter()
            assert all(take(submission_id) for submission_id in ids[:claims])
            figures[name] = (time.perf_counter() - started) * 1000 / claims
            db.session.execute(sa.update(Submission).values(status=SubmissionStatus.QUEUED))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return figures


def report_claim_cost(server_url: str, backlogs: list[int], tmp: Path) -> None:
    """Print the claim's cost by backlog, on SQLite and PostgreSQL."""
    print("\nms per claim, 200 claims, the backlog spread over 50 students")
    print(f"{'backlog':>8}" + "".join(f"{n:>22}" for n in ("SQLite id/fair", "PostgreSQL id/fair")))
    for backlog in backlogs:
        sqlite = claim_cost(f"sqlite:///{tmp / f'cost-{backlog}.sqlite3'}", backlog)
        with postgres_database(server_url) as url:
            postgres = claim_cost(url, backlog)
        cells = [f"{f['by_id']:.2f} / {f['fair']:.2f}" for f in (sqlite, postgres)]
        print(f"{backlog:>8}" + "".join(f"{cell:>22}" for cell in cells), flush=True)


# ---------------------------------------------------------------- report


ROWS = [
    ("B waited (s)", "b_wait", "{:.1f}"),
    ("B's score", "b_score", "{:g}"),
    ("A's burst took (s)", "a_total", "{:.1f}"),
    ("gradings/s", "per_second", "{:.2f}"),
    ("A's claimed after B came, before B", "ahead", "{}"),
    ("one hostile grading (s, median)", "hostile_cost", "{:.1f}"),
]


def report(results: dict[str, dict], args) -> None:
    """Print the figures, one column per mode and order."""
    print(
        f"\n{args.hostile} hostile submissions by A (3 functions, each time.sleep(100)), "
        f"then 1 correct by B; embedded: {args.threads} grading threads, "
        f"scale-out: {WORKERS} workers x {WORKER_THREADS} threads"
    )
    names = list(results)
    print(f"{'':36}" + "".join(f"{name:>20}" for name in names))
    for label, key, fmt in ROWS:
        print(f"{label:36}" + "".join(f"{fmt.format(results[n][key]):>20}" for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hostile", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="embedded grading threads")
    parser.add_argument("--orders", default="fifo,fair")
    parser.add_argument("--modes", default="embedded")
    parser.add_argument(
        "--claim-cost", default="", help="backlogs (e.g. 200,1000): only time the claim"
    )
    parser.add_argument("--fifo-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fifo_worker:
        return fifo_worker(args.fifo_worker)
    server_url = os.environ.get("RUBRIC_BENCH_DATABASE_URL", DEFAULT_DATABASE)
    if args.claim_cost:
        with tempfile.TemporaryDirectory(prefix="rubric-fairness-") as tmp:
            backlogs = [int(n) for n in args.claim_cost.split(",")]
            return report_claim_cost(server_url, backlogs, Path(tmp))
    orders, modes = args.orders.split(","), args.modes.split(",")
    if unknown := set(orders) - {"fifo", "fair"} | set(modes) - {"embedded", "scaleout"}:
        parser.error(f"unknown order or mode: {', '.join(sorted(unknown))}")

    broker_url = os.environ.get("RUBRIC_BENCH_BROKER_URL", DEFAULT_BROKER)
    results = {}
    with tempfile.TemporaryDirectory(prefix="rubric-fairness-") as tmp:
        for mode in modes:
            for order in orders:
                if mode == "embedded":
                    deployment = embedded(order, args.threads, Path(tmp))
                else:
                    deployment = scale_out(order, Path(tmp), server_url, broker_url)
                with deployment as app:
                    warm = 1 if mode == "embedded" else WORKERS * WORKER_THREADS
                    results[f"{mode} {order}"] = burst(app, args.hostile, warm)
                print(f"{mode} {order}: {results[f'{mode} {order}']}", flush=True)
    report(results, args)


if __name__ == "__main__":
    main()
