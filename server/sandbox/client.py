"""The trusted side: start the zygote, send it runs, parse what comes back strictly."""

from __future__ import annotations

import array
import atexit
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np

from server.memo import IdentityMemo

from . import frames, libc
from .isolate import JOB, JOB_MAGIC
from .model import (
    CHILD_CALL_OUTCOMES,
    CHILD_LOAD_OUTCOMES,
    CRASHED,
    INVALID_OUTPUT,
    LAYERS,
    MEMORY_LIMIT,
    NOT_RUN,
    OK,
    RUNTIME_ERROR,
    SKIP_ENV,
    TIMEOUT,
    Call,
    CallResult,
    Limits,
    RunResult,
    SandboxUnavailable,
)
from .runner import CALL_HEADER, OUTCOME_CODES

log = logging.getLogger("rubric.sandbox")

SANDBOX_DIR = os.path.dirname(os.path.abspath(__file__))
# Make this directory package `rubric_sandbox` without running any __init__.py: the
# zygote never runs server/__init__.py (the Flask app) nor anything else of the
# service, nor even this module (logging, subprocess and their at-fork hooks, which
# every child would run).
# Its modules are compiled under the name /rubric_sandbox/NAME.py: a frame or a
# traceback a student looks at must not name the checkout (zygote.forget_host).
BOOTSTRAP = """\
import sys, types, _imp
from importlib import machinery
class Loader(machinery.SourceFileLoader):
    fix = staticmethod(_imp._fix_co_filename)
    def get_code(self, fullname):
        code = super().get_code(fullname)  # from __pycache__ when it is there
        self.fix(code, "/rubric_sandbox/" + self.path.rpartition("/")[2])
        return code
package = types.ModuleType("rubric_sandbox")
package.__path__ = [sys.argv.pop(1)]
sys.path_importer_cache[package.__path__[0]] = machinery.FileFinder(
    package.__path__[0], (Loader, [".py"])
)
sys.modules["rubric_sandbox"] = package
del types, _imp, machinery, Loader, package
from rubric_sandbox import zygote
zygote.main()
"""
# The zygote's whole environment, inherited by every sandbox: no secret can leak through it.
ZYGOTE_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
# Where the cgroup v1 hierarchies are mounted, the cgroup v2 hierarchy is mounted (this
# process's own group is then used: systemd Delegate=yes, a container's namespace), or a
# v2 directory delegated to the service (used as it is). See cgroups.py.
CGROUP_ROOT_ENV = "RUBRIC_SANDBOX_CGROUP_ROOT"
HELLO = "HELO"  # the zygote's first line: what the cgroup layer is (zygote.HELLO)
HELLO_SECONDS = 60.0  # the zygote imports NumPy first
GRACE_SECONDS = 3.0  # beyond the wall limit, before the trusted side stops waiting
MAX_RESPONSE = 64 * 1024 * 1024
READ_BUFFER = 256 * 1024
CODE_TO_OUTCOME = {code: name for name, code in OUTCOME_CODES.items()}


def skipped_layers_from_env() -> frozenset[str]:
    """Read the loudly named opt-out variable."""
    names = {n.strip() for n in os.environ.get(SKIP_ENV, "").split(",") if n.strip()}
    unknown = names - set(LAYERS)
    if unknown:
        raise ValueError(f"{SKIP_ENV} names unknown layers {sorted(unknown)}; known: {LAYERS}")
    return frozenset(names)


def frozen(array) -> bool:
    """Tell whether an array cannot change: a read-only ndarray that owns its data."""
    return type(array) is np.ndarray and not array.flags.writeable and array.base is None


def _frozen_tuple(args) -> bool:
    """Tell whether a call's arguments are a tuple of arrays that cannot change."""
    return type(args) is tuple and all(frozen(a) for a in args)


# An exercise's test inputs are the same read-only arrays, in the same tuples, in every
# submission: encode each test's CALL frame once per process (np.save costs ~20 µs an
# array).
_framed: IdentityMemo[tuple[bytes, tuple[bytes, ...]]] = IdentityMemo(_frozen_tuple, 8192)


def encode_call(call: Call) -> tuple[bytes, tuple[bytes, ...]]:
    """Return a call's CALL frame and its arguments' .npy bytes (once, if they cannot change)."""
    return _framed.get(call.args, lambda: _encode_call(call), tag=call.function)


def _encode_call(call: Call) -> tuple[bytes, tuple[bytes, ...]]:
    """Encode a call's arguments as .npy and the whole call as a CALL frame."""
    sent = tuple([frames.dump_array(np.asarray(a)) for a in call.args])
    return frames.frame(b"CALL", frames.record([call.function.encode(), *sent])), sent


def encode_request(
    code: str, calls: list[Call], harness: str = ""
) -> tuple[bytes, list[tuple[bytes, ...]]]:
    """Encode the source and the calls as the frames the sandbox reads.

    Also return each call's encoded arguments: an argument that comes back as the same
    bytes was not modified, and need not be parsed again.
    """
    chunks = [frames.frame(b"CODE", code.encode("utf-8", "surrogatepass"))]
    if harness:
        chunks.append(frames.frame(b"HRNS", harness.encode("utf-8")))
    sent = []
    for call in calls:
        framed, arguments = encode_call(call)
        chunks.append(framed)
        sent.append(arguments)
    chunks.append(frames.frame(b"END_", b""))
    return b"".join(chunks), sent


class Sandbox:
    """A warm fork server owned by this process; run() is safe from several threads."""

    def __init__(self, skip_layers: frozenset[str] | None = None):
        skip = skipped_layers_from_env() if skip_layers is None else frozenset(skip_layers)
        self.layers = frozenset(LAYERS) - skip
        self.owner_pid = os.getpid()
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._conn: socket.socket | None = None
        # What the cgroup layer is, as the zygote found the host: "cgroup v2 (...)",
        # "cgroup: substitute rlimits+seccomp (...)", or "refused: ..." (see zygote.py).
        self.isolation = "not started"
        atexit.register(self.close)
        if skip:
            log.warning(
                "UNSAFE: sandbox layers disabled by %s: %s", SKIP_ENV, ",".join(sorted(skip))
            )

    def start(self) -> None:
        """Start the zygote and prove, with an empty run, that every layer works."""
        with self._lock:
            self._start_locked()
        probe = self.run("", [], Limits(wall_seconds=10))
        if probe.load_outcome != OK:
            raise SandboxUnavailable(f"the sandbox does not work here: {probe.load_error}")

    def _start_locked(self) -> None:
        if "seccomp" in self.layers and not libc.X86_64:
            raise SandboxUnavailable("seccomp: the filter is written for x86_64 only")
        parent, child = socket.socketpair()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-B",
                "-c",
                BOOTSTRAP,
                SANDBOX_DIR,
                str(child.fileno()),
                ",".join(sorted(self.layers)),
                os.environ.get(CGROUP_ROOT_ENV, "/sys/fs/cgroup"),
            ],
            env=ZYGOTE_ENV,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            pass_fds=(child.fileno(),),
        )
        child.close()
        self._conn = parent
        self._read_hello()

    def _read_hello(self) -> None:
        """Read the zygote's first line, which says what the cgroup layer is on this host."""
        line = b""
        self._conn.settimeout(HELLO_SECONDS)
        try:
            while not line.endswith(b"\n") and len(line) < 4096:
                chunk = self._conn.recv(4096 - len(line))
                if not chunk:
                    break
                line += chunk
        except OSError:
            pass  # it died while starting: the run that follows says why
        finally:
            self._conn.settimeout(None)
        text = line.decode("utf-8", "replace").strip()
        # Logged once, not again at each restart of the zygote (unless it changed).
        if text.startswith(HELLO + " ") and text != f"{HELLO} {self.isolation}":
            self.isolation = text.removeprefix(HELLO + " ")
            log.log(isolation_level(self.isolation), "sandbox %s", self.isolation)

    def close(self) -> None:
        """Stop the zygote: it waits for its runs and removes its cgroups."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=10)
                self._process = None

    def _submit(self, limits: Limits, data_fd: int, control_fd: int) -> None:
        """Hand one run's channel ends to the zygote, restarting it once if it died."""
        header = JOB.pack(
            JOB_MAGIC,
            limits.wall_seconds,
            limits.cpu_seconds,
            int(limits.memory_mb),
            int(limits.output_bytes),
        )
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [data_fd, control_fd]))]
        with self._lock:
            for attempt in (1, 2):
                if self._conn is None or self._process.poll() is not None:
                    self._start_locked()
                try:
                    self._conn.sendmsg([header], fds)
                    return
                except OSError:
                    if attempt == 2:
                        raise
                    self._process.kill()

    def run(self, code: str, calls: list[Call], limits: Limits, harness: str = "") -> RunResult:
        """Run the submission's calls in one fresh sandbox and return what came back."""
        start = time.monotonic()
        request, sent = encode_request(code, calls, harness)
        data, data_child = socket.socketpair()
        control, control_child = socket.socketpair()
        with data, control:
            try:
                self._submit(limits, data_child.fileno(), control_child.fileno())
            finally:
                data_child.close()
                control_child.close()
            deadline = start + limits.wall_seconds + GRACE_SECONDS
            session = Session(data, control, calls, sent, deadline)
            session.exchange(request)
            status = session.status()
        return assemble(session, status, calls, limits, start)


def isolation_level(isolation: str) -> int:
    """Return the level the cgroup layer's status is logged at: worse layers, louder."""
    if isolation.startswith("refused"):
        return logging.ERROR
    if "substitute" in isolation or "UNSAFE" in isolation:
        return logging.WARNING
    return logging.INFO


class Session:
    """The trusted side of one run: send the request, read results, then the status."""

    def __init__(
        self,
        data: socket.socket,
        control: socket.socket,
        calls: list[Call],
        sent: list[tuple[bytes, ...]],
        deadline: float,
    ):
        self.data, self.control, self.deadline = data, control, deadline
        self.calls, self.sent = calls, sent
        self.load: tuple[str, str] | None = None
        self.results: list[CallResult] = []
        self.violation = ""  # set when the sandbox broke the protocol
        self.received = 0

    def exchange(self, request: bytes) -> None:
        """Send the request, then read frames until the sandbox closes its end."""
        try:
            self.data.settimeout(max(0.0, self.deadline - time.monotonic()))
            self.data.sendall(request)
        except OSError:
            pass  # the sandbox died before reading everything: its status will say why
        reader = FrameReader(self.data, self.deadline)
        try:
            while (got := reader.read_frame()) is not None:
                self.received += len(got[1])
                if self.received > MAX_RESPONSE:
                    raise frames.ProtocolError("response over the cap")
                self.accept(*got)
        except frames.ProtocolError as exc:
            self.violation = str(exc)
            self.cancel()
        except TimeoutError:
            self.cancel()

    def cancel(self) -> None:
        """Ask the zygote to kill this sandbox now."""
        with contextlib.suppress(OSError):
            self.control.send(b"K")

    def accept(self, tag: bytes, payload: bytes) -> None:
        """Take one frame in, or raise ProtocolError."""
        if self.load is None and tag == b"LOAD":
            self.load = parse_load(payload)
        elif self.load is not None and self.load[0] == OK and tag == b"RSLT":
            index = len(self.results)
            if index >= len(self.calls):
                raise frames.ProtocolError("more results than calls")
            self.results.append(parse_result(payload, index, self.calls[index], self.sent[index]))
        else:
            raise frames.ProtocolError(f"unexpected frame {tag!r}")

    def status(self) -> tuple[str, str, str]:
        """Read the zygote's final status of the run: kind, detail and captured stdout."""
        try:
            got = FrameReader(self.control, self.deadline + GRACE_SECONDS).read_frame()
            if got is None or got[0] != b"STAT":
                return "error", "the sandbox's fork server died", ""
            kind, detail, stdout = frames.parse_record(got[1], 3, 3)
            return kind.decode(), detail.decode(), stdout.decode("utf-8", "replace")
        except (frames.ProtocolError, TimeoutError, UnicodeDecodeError) as exc:
            return "error", f"no status from the sandbox's fork server ({exc})", ""


class FrameReader:
    """Read frames from a socket, many per recv: most frames cost no system call at all."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock, self.deadline = sock, deadline
        self.buffer, self.offset = b"", 0  # received bytes, and where the unread ones start

    def read_frame(self) -> tuple[bytes, bytes] | None:
        """Read one frame; None at end of stream, including a frame cut short by a kill."""
        header = self.recv_exact(frames.HEADER.size)
        if header is None:
            return None
        tag, size = frames.HEADER.unpack(header)
        if size > frames.MAX_FRAME:
            raise frames.ProtocolError(f"frame of {size} bytes is over the cap")
        payload = self.recv_exact(size)
        return None if payload is None else (tag, payload)

    def recv_exact(self, size: int) -> bytes | None:
        """Return the next size bytes; None at end of stream."""
        end = self.offset + size
        if end <= len(self.buffer):
            data, self.offset = self.buffer[self.offset : end], end
            return data
        return self._receive(size)

    def _receive(self, size: int) -> bytes | None:
        """Receive until size unread bytes are buffered, then return them."""
        chunks = [self.buffer[self.offset :]]
        have = len(chunks[0])
        while have < size:
            # Small frames: read ahead, for the next ones. A big one: read just its bytes,
            # so that joining them makes the payload itself, without another copy.
            want = READ_BUFFER if size <= READ_BUFFER else min(size - have, 1 << 20)
            self.sock.settimeout(max(0.001, self.deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(want)
            except TimeoutError:
                raise
            except OSError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            have += len(chunk)
        self.buffer, self.offset = b"".join(chunks), size
        return self.buffer[:size]


def parse_load(payload: bytes) -> tuple[str, str]:
    """Parse the LOAD frame: the outcome of executing the module, and its error."""
    code, error = frames.parse_record(payload, 2, 2)
    outcome = CODE_TO_OUTCOME.get(code[0]) if len(code) == 1 else None
    if outcome not in CHILD_LOAD_OUTCOMES:
        raise frames.ProtocolError("unknown load outcome")
    return outcome, error.decode("utf-8", "replace")[:4000]


def parse_result(payload: bytes, index: int, call: Call, sent: tuple[bytes, ...]) -> CallResult:
    """Parse one RSLT frame; bad arrays make the call invalid_output."""
    nargs = len(call.args)
    header, error, *arrays = frames.parse_record(payload, 2, 2 + 1 + nargs)
    if len(header) != CALL_HEADER.size:
        raise frames.ProtocolError("bad result header")
    got_index, code = CALL_HEADER.unpack(header)
    outcome = CODE_TO_OUTCOME.get(code)
    if got_index != index or outcome not in CHILD_CALL_OUTCOMES:
        raise frames.ProtocolError(f"result for call {got_index}, expected {index}")
    text = error.decode("utf-8", "replace")[:4000]
    if outcome != OK:
        return CallResult(outcome, error=text)
    if len(arrays) != 1 + nargs:
        return CallResult(INVALID_OUTPUT, error="wrong number of arrays in the result")
    try:
        value = frames.load_array(arrays[0])
        after = [
            unchanged(arg) if data == before else frames.load_array(data)
            for arg, data, before in zip(call.args, arrays[1:], sent, strict=True)
        ]
    except frames.ProtocolError as exc:
        return CallResult(INVALID_OUTPUT, error=str(exc))
    return CallResult(OK, value, tuple(after), text)


def unchanged(arg: np.ndarray) -> np.ndarray:
    """Return an argument that came back byte for byte as it was sent, as it was sent.

    A read-only argument (an exercise's test input) is returned itself; any other is
    copied, so that nothing the caller does later can change what this result says.
    """
    original = np.asarray(arg)
    if not original.flags.writeable and original.base is None and original.dtype.isnative:
        return original
    return np.array(original, dtype=original.dtype.newbyteorder("="), order="C")


def stop_reason(kind: str, detail: str, limits: Limits) -> tuple[str, str]:
    """Map the run's final status to the outcome of the call it interrupted."""
    if kind == "layer":
        raise SandboxUnavailable(
            f"isolation layer unavailable: {detail} (set {SKIP_ENV} to run without it, unsafely)"
        )
    reasons = {
        "timeout": (TIMEOUT, f"time limit of {limits.wall_seconds:g} s (wall clock) reached"),
        "cpu": (TIMEOUT, f"CPU time limit of {limits.cpu_seconds:g} s reached"),
        "oom": (MEMORY_LIMIT, f"memory limit of {limits.memory_mb} MB reached"),
        "exited": (RUNTIME_ERROR, f"the process exited early (exit code {detail})"),
        "signaled": (RUNTIME_ERROR, f"the process was killed by {detail}"),
    }
    return reasons.get(kind, (RUNTIME_ERROR, f"the sandbox stopped ({kind}: {detail})"))


def assemble(
    session: Session, status: tuple[str, str, str], calls: list[Call], limits: Limits, start: float
) -> RunResult:
    """Combine the frames received and the final status into a RunResult."""
    kind, detail, stdout = status
    outcome, error = stop_reason(kind, detail, limits)
    results = list(session.results)
    if session.load is None:
        load_outcome = outcome if outcome in (TIMEOUT, MEMORY_LIMIT) else CRASHED
        load = (load_outcome, session.violation or error)
    else:
        load = session.load
        if load[0] == OK and len(results) < len(calls):
            if session.violation:  # a forged or broken frame costs the call it stands for
                outcome, error = INVALID_OUTPUT, f"malformed result: {session.violation}"
            results.append(CallResult(outcome, error=error))
    results += [CallResult(NOT_RUN) for _ in range(len(calls) - len(results))]
    duration = (time.monotonic() - start) * 1000
    return RunResult(load[0], load[1], results, stdout, duration)


_instance: Sandbox | None = None
_instance_lock = threading.Lock()


def get_sandbox() -> Sandbox:
    """Return this process's sandbox, starting its zygote on first use."""
    global _instance
    with _instance_lock:
        if _instance is None or _instance.owner_pid != os.getpid():
            sandbox = Sandbox()
            sandbox.start()
            _instance = sandbox
        return _instance


def current_isolation() -> str:
    """Return Sandbox.isolation of this process's sandbox, without starting one."""
    sandbox = _instance
    if sandbox is None or sandbox.owner_pid != os.getpid():
        return "not started"
    return sandbox.isolation
