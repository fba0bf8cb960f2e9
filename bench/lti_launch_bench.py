"""LTI launch benchmark: LTI 1.3 launches over HTTP to gunicorn, beside a page and an API call.

Run: .venv/bin/python bench/lti_launch_bench.py [--clients 8] [--seconds 6] [--workers 4]

A launch as the LMS and the browser make it: POST /lti/login (302 to the platform's
authorization URL with state and nonce), then POST /lti/launch with an id_token for
that nonce, signed RS256 by a stand-in platform whose key set is served over HTTP on
127.0.0.1 (tests/lti/platform.py; the tool fetches it once per worker and caches it),
and the state cookie, answered by a 302 to the linked course. The nonce comes from
the tool, so the token is signed between the two requests; that signing (the LMS's
work) is left out of the latency and its CPU is printed apart. Closed loops, one
phase after the other on the same server: launches of returning users, first launches
(a new account each), a logged-in page view (GET /courses/demo with the session the
launch opened) and an API quiz attempt (POST, bearer token). Prints operations/s,
p50 and p99, and the server's CPU per operation read from /proc. Then counts, in
this process, the SQL statements and commits of one launch. Loopback only; it stops
by itself.
"""

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.httpclient import HttpError, KeepAliveClient  # noqa: E402
from bench.quiz_bench import PATH as ATTEMPTS  # noqa: E402
from bench.quiz_bench import RIGHT, WRONG, free_port, percentile, prepare, wait_ready  # noqa: E402
from bench.submission_bench import cpu_by_role  # noqa: E402
from server.cli import gunicorn_command  # noqa: E402
from tests.lti.platform import KeySetServer, StandInPlatform  # noqa: E402

CONTEXT = "lms-course-1"  # the LMS course, linked to the demo course
TARGET = "https://rubric.example.edu/lti/launch"
FORM = "Content-Type: application/x-www-form-urlencoded\r\n"
STATE_COOKIE = "rubric_lti_state"


class Browser(KeepAliveClient):
    """A keep-alive client that also keeps each answer's headers and the cookies set."""

    def __init__(self, port: int):
        super().__init__(port)
        self.headers: list[tuple[str, str]] = []
        self.cookies: dict[str, str] = {}

    def header(self, name: str) -> str:
        """The last answer's header `name` ("" when absent)."""
        return next((v for k, v in self.headers if k == name), "")

    def _response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head = self.buffer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        # Several Set-Cookie lines may come: keep every header, in order.
        self.headers = [
            (k.strip().lower(), v.strip()) for k, v in (line.split(":", 1) for line in head[1:])
        ]
        for name, value in self.headers:
            if name == "set-cookie":
                self._keep_cookie(value)
        return super()._response()

    def _keep_cookie(self, line: str) -> None:
        name, value = line.split(";", 1)[0].split("=", 1)
        if not value or "max-age=0" in line.lower():
            self.cookies.pop(name, None)  # a deleted cookie
        else:
            self.cookies[name] = value

    def cookie_header(self, **extra: str) -> str:
        """The Cookie header a browser would send (empty if no cookie)."""
        jar = self.cookies | extra
        return f"Cookie: {'; '.join(f'{k}={v}' for k, v in jar.items())}\r\n" if jar else ""


class Launcher:
    """One browser of one LMS user: runs full launches and reports each step's time."""

    def __init__(self, port: int, lms: StandInPlatform, sub: str):
        self.browser, self.lms, self.sub = Browser(port), lms, sub

    def launch(self, sub: str | None = None) -> tuple[float, float, float]:
        """One login + launch; return (login s, launch s, CPU s spent signing)."""
        sub = sub or self.sub
        login = urlencode(
            {
                "iss": self.lms.issuer,
                "login_hint": sub,
                "target_link_uri": TARGET,
                "client_id": self.lms.client_id,
                "lti_deployment_id": self.lms.deployment_id,
            }
        ).encode()
        start = time.perf_counter()
        status, body = self.browser.request("POST", "/lti/login", login, FORM)
        login_s = time.perf_counter() - start
        if status != 302:
            raise HttpError(f"login answered {status}: {body[:200]!r}")
        auth = parse_qs(urlsplit(self.browser.header("location")).query)
        state, nonce = auth["state"][0], auth["nonce"][0]
        signing = time.thread_time()  # the LMS's work: not in the latency
        claims = self.lms.claims(nonce, TARGET, sub=sub, email=f"{sub}@lms.example.edu")
        token = self.lms.sign(claims)
        signing = time.thread_time() - signing
        # The browser posts the platform's form back, with the state cookie it got.
        form = urlencode({"id_token": token, "state": state}).encode()
        headers = FORM + self.browser.cookie_header()
        start = time.perf_counter()
        status, body = self.browser.request("POST", "/lti/launch", form, headers)
        launch_s = time.perf_counter() - start
        if status != 302 or self.browser.header("location") != "/courses/demo":
            raise HttpError(f"launch answered {status}: {body[:300]!r}")
        return login_s, launch_s, signing


class Phase:
    """One closed-loop phase: when it ends, and what came back."""

    def __init__(self, seconds: float, limit: int):
        self.lock = threading.Lock()
        self.start = time.perf_counter()
        self.end, self.left = self.start + seconds, limit
        self.latencies: list[float] = []  # seconds per operation
        self.steps: list[tuple[float, float]] = []  # (login, launch) of a full launch
        self.signing = 0.0
        self.errors: list[str] = []

    def go_on(self) -> bool:
        """Whether to start another operation (time and count both bound a phase)."""
        with self.lock:
            self.left -= 1
            return self.left >= 0 and time.perf_counter() < self.end


def run(phase: Phase, workers: list, operation) -> dict:
    """Run operation(worker, phase) on every worker's thread until the phase ends."""

    def loop(worker) -> None:
        while phase.go_on():
            try:
                operation(worker, phase)
            except (OSError, HttpError) as exc:
                with phase.lock:
                    phase.errors.append(str(exc)[:200])

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - phase.start
    ms = [x * 1000 for x in phase.latencies] or [float("nan")]
    return {
        "count": len(phase.latencies),
        "per_second": len(phase.latencies) / elapsed,
        "p50": percentile(ms, 50),
        "p99": percentile(ms, 99),
        "errors": len(phase.errors),
        "first_error": phase.errors[0] if phase.errors else "",
        "steps": phase.steps,
        "signing_ms": phase.signing * 1000 / max(1, len(phase.latencies)),
    }


def full_launch(fresh: bool):
    """The operation of a launch phase: a returning user's, or a new user's each time."""

    def operation(launcher: Launcher, phase: Phase) -> None:
        sub = f"new-{uuid.uuid4().hex[:12]}" if fresh else None
        login_s, launch_s, signing = launcher.launch(sub)
        with phase.lock:
            phase.latencies.append(login_s + launch_s)
            phase.steps.append((login_s, launch_s))
            phase.signing += signing

    return operation


def page_view(launcher: Launcher, phase: Phase) -> None:
    """GET the course page with the session the launch opened."""
    browser = launcher.browser
    start = time.perf_counter()
    status, _ = browser.request("GET", "/courses/demo", b"", browser.cookie_header())
    elapsed = time.perf_counter() - start
    if status != 200:
        raise HttpError(f"page answered {status}")
    with phase.lock:
        phase.latencies.append(elapsed)


def quiz_attempt(client: tuple, phase: Phase) -> None:
    """POST a graded quiz attempt to the API with a bearer token."""
    conn, token, rng = client
    body = json.dumps({"answers": rng.choice((RIGHT, WRONG))}).encode()
    headers = f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    start = time.perf_counter()
    status, _ = conn.request("POST", ATTEMPTS, body, headers)
    elapsed = time.perf_counter() - start
    if status != 201:
        raise HttpError(f"attempt answered {status}")
    with phase.lock:
        phase.latencies.append(elapsed)


def register(env: dict, lms: StandInPlatform) -> None:
    """The administrator's steps: rubric lti platform add, then context link to the demo."""
    values = lms.registration()
    rubric = [sys.executable, "-m", "server.cli", "lti"]
    add = ["platform", "add", "--issuer", values["issuer"], "--client-id", values["client_id"]]
    add += ["--deployment-id", lms.deployment_id, "--name", "Bench LMS"]
    add += ["--auth-login-url", values["auth_login_url"]]
    add += ["--auth-token-url", values["auth_token_url"], "--keyset-url", values["keyset_url"]]
    link = ["context", "link", "--issuer", lms.issuer, "--context-id", CONTEXT, "demo"]
    for args in (add, link):
        subprocess.run(rubric + args, env=env, cwd=ROOT, check=True, capture_output=True)


def in_process(url: str, lms: StandInPlatform, launches: int) -> dict:
    """SQL statements and commits of one returning launch, and where launches' CPU goes.

    Runs in this process through Flask's test client (no HTTP): the first launch makes
    the account, the second is counted; then `launches` returning launches and a tenth
    as many first launches run under cProfile, whose own time is summed by package.
    """
    import sqlalchemy as sa

    from server import create_app
    from server.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    logging.getLogger("rubric").setLevel(logging.WARNING)
    counting = {"login": [0, 0], "launch": [0, 0]}
    step = ["login"]

    def bump(index: int) -> None:
        counting[step[0]][index] += 1

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: bump(0))
        sa.event.listen(db.engine, "commit", lambda *a: bump(1))
    client = app.test_client()
    for _ in range(2):  # the first launch makes the account; count the second
        counting.update(login=[0, 0], launch=[0, 0])
        _test_client_launch(client, lms, step, "profiled")
    counts = {k: list(v) for k, v in counting.items()}  # the profiled launches count elsewhere
    returning = _profiled(lambda: _test_client_launch(client, lms, step, "profiled"), launches)
    first = _profiled(
        lambda: _test_client_launch(client, lms, step, f"new-{uuid.uuid4().hex[:12]}"),
        max(1, launches // 10),
    )
    with app.app_context():
        db.engine.dispose()
    return {"counts": counts, "returning": returning, "first": first}


def _profiled(launch, times: int) -> list[tuple[str, float]]:
    """Run launch() `times` times under cProfile; return the shares of its time by package."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for _ in range(times):
        launch()
    profile.disable()
    return _shares(pstats.Stats(profile))


def _test_client_launch(client, lms: StandInPlatform, step: list, sub: str) -> None:
    step[0] = "login"
    form = {"iss": lms.issuer, "login_hint": sub, "target_link_uri": TARGET}
    answer = client.post("/lti/login", data=form | {"client_id": lms.client_id})
    auth = parse_qs(urlsplit(answer.location).query)
    claims = lms.claims(auth["nonce"][0], TARGET, sub=sub, email=f"{sub}@lms.example.edu")
    token = lms.sign(claims)
    step[0] = "launch"
    answer = client.post("/lti/launch", data={"id_token": token, "state": auth["state"][0]})
    assert answer.status_code == 302, answer.text


# Where a function's own time is counted, by its file (or built-in's) name; first match.
PACKAGES = [
    ("the LMS signing (bench's own work)", ("tests/lti/platform.py", "RSAPrivateKey")),
    ("hashing the new account's unusable password (scrypt)", ("scrypt",)),
    ("RSA verify, JWT and JWK (PyJWT, cryptography)", ("/jwt/", "/cryptography/", "RSAPublicKey")),
    ("SQLite itself", ("sqlite3",)),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("Flask, Werkzeug, Jinja, Flask-Login/WTF", ("/flask", "/werkzeug/", "/jinja2/")),
    ("Rubric's own code", ("/server/",)),
    ("built-ins and the standard library, called from all of the above", ("",)),
]


def _shares(stats) -> list[tuple[str, float]]:
    """Percent of the profiled time by package, the signing left out of the whole."""
    spent: dict[str, float] = {}
    for (filename, _line, name), row in stats.stats.items():
        where = f"{filename}:{name}"
        label = next(label for label, marks in PACKAGES if any(m in where for m in marks))
        spent[label] = spent.get(label, 0.0) + row[2]  # own time
    spent.pop(PACKAGES[0][0], None)
    whole = sum(spent.values()) or 1.0
    return sorted(((k, 100 * v / whole) for k, v in spent.items()), key=lambda kv: -kv[1])


def server_cpu(pgid: int) -> float:
    """CPU seconds spent so far by gunicorn's processes."""
    return cpu_by_role({pgid})["web workers"]


def measure(name: str, pgid: int, phase: Phase, workers: list, operation) -> dict:
    """Run one phase and add the server's CPU per operation."""
    before = server_cpu(pgid)
    figures = run(phase, workers, operation)
    figures["cpu_ms"] = (server_cpu(pgid) - before) * 1000 / max(1, figures["count"])
    figures["name"] = name
    return figures


def report(figures: dict) -> None:
    print(
        f"  {figures['name']:<34} {figures['per_second']:7.1f}/s   p50 {figures['p50']:6.1f} ms"
        f"   p99 {figures['p99']:6.1f} ms   server CPU {figures['cpu_ms']:5.1f} ms/op"
        f"   n={figures['count']}   errors {figures['errors']}"
    )
    if figures["first_error"]:
        print(f"      first error: {figures['first_error']}")


def report_steps(figures: dict) -> None:
    """p50/p99 of the login and the launch request apart, and the signing left out."""
    logins = [a * 1000 for a, _ in figures["steps"]] or [float("nan")]
    launches = [b * 1000 for _, b in figures["steps"]] or [float("nan")]
    print(
        f"      of which POST /lti/login p50 {percentile(logins, 50):.1f} / p99 "
        f"{percentile(logins, 99):.1f} ms, POST /lti/launch p50 {percentile(launches, 50):.1f}"
        f" / p99 {percentile(launches, 99):.1f} ms; the LMS signing (not counted) "
        f"{figures['signing_ms']:.2f} ms CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent browsers")
    parser.add_argument("--seconds", type=float, default=6, help="at most, per phase")
    parser.add_argument("--limit", type=int, default=20000, help="at most operations per phase")
    parser.add_argument("--profile", type=int, default=200, help="launches profiled in-process")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rubric-lti-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUBRIC_")} | {
        "RUBRIC_DATABASE_URL": url,
        "RUBRIC_SECRET_KEY": "bench",
        "RUBRIC_LTI_KEY_DIR": str(tmp / "lti-keys"),
        "RUBRIC_LTI_RATE": "off",  # every browser here comes from 127.0.0.1
    }
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the key set's access log
    keyset = KeySetServer()
    lms = StandInPlatform(jwks=keyset)
    tokens = prepare(env, args.clients)
    register(env, lms)
    port = free_port()
    log = tmp / "gunicorn.log"
    server = subprocess.Popen(
        gunicorn_command(f"127.0.0.1:{port}", args.workers, "--threads", str(args.threads)),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,  # its own process group, for its CPU in /proc
    )
    try:
        wait_ready(port)
        launchers = [Launcher(port, lms, f"student-{n}") for n in range(args.clients)]
        # Every user's first launch, all at once, makes the accounts and the resource
        # link; every worker fetches the key set.
        warmup = run(Phase(60, args.clients * 2), launchers, full_launch(fresh=False))
        attempters = [(KeepAliveClient(port), t, random.Random(t)) for t in tokens]
        plan = [
            ("full launch, returning user", launchers, full_launch(fresh=False)),
            ("full launch, first (new account)", launchers, full_launch(fresh=True)),
            ("page view GET /courses/demo", launchers, page_view),
            ("API quiz attempt POST", attempters, quiz_attempt),
        ]
        phases = [
            measure(name, server.pid, Phase(args.seconds, args.limit), workers, operation)
            for name, workers, operation in plan
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    profiled = in_process(url, lms, args.profile)
    fetches = keyset.fetches
    keyset.close()

    print(
        f"LTI 1.3 launches over HTTP to gunicorn ({args.workers} workers x {args.threads} "
        f"threads), SQLite, {os.cpu_count()} cores, {args.clients} clients, closed loop, "
        f"at most {args.seconds:g} s per phase"
    )
    for figures in phases:
        report(figures)
        if figures["steps"]:
            report_steps(figures)
    print(
        f"  key set fetched {fetches} times in all (cached: once by each process that verified"
        f" a token); warm-up errors {warmup['errors']} {warmup['first_error']}"
    )
    counts = profiled["counts"]
    print(
        f"  SQL per returning launch: login {counts['login'][0]} statements, "
        f"{counts['login'][1]} commits; launch {counts['launch'][0]} statements, "
        f"{counts['launch'][1]} commits"
    )
    for kind, times in (("returning", args.profile), ("first", max(1, args.profile // 10))):
        print(f"  where a {kind} launch's CPU goes ({times} in-process launches, cProfile):")
        for label, share in profiled[kind]:
            print(f"      {share:5.1f}%  {label}")
    errors = warmup["errors"] + sum(f["errors"] for f in phases)
    if errors:
        raise SystemExit(f"FAILED: {errors} errors; the server's log is {log}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
