"""The warm fork server: NumPy imported once, one isolated child forked per run.

Started by client.Sandbox as a fresh interpreter with an empty environment (see
client.BOOTSTRAP); it has never imported the service, a reference or a hidden test.
It keeps a small pool of sandboxes prepared ahead (isolate.supervise), reads run
requests (a fixed header and two fds) from one UNIX socket, and hands each to a ready
sandbox. It answers nothing itself: each supervisor reports on its run's control channel.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import resource
import select
import signal
import socket
import sys
import sysconfig

from . import isolate, libc, runner, seccomp
from .model import LAYERS

POOL_SIZE = 2  # sandboxes prepared ahead, so a run pays for none of the set-up
MAX_FAILURES = 5
# Packages the student may use besides the standard library; imported before any fork.
EXPOSED_PACKAGES = ("numpy", "numpy.libs")
PRELOAD = (
    "numpy",
    "numpy.linalg",
    "numpy.fft",
    "numpy.random",
    "numpy.polynomial",
    "numpy.testing",
    "math",
    "cmath",
    "random",
    "statistics",
    "itertools",
    "functools",
    "collections",
    "operator",
    "fractions",
    "decimal",
    "heapq",
    "bisect",
    "typing",
    "dataclasses",
    "re",
    "string",
    "copy",
    "json",
    "time",
    "ctypes",
    "numbers",
    "abc",
    "enum",
    "warnings",
    "traceback",
)
SANDBOX_STDLIB = "/python/stdlib"
# The interpreter's own site-packages holds unrelated global packages (not the venv's).
HIDDEN_STDLIB = ("site-packages", "test", "idlelib", "ensurepip")
SANDBOX_SITE = "/python/site-packages"


def preload() -> None:
    """Import everything a child may use, so no child reads it from disk."""
    for name in PRELOAD:
        __import__(name)


def runtime_mounts() -> tuple[tuple[str, str], ...]:
    """Return the host directories the sandbox sees, read-only, and where it sees them."""
    import numpy

    stdlib = sysconfig.get_paths()["stdlib"]
    site = os.path.dirname(os.path.dirname(numpy.__file__))
    mounts = [(stdlib, SANDBOX_STDLIB)]
    mounts += [
        (f"{site}/{name}", f"{SANDBOX_SITE}/{name}")
        for name in EXPOSED_PACKAGES
        if os.path.isdir(f"{site}/{name}")
    ]
    return tuple(mounts)


STAGING_CANDIDATES = ("/tmp", "/mnt", "/var/tmp", "/run", "/srv", "/media")


def staging_root(sources) -> str:
    """Pick an existing directory to build the new root over, above none of the sources.

    The new root is a tmpfs mounted over this directory (in the sandbox's own mount
    namespace only); a runtime living below it, e.g. a checkout under /tmp, would be
    hidden by that tmpfs before it could be bind-mounted.
    """
    sources = [os.path.realpath(source) for source in sources]
    for candidate in STAGING_CANDIDATES:
        inside = any(
            source == candidate or source.startswith(candidate + "/") for source in sources
        )
        if os.path.isdir(candidate) and not os.path.islink(candidate) and not inside:
            return candidate
    raise OSError(f"no directory to build the sandbox root in: {STAGING_CANDIDATES}")


def hidden_dirs(stdlib: str) -> tuple[str, ...]:
    """Return the stdlib directories to cover: global packages and CPython's own tests."""
    return tuple(
        f"{SANDBOX_STDLIB}/{name}" for name in HIDDEN_STDLIB if os.path.isdir(f"{stdlib}/{name}")
    )


def cgroup_parent(mount_root: str, controller: str) -> str:
    """Create the directory, under this process's own cgroup, that holds its runs."""
    with open("/proc/self/cgroup") as file:
        paths = {
            name: path
            for _, names, path in (line.rstrip("\n").split(":", 2) for line in file)
            for name in names.split(",")
        }
    own = f"{mount_root}/{controller}{paths.get(controller, '/').rstrip('/')}"
    if controller not in paths or not os.path.exists(f"{own}/cgroup.procs"):
        raise OSError(f"no cgroup v1 {controller} hierarchy at {own}")
    remove_stale(own)
    parent = f"{own}/rubric-{os.getpid()}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(parent)
    return parent


def remove_stale(own: str) -> None:
    """Remove the empty run cgroups left by zygotes that were killed."""
    for entry in os.scandir(own):
        pid = entry.name.removeprefix("rubric-")
        if entry.name.startswith("rubric-") and pid.isdigit() and not alive(int(pid)):
            for run in os.scandir(entry.path):
                if run.is_dir() and run.name.startswith("run-"):
                    with contextlib.suppress(OSError):
                        os.rmdir(run.path)
            with contextlib.suppress(OSError):
                os.rmdir(entry.path)


def alive(pid: int) -> bool:
    """Tell whether a process exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def make_plan(layers: frozenset[str], cgroup_root: str) -> isolate.Plan:
    """Decide once what every run will do."""
    memory = pids = ""
    if "cgroup" in layers:
        with isolate.layer("cgroup"):
            memory = cgroup_parent(cgroup_root, "memory")
            pids = cgroup_parent(cgroup_root, "pids")
    program = seccomp.build_filter() if "seccomp" in layers else b""
    mounts = runtime_mounts()
    return isolate.Plan(
        layers=layers,
        root=staging_root(source for source, _ in mounts),
        mounts=mounts,
        hidden=hidden_dirs(mounts[0][0]),
        sys_path=(SANDBOX_STDLIB, f"{SANDBOX_STDLIB}/lib-dynload", SANDBOX_SITE),
        memory_cgroup=memory,
        pids_cgroup=pids,
        address_space=resource.getpagesize() * int(open("/proc/self/statm").read().split()[0]),
        seccomp_program=program,
    )


def enter_runtime(plan: isolate.Plan) -> None:
    """Point the import system at the runtime as every sandbox will see it mounted.

    Done once here rather than in each child, where it cost 3-4 ms: the zygote itself
    imports nothing after this.
    """
    if "mount" not in plan.layers:
        return
    for module in list(sys.modules.values()):
        path = getattr(module, "__path__", None)
        if isinstance(path, list):
            path[:] = [moved(p, plan.mounts) for p in path]
    sys.path[:] = plan.sys_path
    sys.path_importer_cache.clear()


def moved(path: str, mounts: tuple[tuple[str, str], ...]) -> str:
    """Return where a host path appears inside the sandbox."""
    for host, inside in mounts:
        if path == host or path.startswith(host + "/"):
            return inside + path[len(host) :]
    return path


class Member:
    """One supervisor of the pool: preparing, ready, then running its one job."""

    def __init__(self, pid: int, link: socket.socket, run_id: int):
        self.pid, self.link, self.run_id = pid, link, run_id


class Zygote:
    """Keep POOL_SIZE sandboxes prepared; hand each request to one; reap and clean up."""

    def __init__(self, conn: socket.socket, plan: isolate.Plan):
        self.conn, self.plan = conn, plan
        self.next_id = 0
        self.starting: dict[int, Member] = {}  # link fd -> member not yet ready
        self.ready: collections.deque[Member] = collections.deque()
        self.pending: collections.deque[tuple[bytes, list[int]]] = collections.deque()
        self.running: dict[int, int] = {}  # supervisor pid -> run id
        self.leftover: set[int] = set()  # run ids whose cgroups are still to remove
        self.broken = ""  # why sandboxes cannot be made, once a layer failed
        self.failures = 0  # consecutive transient failures while preparing

    def serve(self) -> None:
        """Answer requests until the parent closes the socket."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.refill()
        while True:
            links = [m.link for m in [*self.starting.values(), *self.ready]]
            readable, _, _ = select.select([self.conn, wake_r, *links], [], [])
            for sock in readable:
                if sock is wake_r:
                    os.read(wake_r, 4096)
                elif sock is self.conn:
                    if not self.take_request():
                        return
                else:
                    self.hear(sock)
            self.reap()
            self.dispatch()
            self.refill()

    def refill(self) -> None:
        """Fork supervisors until POOL_SIZE are preparing or ready."""
        while not self.broken and len(self.starting) + len(self.ready) < POOL_SIZE:
            self.next_id += 1
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            pid = os.fork()
            if pid == 0:
                isolate.close_all_but([theirs.fileno()])
                isolate.supervise(self.plan, self.next_id, theirs)
            theirs.close()
            self.starting[ours.fileno()] = Member(pid, ours, self.next_id)
            self.running[pid] = self.next_id

    def take_request(self) -> bool:
        """Queue one request from the parent; False once the parent is gone."""
        data, fds = isolate.recv_with_fds(self.conn, isolate.JOB.size, 2)
        if not data:
            return False
        if isolate.parse_job(data) is None or len(fds) != 2:
            close_fds(fds)
        else:
            self.pending.append((data, fds))
        return True

    def hear(self, link: socket.socket) -> None:
        """Take a member's message: ready, failed (naming the layer), or gone."""
        member = self.starting.pop(link.fileno(), None)
        message = link.recv(4096)
        if member is None:  # a ready member hung up: it died
            self.ready = collections.deque(m for m in self.ready if m.link is not link)
            link.close()
        elif message == b"R":
            self.ready.append(member)
            self.failures = 0
        elif message.startswith(b"F"):  # a layer cannot be set up: it will not get better
            self.broken = message[1:].decode("utf-8", "replace")
            link.close()
        else:  # a transient failure (no process left, say): retry, but not for ever
            self.failures += 1
            why = message[1:].decode("utf-8", "replace") or "it died"
            print(f"rubric sandbox: a sandbox failed while being prepared: {why}", file=sys.stderr)
            if self.failures >= MAX_FAILURES:
                self.broken = f"sandboxes keep failing while being prepared: {why}"
            link.close()

    def dispatch(self) -> None:
        """Give pending requests to ready members, or the failure to every one of them."""
        while self.pending and (self.ready or self.broken):
            data, fds = self.pending.popleft()
            if self.broken:
                isolate.report(fds[1], {"kind": "layer", "detail": self.broken, "stdout": b""})
            else:
                member = self.ready.popleft()
                try:
                    isolate.send_with_fds(member.link, data, fds)
                except OSError:  # it died while ready: the next one takes the job
                    self.pending.appendleft((data, fds))
                    continue
                finally:
                    member.link.close()
            close_fds(fds)

    def reap(self) -> None:
        """Collect finished supervisors and remove their runs' cgroups."""
        with contextlib.suppress(ChildProcessError):
            while (pid := os.waitpid(-1, os.WNOHANG)[0]) > 0:
                run_id = self.running.pop(pid, None)
                if run_id is not None:
                    self.leftover.add(run_id)
        for run_id in list(self.leftover):
            if self.remove_cgroups(run_id):
                self.leftover.discard(run_id)

    def close(self) -> None:
        """Stop the pool, wait for the runs still going, remove every cgroup made here."""
        for member in [*self.starting.values(), *self.ready]:
            member.link.close()  # an idle supervisor exits when its link closes
        for pid, run_id in self.running.items():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.leftover.add(run_id)
        self.running.clear()
        self.reap()
        for parent in (self.plan.memory_cgroup, self.plan.pids_cgroup):
            if parent:
                with contextlib.suppress(OSError):
                    os.rmdir(parent)

    def remove_cgroups(self, run_id: int) -> bool:
        """Remove one run's cgroups; False while they still hold a process."""
        if "cgroup" not in self.plan.layers:
            return True
        done = True
        for path in isolate.cgroup_dirs(self.plan, run_id):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                done = False
        return done


def close_fds(fds: list[int]) -> None:
    """Close each fd."""
    for fd in fds:
        os.close(fd)


def main() -> None:
    """Start the zygote on the socket fd and with the layers named on the command line."""
    fd, active, cgroup_root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    layers = frozenset(name for name in active.split(",") if name in LAYERS)
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)  # orphaned sandboxes come back here
    preload()
    runner.warm_up()
    broken = ""
    try:
        plan = make_plan(layers, cgroup_root)
    except isolate.LayerFailed as exc:
        plan, broken = make_plan(layers - {"cgroup"}, cgroup_root), str(exc)
    enter_runtime(plan)
    conn = socket.socket(fileno=fd)
    gc.collect()
    gc.freeze()  # keep the collector from touching, and so copying, every inherited object
    zygote = Zygote(conn, plan)
    zygote.broken = broken
    try:
        zygote.serve()
    finally:
        zygote.close()
