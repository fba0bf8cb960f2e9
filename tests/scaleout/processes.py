"""Real processes for the tests: `rubric worker`, gunicorn and a private redis-server.

Each runs in its own session (process group) with its output in a log file, so a
test can crash one process by its pid and the harness can still stop everything it
started, children (fork servers) included. Logs of failed tests are printed by the
hook in tests/conftest.py.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from server.cli import gunicorn_command
from server.config import PROJECT_ROOT

T = TypeVar("T")
# Every log written during this session; a failed test prints the tails of these.
LOGS: list[Path] = []


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 40, chars: int = 6000) -> str:
    """Return the last lines of a log file, at most `chars` of them."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])[-chars:]


class Service:
    """A subprocess in its own process group, writing to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path, ready: Callable):
        self.name, self.argv, self.env, self.log, self.ready = name, argv, env, log, ready
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self, timeout: float = 60) -> "Service":
        """Start the process and wait until it is ready."""
        if self.log not in LOGS:
            LOGS.append(self.log)
        with self.log.open("ab") as out:
            out.write(f"==== start {self.name}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        mark = self.log.stat().st_size
        wait_until(lambda: self._ready_or_died(mark), timeout, f"{self.name} to be ready")
        return self

    def _ready_or_died(self, mark: int) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.process.returncode}:\n{self.tail()}")
        return self.ready(self, mark)

    def new_output(self, mark: int) -> str:
        """Return what the process logged after byte `mark`."""
        with self.log.open("rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def tail(self) -> str:
        return log_tail(self.log)

    def crash(self) -> None:
        """SIGKILL the main process only, as the OOM killer or a power cut would."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        _end_group(self.pid)  # its fork server notices and exits; kill any straggler

    def stop(self) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL whatever is left."""
        if self.process is None:
            return
        _signal_group(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _signal_group(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        _end_group(self.pid)
        self.process = None


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _end_group(pgid: int, grace: float = 5) -> None:
    """Give the group's children (fork servers) a moment to exit, then SIGKILL them."""
    deadline = time.monotonic() + grace
    while _signal_group(pgid, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)


def _logged(text: str) -> Callable:
    return lambda service, mark: text in service.new_output(mark)


def _answers_http(port: int) -> Callable:
    def ready(_service, _mark) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/api/v1/openapi.json")
            with conn.getresponse() as response:
                return response.status == 200
        except OSError:
            return False
        finally:
            conn.close()

    return ready


def _redis_pings(port: int) -> Callable:
    def ready(_service, _mark) -> bool:
        import redis

        try:
            with redis.Redis(port=port, socket_connect_timeout=0.5) as client:
                return client.ping()
        except redis.RedisError:
            return False

    return ready


def worker(name: str, env: dict, log_dir: Path, concurrency: int = 2) -> Service:
    """A `rubric worker` (Celery, thread pool, its own fork server and sweep)."""
    argv = [sys.executable, "-m", "server.cli", "worker", "--concurrency", str(concurrency)]
    return Service(name, argv, env, log_dir / f"{name}.log", _logged(" ready."))


def gunicorn(env: dict, log_dir: Path, workers: int = 2, name: str = "gunicorn") -> Service:
    """gunicorn with the settings of `rubric serve`, on a free loopback port."""
    port = free_port()
    argv = gunicorn_command(f"127.0.0.1:{port}", workers)
    service = Service(name, argv, env, log_dir / f"{name}.log", _answers_http(port))
    service.port = port
    return service


def redis_server(port: int, log_dir: Path, name: str = "redis") -> Service:
    """A private, memory-only redis-server on 127.0.0.1:port."""
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(log_dir)]
    return Service(name, argv, os.environ.copy(), log_dir / f"{name}.log", _redis_pings(port))
