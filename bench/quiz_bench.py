"""Quiz benchmark: concurrent clients post graded attempts over HTTP to gunicorn on SQLite.

Run: .venv/bin/python bench/quiz_bench.py [--clients 16] [--seconds 10] [--workers 4]
Prints throughput, latency percentiles, errors, and checks every accepted attempt
was recorded exactly once. Traffic goes to 127.0.0.1 only and stops by itself.
"""

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.httpclient import KeepAliveClient  # noqa: E402
from server.cli import gunicorn_command  # noqa: E402

PATH = "/api/v1/courses/demo/assignments/l2-regularization-quiz/attempts"
RIGHT = {"q1": "b", "q2": 0.998, "q3": "b", "q4": ["a", "b"], "q5": "0.99"}
WRONG = {"q1": "a", "q2": "0.99", "q3": "d", "q4": ["a", "c"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict, students: int) -> list[str]:
    """Migrate, sync, seed the demo, and enroll bench students; return their tokens."""
    from server import create_app
    from server.demo import enroll_load_students
    from server.extensions import db

    rubric = [sys.executable, "-m", "server.cli"]
    for args in (["db", "upgrade"], ["content", "sync"], ["seed-demo"]):
        subprocess.run(rubric + args, env=env, check=True, capture_output=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": env["RUBRIC_DATABASE_URL"], "SECRET_KEY": "b"})
    with app.app_context():
        from server.models import Course

        course = db.session.scalar(db.select(Course).filter_by(slug="demo"))
        return enroll_load_students(course, "bench", students)


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


class Load:
    """Shared state of one load phase: the schedule, and what came back."""

    def __init__(self, rate: float | None, seconds: float):
        self.rate, self.seconds = rate, seconds
        self.lock = threading.Lock()
        self.sent = 0
        self.latencies: list[float] = []
        self.statuses: list = []
        self.start = time.perf_counter() + 0.2

    def next_slot(self) -> float | None:
        """Return when to send the next request (open loop), or now (closed loop)."""
        with self.lock:
            index, self.sent = self.sent, self.sent + 1
        due = self.start + index / self.rate if self.rate else time.perf_counter()
        return due if due < self.start + self.seconds else None


def client(port: int, token: str, load: Load) -> None:
    """Post attempts on one keep-alive connection until the phase ends."""
    conn = KeepAliveClient(port)
    headers = f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    bodies = [json.dumps({"answers": answers}).encode() for answers in (RIGHT, WRONG)]
    rng = random.Random(token)
    mine, codes = [], []
    while (due := load.next_slot()) is not None:
        time.sleep(max(0.0, due - time.perf_counter()))
        try:
            status, _ = conn.request("POST", PATH, rng.choice(bodies), headers)
            codes.append(status)
        except OSError as exc:
            codes.append(type(exc).__name__)
        # Measured from when the request was due, not sent: a late send is latency too.
        mine.append(time.perf_counter() - due)
    conn.close()
    with load.lock:
        load.latencies += mine
        load.statuses += codes


def run_phase(port: int, tokens: list[str], rate: float | None, seconds: float) -> dict:
    """Run one load phase and return its figures."""
    load = Load(rate, seconds)
    threads = [threading.Thread(target=client, args=(port, t, load)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - load.start
    ms = [x * 1000 for x in load.latencies]
    graded = load.statuses.count(201)
    return {
        "graded": graded,
        "errors": len(load.statuses) - graded,
        "per_second": graded / elapsed,
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": max(ms),
    }


def report(name: str, figures: dict) -> None:
    print(
        f"  {name:<26} {figures['per_second']:7.1f} graded/s   p50 {figures['p50']:6.1f} ms"
        f"   p90 {figures['p90']:6.1f}   p99 {figures['p99']:6.1f}   max {figures['max']:6.1f}"
        f"   errors {figures['errors']}"
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def count_recorded(database_url: str) -> int:
    """Count the attempts stored."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM quiz_attempt")).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients")
    parser.add_argument("--rate", type=float, default=300, help="open-loop attempts/s")
    parser.add_argument("--seconds", type=float, default=10, help="per phase")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rubric-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    env = os.environ | {"RUBRIC_DATABASE_URL": url, "RUBRIC_SECRET_KEY": "bench"}
    tokens = prepare(env, max(args.clients, 32))
    port = free_port()
    server = subprocess.Popen(
        gunicorn_command(f"127.0.0.1:{port}", args.workers, "--threads", str(args.threads)),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port)
        warmup = run_phase(port, tokens[:4], None, 1.0)  # every worker opens its connections
        closed = run_phase(port, tokens[: args.clients], None, args.seconds)
        # Open loop: requests are due at a fixed rate whatever the answers take.
        opened = run_phase(port, tokens, args.rate, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)

    graded = sum(phase["graded"] for phase in (warmup, closed, opened))
    errors = sum(phase["errors"] for phase in (warmup, closed, opened))
    recorded = count_recorded(url)
    print(
        f"quiz attempts over HTTP to gunicorn ({args.workers} workers x {args.threads} "
        f"threads), SQLite, {os.cpu_count()} cores, {args.seconds:g} s per phase"
    )
    report(f"closed loop, {args.clients} clients", closed)
    report(f"open loop at {args.rate:g}/s", opened)
    print(
        f"  recorded {recorded} of {graded} answered 201 (lost or duplicated: "
        f"{abs(recorded - graded)})"
    )
    if errors or recorded != graded:
        raise SystemExit(f"FAILED: {errors} errors, {recorded} recorded vs {graded} graded")


if __name__ == "__main__":
    main()
