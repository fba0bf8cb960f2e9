"""Submission benchmark: concurrent students submit the L2 exercise over HTTP, wait until graded.

Runs the same load against both deployments, one after the other, and prints them
side by side:
  embedded   gunicorn (grading threads and a fork server in each web worker), SQLite
  scale-out  gunicorn + PostgreSQL + Redis + 2 `rubric worker` processes, same machine

    .venv/bin/python bench/submission_bench.py [--seconds 8] [--clients 16] [--rate 150]
        [--modes embedded,scaleout] [--poll wait|interval] [--check]

Each mode runs three phases: closed loop (every client submits again as soon as its
last submission is graded: the throughput), then open loop (submissions due at a
fixed rate, latency counted from when each was due) at half the closed-loop rate and
at the target rate. Latency is shown twice: submitted_at -> graded_at in the database,
and from due to the answer that said "graded": with --poll wait (the default) each
client asks once, GET /api/v1/submissions/ID?wait=10, answered when graded; with
--poll interval it polls every 25-100 ms, which adds up to that interval. Half
the submissions are the reference, half a registered mistake merged into it.
Afterwards the database is read: every answered 202 must be stored and graded, none
twice (each grader logs every result it records). The CPU each kind of process spent
per graded submission in the closed loop is read from /proc: where a submission's cost
goes. Traffic goes to 127.0.0.1 only; the scale-out mode uses a database of its own and
Redis DB 10, emptied before and after.
"""

import argparse
import contextlib
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tests.scaleout.processes import Service, gunicorn, wait_until, worker  # noqa: E402

EXERCISE = ROOT / "exercises" / "l2-regularization"
SUBMIT = "/api/v1/courses/demo/assignments/l2-regularization/submissions"
SETTINGS = {
    "RUBRIC_SUBMISSION_RATE": "off",
    "RUBRIC_SECRET_KEY": "bench",
    "RUBRIC_WEB_THREADS": os.environ.get("RUBRIC_WEB_THREADS", "8"),
    "RUBRIC_COURSE_QUEUE_CAP": "100000",
}


def submissions_mix() -> list[str]:
    """Half the reference (right), half each registered mistake merged into it (wrong).

    A mistake file defines only the functions it gets wrong; appended to the
    reference, its definitions replace the right ones.
    """
    reference = (EXERCISE / "reference.py").read_text()
    mistakes = sorted((EXERCISE / "mistakes").glob("*.py"))
    return [reference] * len(mistakes) + [reference + "\n\n" + p.read_text() for p in mistakes]


# ---------------------------------------------------------------- deployments


class Deployment:
    """One way of running Rubric: its database, its processes, and how to tear it down."""

    def __init__(self, name: str, database_url: str, broker_url: str | None, logs: Path):
        self.name, self.database_url, self.broker_url, self.logs = (
            name,
            database_url,
            broker_url,
            logs,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUBRIC_")}
        self.env = env | SETTINGS | {"RUBRIC_DATABASE_URL": database_url}
        if broker_url:
            self.env["RUBRIC_BROKER_URL"] = broker_url
        self.services: list[Service] = []

    def start(self, web_workers: int, grading_workers: int) -> int:
        """Migrate, load content, seed, start the processes; return the web port."""
        import subprocess

        for args in (["db", "upgrade"], ["content", "sync"], ["seed-demo"]):
            command = [sys.executable, "-m", "server.cli", *args]
            subprocess.run(command, env=self.env, cwd=ROOT, check=True, capture_output=True)
        if self.broker_url:
            self.services += [
                worker(f"{self.name}-worker{n}", self.env, self.logs)
                for n in range(1, grading_workers + 1)
            ]
        web = gunicorn(self.env, self.logs, workers=web_workers, name=f"{self.name}-gunicorn")
        self.services.append(web)
        for service in self.services:
            service.start()
        return web.port

    def stop(self) -> None:
        """Stop every process started here."""
        for service in reversed(self.services):
            service.stop()

    def process_groups(self) -> set[int]:
        """Process groups of the running services (each runs in its own session)."""
        return {s.pid for s in self.services if s.process}


def embedded(tmp: Path) -> Deployment:
    """One machine: SQLite, grading in the web workers."""
    return Deployment("embedded", f"sqlite:///{tmp / 'bench.sqlite3'}", None, tmp)


class ScaleOut(Deployment):
    """PostgreSQL (a database of its own) + Redis + rubric workers."""

    def __init__(self, server_url: str, broker_url: str, tmp: Path):
        self.admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        name = f"rubric_bench_{uuid.uuid4().hex[:8]}"
        url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        super().__init__("scale-out", url, broker_url, tmp)
        self.database = name
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        redis.Redis.from_url(broker_url).flushdb()

    def stop(self) -> None:
        super().stop()
        redis.Redis.from_url(self.broker_url).flushdb()
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        self.admin.dispose()


def make_students(database_url: str, count: int) -> list[str]:
    """Enroll bench students in the demo course; return their API tokens."""
    from server import create_app
    from server.demo import enroll_load_students
    from server.extensions import db
    from server.models import Course

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench"})
    with app.app_context():
        course = db.session.scalar(sa.select(Course).filter_by(slug="demo"))
        tokens = enroll_load_students(course, "bench", count)
        db.engine.dispose()
    return tokens


# ---------------------------------------------------------------- load


class Phase:
    """One load phase: its schedule, and what came back."""

    def __init__(self, rate: float | None, seconds: float):
        self.rate, self.seconds = rate, seconds
        self.lock = threading.Lock()
        self.next = 0
        self.latencies: list[float] = []  # seconds, due (or sent) -> seen graded
        self.accepted: list[int] = []
        self.failures: Counter = Counter()
        self.start = time.perf_counter() + 0.2
        self.end = self.start + seconds
        self.elapsed = seconds

    def next_slot(self) -> float | None:
        """When the next submission is due (open loop), or now (closed loop); None: stop."""
        with self.lock:
            index, self.next = self.next, self.next + 1
        due = self.start + index / self.rate if self.rate else max(time.perf_counter(), self.start)
        return due if due < self.end else None


class Student:
    """One client thread: a keep-alive connection, a token, its own submissions."""

    # --poll interval: a grading takes ~15-25 ms: look after 25 ms, then back off to
    # 0.1 s. Each poll costs the server ~1-2 ms of CPU, so finer polling would slow what
    # it measures; the latency that counts is read from the database, not from a poll.
    POLL = (0.025, 0.025, 0.05, 0.05)  # then every 0.1 s
    # --poll wait (the default): one GET ?wait=WAIT that the server answers once graded.
    WAIT = 10

    def __init__(self, port: int, token: str, mix: list[str], seed: int, poll: str = "wait"):
        self.port, self.mix, self.rng, self.poll = port, mix, random.Random(seed), poll
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """Send one request on the kept-alive connection.

        gunicorn closes a connection idle for 2 s; a request that finds it closed is
        sent once more on a new one, as browsers do (POSTs carry an Idempotency-Key).
        """
        try:
            return self._send(method, path, body)
        except (OSError, http.client.HTTPException):
            self.reconnect()
        try:
            return self._send(method, path, body)
        except (OSError, http.client.HTTPException):
            self.reconnect()
            raise

    def _send(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        payload = json.dumps(body) if body else None
        self.conn.request(method, path, payload, self.headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def reconnect(self) -> None:
        """Drop the connection; the next request opens a new one."""
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def run(self, phase: Phase) -> None:
        """Submit and poll until graded, again and again, until the phase ends."""
        mine, accepted, failures = [], [], Counter()
        while (due := phase.next_slot()) is not None:
            time.sleep(max(0.0, due - time.perf_counter()))
            try:
                outcome = self.submit_and_wait()
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
            if isinstance(outcome, int):
                accepted.append(outcome)
                mine.append(time.perf_counter() - due)
            else:
                failures[outcome] += 1
        with phase.lock:
            phase.latencies += mine
            phase.accepted += accepted
            phase.failures += failures

    def submit_and_wait(self) -> int | str:
        """Submit one, poll until graded; return its id, or what went wrong."""
        # A unique key per submission: a duplicate row would show in the audit.
        self.headers["Idempotency-Key"] = uuid.uuid4().hex
        status, body = self.request("POST", SUBMIT, {"code": self.rng.choice(self.mix)})
        if status != 202:
            return f"POST {status}"
        if self.poll == "wait":
            return self.wait_for(body["id"])
        for delay in (*self.POLL, *[0.1] * 300):
            time.sleep(delay)
            status, view = self.request("GET", f"/api/v1/submissions/{body['id']}")
            if status != 200:
                return f"GET {status}"
            if view["status"] in ("graded", "error"):
                return body["id"] if view["status"] == "graded" else "grader error"
        return "not graded in 30 s"

    def wait_for(self, submission_id: int) -> int | str:
        """Ask with ?wait= until graded; return its id, or what went wrong."""
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            asked = time.perf_counter()
            path = f"/api/v1/submissions/{submission_id}?wait={self.WAIT}"
            status, view = self.request("GET", path)
            if status != 200:
                return f"GET {status}"
            if view["status"] in ("graded", "error"):
                return submission_id if view["status"] == "graded" else "grader error"
            if time.perf_counter() - asked < self.WAIT / 2:
                time.sleep(0.1)  # answered without waiting: every server thread was busy
        return "not graded in 30 s"


def run_phase(
    port: int, tokens: list[str], rate: float | None, seconds: float, poll: str = "wait"
) -> Phase:
    """Run the students against the server for one phase."""
    mix = submissions_mix()
    phase = Phase(rate, seconds)
    students = [Student(port, token, mix, n, poll) for n, token in enumerate(tokens)]
    threads = [threading.Thread(target=s.run, args=(phase,)) for s in students]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.elapsed = time.perf_counter() - phase.start  # includes draining the last ones
    for student in students:
        student.conn.close()
    return phase


# ---------------------------------------------------------------- measurement


class MemoryPeak:
    """Sample the summed RSS of every process in the given groups, keep the peak."""

    def __init__(self, groups):
        self.groups, self.peak, self.stop = groups, 0, threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(0.25):
            self.peak = max(self.peak, rss_of_groups(self.groups()))

    def close(self) -> int:
        self.stop.set()
        self.thread.join()
        return self.peak


def rss_of_groups(groups: set[int]) -> int:
    """Sum the resident memory (bytes) of processes whose process group is in `groups`."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in groups:
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    return total


CPU_ROLES = ("web workers", "rubric workers", "zygotes", "sandboxes", "load generator")


def cpu_by_role(groups: set[int]) -> Counter:
    """CPU seconds spent so far by the services' processes, by role, and by this process.

    Each sandbox is reaped by its zygote, so the sandboxes' CPU is the zygotes' children's.
    """
    tick, spent = os.sysconf("SC_CLK_TCK"), Counter()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes() if int(fields[2]) in groups else b""
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        own = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        children = (int(fields[13]) + int(fields[14])) / tick  # of its reaped children
        if b"rubric_sandbox" in command:
            spent["zygotes"] += own
            spent["sandboxes"] += children
        elif b"gunicorn" in command:
            spent["web workers"] += own
        elif b"worker" in command:
            spent["rubric workers"] += own
    times = os.times()
    spent["load generator"] = times.user + times.system
    return spent


def audit(database_url: str, accepted: list[int], logs: list[Path]) -> dict:
    """Read the database (and the graders' logs): lost, duplicated, graded twice."""
    engine = sa.create_engine(database_url)

    def graded_ids() -> set[int] | None:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, status FROM submission")).all()
        done = {i for i, status in rows if status == "graded"}
        return done if set(accepted) <= done else None

    # Whatever is still missing after the grace period is counted as lost below.
    with contextlib.suppress(AssertionError):
        wait_until(graded_ids, 30, "stragglers", 0.2)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, status, idempotency_key FROM submission")).all()
    engine.dispose()
    graded = {i for i, status, _ in rows if status == "graded"}
    keys = Counter(key for _, _, key in rows)
    recorded = Counter()
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"message": "graded"' in line:
                recorded[json.loads(line)["submission_id"]] += 1
    return {
        "stored": len(rows),
        "lost": len(set(accepted) - graded),
        "duplicated": sum(n - 1 for n in keys.values() if n > 1),
        "graded_twice": sum(1 for n in recorded.values() if n > 1),
    }


def server_latencies(database_url: str) -> dict[int, float]:
    """Submit-to-graded seconds of each graded submission, by id, on the database's clock."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, submitted_at, graded_at FROM submission WHERE status = 'graded'")
        ).all()
    engine.dispose()
    return {i: _time(graded) - _time(submitted) for i, submitted, graded in rows}


def _time(value) -> float:
    from datetime import datetime

    if isinstance(value, str):  # SQLite hands timestamps back as text
        value = datetime.fromisoformat(value)
    return value.timestamp()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def figures(phase: Phase, server: dict[int, float]) -> dict:
    """Throughput and latencies of one phase: as the clients saw them, and in the database."""
    client = [x * 1000 for x in phase.latencies]
    stored = [server[i] * 1000 for i in phase.accepted if i in server]
    return {
        "per_second": len(phase.accepted) / phase.elapsed,
        "client": (_median(client), percentile(client, 99)),
        "server": (_median(stored), percentile(stored, 99)),
        "failures": dict(phase.failures),
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- the run


def bench_mode(deployment: Deployment, args) -> dict:
    """Start one deployment, load it, audit it, stop it; return its figures."""
    try:
        port = deployment.start(args.web_workers, args.grading_workers)
        tokens = make_students(deployment.database_url, max(args.clients, args.open_clients))
        memory = MemoryPeak(deployment.process_groups)
        run_phase(port, tokens[:4], None, 1.5, args.poll)  # warm-up: connections, fork servers
        before = cpu_by_role(deployment.process_groups())
        closed = run_phase(port, tokens[: args.clients], None, args.seconds, args.poll)
        after = cpu_by_role(deployment.process_groups())
        graded = max(1, len(closed.accepted))
        cpu = {role: (after[role] - before[role]) * 1000 / graded for role in CPU_ROLES}
        # Open loop twice: at the target rate, and at half of what the closed loop reached.
        half = max(1.0, round(len(closed.accepted) / closed.elapsed / 2))
        phases = {"closed": closed, "half": None, "target": None}
        opened = tokens[: args.open_clients]
        phases["half"] = run_phase(port, opened, half, args.seconds, args.poll)
        phases["target"] = run_phase(port, opened, args.rate, args.seconds, args.poll)
        peak = memory.close()
        accepted = [i for phase in phases.values() for i in phase.accepted]
        checks = audit(deployment.database_url, accepted, [s.log for s in deployment.services])
        server = server_latencies(deployment.database_url)
    finally:
        deployment.stop()
    result = {key: figures(phase, server) for key, phase in phases.items()}
    return result | {"half_rate": half, "memory_mb": peak / 2**20, "cpu_ms": cpu, **checks}


def report(results: dict[str, dict], args) -> None:
    """Print the modes side by side."""
    names = list(results)
    print(
        f"\nL2 submissions over HTTP, {os.cpu_count()} cores: gunicorn {args.web_workers} workers"
        f" x 8 threads; scale-out adds {args.grading_workers} rubric workers x 2 threads;"
        f" {args.seconds:g} s per phase; --poll {args.poll}"
    )
    print(f"  {'':46}" + "".join(f"{name:>24}" for name in names))

    def row(label: str, cell) -> None:
        print(f"  {label:46}" + "".join(f"{cell(results[n]):>24}" for n in names))

    row("closed loop, clients", lambda r: str(args.clients))
    _phase_rows(row, "closed")
    row("open loop at half that rate (/s)", lambda r: f"{r['half_rate']:g}")
    _phase_rows(row, "half")
    row("open loop at the target rate (/s)", lambda r: f"{args.rate:g}")
    _phase_rows(row, "target")
    row("stored / lost / duplicated / graded twice", _integrity)
    row("peak memory (all Rubric processes, RSS)", lambda r: f"{r['memory_mb']:.0f} MB")
    print("  CPU per graded submission in the closed loop:")
    for role in CPU_ROLES:
        row(f"  {role}", lambda r, role=role: f"{r['cpu_ms'][role]:.1f} ms")
    for name, result in results.items():
        for key in ("closed", "half", "target"):
            if result[key]["failures"]:
                print(f"  {name} {key}: failed requests {result[key]['failures']}")


def _phase_rows(row, key: str) -> None:
    row("  graded submissions/s", lambda r: f"{r[key]['per_second']:.1f}")
    row("  submit->graded in the database, p50 / p99", lambda r: _ms(r[key]["server"]))
    row("  submit->graded seen by client, p50 / p99", lambda r: _ms(r[key]["client"]))


def _ms(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.1f} / {pair[1]:.1f} ms"


def _integrity(r: dict) -> str:
    return f"{r['stored']} / {r['lost']} / {r['duplicated']} / {r['graded_twice']}"


def targets_missed(result: dict, rate: float) -> list[str]:
    """The issue's embedded targets this run missed (latency judged at the target rate)."""
    throughput = result["closed"]["per_second"]
    median, p99 = result["target"]["server"]
    missed = []
    if throughput < 150:
        missed.append(f"throughput {throughput:.1f}/s < 150/s")
    if not median < 30:
        missed.append(f"median at {rate:g}/s {median:.1f} ms >= 30 ms")
    if not p99 < 150:
        missed.append(f"p99 at {rate:g}/s {p99:.1f} ms >= 150 ms")
    if result["lost"] or result["duplicated"] or result["graded_twice"]:
        missed.append("lost or duplicated submissions")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="per phase")
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients")
    parser.add_argument("--rate", type=float, default=150, help="open-loop submissions/s")
    parser.add_argument("--open-clients", type=int, default=48, help="open-loop client threads")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--grading-workers", type=int, default=2, help="scale-out only")
    parser.add_argument("--modes", default="embedded,scaleout")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument(
        "--poll",
        choices=["wait", "interval"],
        default="wait",
        help="wait: one GET ?wait= per submission; interval: poll every 25-100 ms",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    modes = args.modes.split(",")
    unknown = sorted(set(modes) - {"embedded", "scaleout"})
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}: choose embedded, scaleout")

    tmp = Path(tempfile.mkdtemp(prefix="rubric-submission-bench-"))
    results = {}
    for mode in modes:
        folder = tmp / mode
        folder.mkdir()
        if mode == "embedded":
            deployment = embedded(folder)
        else:
            deployment = ScaleOut(args.postgres_url, args.broker_url, folder)
        print(f"running {deployment.name} ...", flush=True)
        results[f"{deployment.name}"] = bench_mode(deployment, args)
    report(results, args)
    print(f"  (logs under {tmp})")
    if "embedded" not in results:  # the targets are the embedded deployment's
        print("  embedded targets: not measured (no embedded run)")
        return
    missed = targets_missed(results["embedded"], args.rate)
    print("  embedded targets: " + ("all met" if not missed else "MISSED " + "; ".join(missed)))
    if args.check and missed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
