"""The warm fork server: NumPy imported once, one isolated child forked per run.

Started by client.Sandbox as a fresh interpreter with an empty environment (see
client.BOOTSTRAP); it has never imported the service, a reference or a hidden test.
It keeps a small pool of sandboxes prepared ahead (isolate.fork_student), reads run
requests (a fixed header and two fds) from one UNIX socket, hands each to a ready
sandbox, and supervises it: the wall clock, the capped stdout, and the final status it
sends on the run's control channel. The run's data never passes through here.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import linecache
import math
import os
import resource
import select
import signal
import socket
import sys
import sysconfig
import time

from . import cgroups, figures, isolate, libc, notebook, runner, seccomp
from .model import LAYERS, SKIP_ENV

POOL_SIZE = 2  # sandboxes prepared ahead, so a run pays for none of the set-up
MAX_FAILURES = 5
# Packages the student may use besides the standard library; imported before any fork.
EXPOSED_PACKAGES = ("numpy", "numpy.libs", *figures.PACKAGES)
# Matplotlib is exposed but not preloaded: importing it here made every fork of the zygote,
# so every run, cost 2-3 ms more CPU (docs/notebooks.md, "Figures").
PRELOAD = (
    "numpy",
    "numpy.linalg",
    "numpy.fft",
    "numpy.random",
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
HOSTNAME = "sandbox"  # what os.uname().nodename says inside
HELLO = "HELO"  # the zygote's one message on its socket: the cgroup layer's status


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
        if os.path.exists(f"{site}/{name}")  # a folder, or a one-file module (six.py)
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


def decide_cgroups(layers: frozenset[str], cgroup_root: str) -> cgroups.Cgroups:
    """Set up the cgroup layer this host allows: v1, v2, or none (saying why)."""
    if "cgroup" not in layers:
        return cgroups.Cgroups(cgroups.NONE, note=f"turned off by {SKIP_ENV}")
    try:
        return cgroups.setup(cgroup_root)
    except OSError as exc:  # nothing usable delegated: the substitute stands in
        return cgroups.Cgroups(cgroups.NONE, note=str(exc))


def substitute_status(layers: frozenset[str], groups: cgroups.Cgroups) -> tuple[bool, str]:
    """Decide whether seccomp and rlimits stand in for missing controllers; describe the layer.

    Returns (substitute on, status); a status starting with "refused" means the host
    lacks both the controllers and what stands in for them.
    """
    if groups.enforces("memory") and groups.enforces("pids"):
        return False, f"cgroup {groups.describe()}"
    can = {"seccomp", "rlimits"} <= layers
    if "cgroup" in layers and not can:
        return False, (
            f"refused: no memory and pids cgroup ({groups.describe()}), and the seccomp and "
            "rlimits layers that stand in for it are off; the host needs a cgroup v1 memory "
            "and pids hierarchy, or a cgroup v2 group delegated to the service (systemd "
            "Delegate=yes, a container's own cgroup namespace, or RUBRIC_SANDBOX_CGROUP_ROOT)"
        )
    if not can:
        return False, f"cgroup {groups.describe()}, no substitute (UNSAFE)"
    return True, f"cgroup: substitute rlimits+seccomp (cgroup {groups.describe()})"


def make_plan(layers: frozenset[str], cgroup_root: str) -> tuple[isolate.Plan, str]:
    """Decide once what every run will do; also return the cgroup layer's status."""
    groups = decide_cgroups(layers, cgroup_root)
    substitute, status = substitute_status(layers, groups)
    program = seccomp.build_filter(no_processes=substitute) if "seccomp" in layers else b""
    if program:
        libc.seccomp_program(program)  # built here once, inherited by every child
    libc.last_capability()
    mounts = runtime_mounts()
    plan = isolate.Plan(
        layers=layers,
        root=staging_root(source for source, _ in mounts),
        mounts=mounts,
        hidden=hidden_dirs(mounts[0][0]),
        sys_path=(SANDBOX_STDLIB, f"{SANDBOX_STDLIB}/lib-dynload", SANDBOX_SITE),
        cgroups=groups,
        address_space=resource.getpagesize() * int(cgroups.read("/proc/self/statm").split()[0]),
        seccomp_program=program,
        shared_net="net" in layers and libc.landlock_abi() >= libc.LANDLOCK_SCOPE_ABI,
        substitute=substitute,
    )
    return plan, status


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


# Import machinery of the service's own install, which names where it lives (an editable
# install's finder maps `server` to the checkout): never needed inside, so dropped.
HOST_ONLY = ("__editable__", "_distutils_hack")
SANDBOX_PACKAGE = "/rubric_sandbox"  # where the sandbox's own modules say they come from


def forget_host(plan: isolate.Plan) -> None:
    """Remove from what every sandbox inherits each name of where the service lives.

    The import system's records (files, caches, finders, loaders) and sys's own paths;
    the mounted runtime's under the paths it has inside. Done once, here.
    """
    own = os.path.dirname(os.path.abspath(__file__))
    # Without the mount layer the host's paths are where the runtime really is.
    mounts = plan.mounts if "mount" in plan.layers else ()
    renames = (*mounts, (own, SANDBOX_PACKAGE))
    sys.path_importer_cache.pop(own, None)
    for name in [n for n in sys.modules if n.startswith(HOST_ONLY)]:
        del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path if not host_only(f)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if not host_only(h)]
    for module in list(sys.modules.values()):
        rename_module(module, renames)
    for name in ("prefix", "exec_prefix", "base_prefix", "base_exec_prefix"):
        setattr(sys, name, "/python")
    sys.executable = sys._base_executable = ""  # nothing may be executed in there anyway
    sys.argv[:] = ["-c"]
    sys.orig_argv[:] = ["python"]
    site = sys.modules.get("site")
    if site is not None:
        site.PREFIXES[:] = ["/python"]
    for name in ("_PREFIX", "_EXEC_PREFIX", "_BASE_PREFIX", "_BASE_EXEC_PREFIX"):
        if hasattr(sysconfig, name):  # sysconfig's copies, made when it was imported
            setattr(sysconfig, name, "/python")
    sysconfig._CONFIG_VARS = None  # recomputed from the prefixes above if ever asked
    linecache.clearcache()


def host_only(finder: object) -> bool:
    """Tell whether an import finder or hook belongs to the service's own install."""
    return str(getattr(finder, "__module__", "")).startswith(HOST_ONLY)


def rename_module(module: object, renames: tuple[tuple[str, str], ...]) -> None:
    """Give a loaded module's recorded paths as the sandbox sees them."""
    for attr in ("__file__", "__cached__"):
        value = getattr(module, attr, None)
        if isinstance(value, str):
            setattr(module, attr, moved(value, renames))
    path = getattr(module, "__path__", None)
    if isinstance(path, list):
        path[:] = [moved(p, renames) for p in path]
    spec = getattr(module, "__spec__", None)
    if spec is not None:
        for attr in ("origin", "cached"):
            value = getattr(spec, attr, None)
            if isinstance(value, str):
                setattr(spec, attr, moved(value, renames))
        loader = spec.loader
        if isinstance(getattr(loader, "path", None), str):
            loader.path = moved(loader.path, renames)


def moved(path: str, mounts: tuple[tuple[str, str], ...]) -> str:
    """Return where a host path appears inside the sandbox."""
    for host, inside in mounts:
        if path == host or path.startswith(host + "/"):
            return inside + path[len(host) :]
    return path


class Member:
    """One student process of the pool: starting, ready, then running its one job."""

    def __init__(self, started: isolate.Started, run_id: int, slot: int):
        self.pid, self.pidfd, self.link, self.out_r = (
            started.pid,
            started.pidfd,
            started.link,
            started.out_r,
        )
        self.run_id, self.slot = run_id, slot
        self.state = "starting"  # -> ready -> running; "failed" once it said it cannot run
        self.job: isolate.Job | None = None
        self.control_fd = -1
        self.deadline = math.inf
        self.output = bytearray()
        self.stopped = ""  # why the zygote killed it: "timeout" or "cancelled"


class Zygote:
    """Keep POOL_SIZE sandboxes prepared, hand each request to one, watch it to its end.

    Single-threaded: one poll over the request socket and, per student process, its
    pidfd, its link (before the job), its stdout and its run's control channel.
    """

    def __init__(self, conn: socket.socket, plan: isolate.Plan):
        self.conn, self.plan, self.groups = conn, plan, plan.cgroups
        self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY)
        self.next_id = 0
        self.members: dict[int, Member] = {}  # pid -> member, until reaped
        self.ready: collections.deque[Member] = collections.deque()
        # Requests not yet handed on: the job, its header as received, and its two fds.
        self.pending: collections.deque[tuple[isolate.Job, bytes, list[int]]] = collections.deque()
        self.poller = select.poll()
        self.watched: dict[int, tuple[str, Member | None]] = {}  # fd -> (role, member)
        # Cgroup slots: a run's memory and pids cgroups, reused by the next run once it
        # ends (making and removing two cgroups per run cost ~0.3 ms, with kernel work).
        self.slots = 0  # slots made, numbered from 1
        self.free_slots: list[int] = []
        self.draining: list[int] = []  # slots that may still hold a process (no PID layer)
        self.oom_seen: dict[int, int] = {}  # slot -> its OOM kill count after its last run
        self.broken = ""  # why sandboxes cannot be made, once a layer failed
        self.failures = 0  # consecutive transient failures while preparing
        self.closing = False

    def serve(self) -> None:
        """Answer requests until the parent closes the socket and every run has ended."""
        self.watch(self.conn.fileno(), "request", None)
        self.refill()
        while not self.closing or self.members:
            for fd, _ in self.poller.poll(self.timeout_ms()):
                if fd in self.watched:  # an earlier event of this batch may have closed it
                    role, member = self.watched[fd]
                    getattr(self, f"on_{role}")(member)
            self.enforce_deadlines()
            self.dispatch()
            self.refill()
        self.close()

    def watch(self, fd: int, role: str, member: Member | None) -> None:
        """Poll fd; its events go to on_<role>(member)."""
        self.watched[fd] = (role, member)
        self.poller.register(fd, select.POLLIN)

    def unwatch(self, fd: int) -> None:
        """Stop polling fd (if it was polled)."""
        if self.watched.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def timeout_ms(self) -> int:
        """Return how long poll may sleep: until the nearest deadline, or for ever."""
        nearest = min(
            (m.deadline for m in self.members.values() if not m.stopped), default=math.inf
        )
        if nearest == math.inf:
            return -1
        return max(0, math.ceil((nearest - time.monotonic()) * 1000))

    def refill(self) -> None:
        """Fork student processes until POOL_SIZE are starting or ready."""
        while not (self.broken or self.closing) and self.preparing() < POOL_SIZE:
            self.next_id += 1
            try:
                slot = self.take_slot()
                try:
                    started = isolate.fork_student(self.plan, self.next_id, slot, self.own_pid_ns)
                except BaseException:
                    self.free_slots.append(slot)
                    raise
            except isolate.LayerFailed as exc:
                self.broken = str(exc)
                return
            except OSError as exc:  # out of processes or memory: try again next time round
                self.failed(str(exc))
                return
            member = Member(started, self.next_id, slot)
            self.members[member.pid] = member
            self.watch(member.link.fileno(), "link", member)
            self.watch(member.pidfd, "exit", member)

    def take_slot(self) -> int:
        """Return a free cgroup slot, making a new one when none is free."""
        if self.draining:
            self.free_slots += [s for s in self.draining if self.slot_empty(s)]
            self.draining = [s for s in self.draining if s not in self.free_slots]
        if self.free_slots:
            return self.free_slots.pop()
        if self.groups.version != cgroups.NONE:
            with isolate.layer("cgroup"):
                cgroups.make_slot(self.groups, self.slots + 1)
        self.slots += 1
        return self.slots

    def slot_empty(self, slot: int) -> bool:
        """Tell whether no process is left in a slot's cgroups (always, without them)."""
        return self.groups.version == cgroups.NONE or cgroups.empty(self.groups, slot)

    def preparing(self) -> int:
        """Count the members that are starting or ready."""
        return sum(m.state in ("starting", "ready") for m in self.members.values())

    def failed(self, why: str) -> None:
        """Count a transient failure to prepare a sandbox; give up after MAX_FAILURES."""
        self.failures += 1
        print(f"rubric sandbox: a sandbox failed while being prepared: {why}", file=sys.stderr)
        if self.failures >= MAX_FAILURES:
            self.broken = f"sandboxes keep failing while being prepared: {why}"

    def on_request(self, _: None) -> None:
        """Queue one request from the parent; once the parent is gone, wind down."""
        data, fds = isolate.recv_with_fds(self.conn, isolate.JOB.size, 2)
        if not data:
            self.closing = True
            self.unwatch(self.conn.fileno())
            for member in list(self.ready):
                member.state = "failed"  # not needed any more
                self.drop_link(member)  # an idle student exits when its link closes
            return
        job = isolate.parse_job(data)
        if job is None or len(fds) != 2:
            close_fds(fds)
        else:
            self.pending.append((job, data, fds))

    def on_link(self, member: Member) -> None:
        """Take a student's message before its job: ready, failed (naming the layer), or gone."""
        try:
            message = member.link.recv(4096)
        except OSError:
            message = b""
        if member.state == "starting" and message == b"R" and not self.closing:
            member.state = "ready"
            self.ready.append(member)
            self.failures = 0
            return
        if self.closing:
            pass  # not needed any more: closing the link makes it exit
        elif member.state == "starting" and message.startswith(b"F"):
            self.broken = message[1:].decode("utf-8", "replace")  # it will not get better
        elif member.state == "starting":
            self.failed(message[1:].decode("utf-8", "replace") or "it died")
        member.state = "failed"
        self.drop_link(member)

    def drop_link(self, member: Member) -> None:
        """Stop listening to a member's link and close it."""
        self.unwatch(member.link.fileno())
        member.link.close()
        with contextlib.suppress(ValueError):
            self.ready.remove(member)

    def on_out(self, member: Member) -> None:
        """Read what the student printed, keeping at most its job's cap."""
        chunk = os.read(member.out_r, 65536)
        if not chunk:
            self.unwatch(member.out_r)
        keep(member.output, chunk, member.job.output_bytes)

    def on_control(self, member: Member) -> None:
        """The trusted side gave up on this run (or went away): kill it now."""
        self.unwatch(member.control_fd)
        self.stop(member, "cancelled")

    def stop(self, member: Member, why: str) -> None:
        """SIGKILL a student process; as PID 1 its end kills the whole namespace."""
        if not member.stopped:
            member.stopped = why
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(member.pidfd, signal.SIGKILL)
            if self.groups.version == cgroups.V2:  # and whatever it forked, at once
                cgroups.kill(self.groups, member.slot)

    def enforce_deadlines(self) -> None:
        """Kill every run whose wall-clock limit has passed."""
        now = time.monotonic()
        for member in list(self.members.values()):
            if member.deadline <= now:
                self.stop(member, "timeout")

    def on_exit(self, member: Member) -> None:
        """Reap a student process; if it had a job, report how the run ended."""
        _, wait_status, usage = os.wait4(member.pid, 0)
        del self.members[member.pid]
        if member.state == "running":
            self.finish(member, wait_status, usage.ru_utime + usage.ru_stime)
        elif member.state != "failed":
            self.drop_link(member)
            if member.state == "starting":
                self.failed("it died")
        self.unwatch(member.pidfd)
        os.close(member.pidfd)
        os.close(member.out_r)
        # PID 1 reaped: the kernel has already killed and reaped the rest of its
        # namespace, so the slot's cgroups are empty again. Without the PID layer
        # (unsafe) what it forked may live on: such a slot waits until it is empty.
        if "pid" in self.plan.layers:
            self.free_slots.append(member.slot)
        else:
            if self.groups.version == cgroups.V2:  # v2 can end the run's leftovers at once
                cgroups.kill(self.groups, member.slot)
            self.draining.append(member.slot)

    def finish(self, member: Member, wait_status: int, cpu: float) -> None:
        """Send the run's status: how it ended, and its capped stdout."""
        self.unwatch(member.out_r)
        self.unwatch(member.control_fd)
        drain(member.out_r, member.output, member.job.output_bytes)
        kind, detail = member.stopped, ""
        if not kind:
            kind, detail = isolate.end_status(wait_status, cpu, member.job)
        oom_kills = 0
        if self.groups.version != cgroups.NONE:
            oom_kills = cgroups.oom_kills(self.groups, member.slot)
        if oom_kills > self.oom_seen.get(member.slot, 0):
            kind, detail = "oom", ""
        self.oom_seen[member.slot] = oom_kills
        isolate.report(
            member.control_fd, {"kind": kind, "detail": detail, "stdout": bytes(member.output)}
        )
        os.close(member.control_fd)

    def dispatch(self) -> None:
        """Give pending requests to ready members, or the failure to every one of them."""
        while self.pending and (self.ready or self.broken or self.closing):
            job, header, (data_fd, control_fd) = self.pending.popleft()
            if self.broken or self.closing:
                detail = self.broken or "the sandbox is shutting down"
                isolate.report(
                    control_fd,
                    {"kind": "layer" if self.broken else "error", "detail": detail, "stdout": b""},
                )
                close_fds([data_fd, control_fd])
                continue
            member = self.ready.popleft()
            try:
                if self.groups.version != cgroups.NONE:
                    cgroups.set_job_limits(self.groups, member.slot, job.memory_mb)
                isolate.send_with_fds(member.link, header, [data_fd])  # parse_job checked it
            except OSError:  # it died while ready: the next one takes the job
                member.state = "failed"
                self.drop_link(member)
                self.pending.appendleft((job, header, [data_fd, control_fd]))
                continue
            os.close(data_fd)
            self.drop_link(member)  # the student has all it will get
            member.state, member.job, member.control_fd = "running", job, control_fd
            member.deadline = time.monotonic() + job.wall_seconds
            self.watch(member.out_r, "out", member)
            self.watch(control_fd, "control", member)

    def close(self) -> None:
        """Remove every cgroup made here (each run has been reaped by now)."""
        if self.groups.version != cgroups.NONE:
            cgroups.remove_slots(self.groups, range(1, self.slots + 1))


def drain(fd: int, output: bytearray, cap: int) -> None:
    """Read the rest of stdout once every writer is dead."""
    os.set_blocking(fd, False)
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            keep(output, chunk, cap)


def keep(output: bytearray, chunk: bytes, cap: int) -> None:
    """Append what fits of chunk to output, which holds at most cap bytes."""
    output += chunk[: max(0, cap - len(output))]


def close_fds(fds: list[int]) -> None:
    """Close each fd."""
    for fd in fds:
        os.close(fd)


def main() -> None:
    """Start the zygote on the socket fd and with the layers named on the command line."""
    fd, active, cgroup_root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    layers = frozenset(name for name in active.split(",") if name in LAYERS)
    # A terminal's Ctrl-C reaches the whole process group: the zygote stops when its
    # parent closes the socket instead, and a KeyboardInterrupt must never surface in a
    # child between fork and its isolation.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload()
    runner.warm_up()
    notebook.prepare()
    figures.prepare()
    plan, status = make_plan(layers, cgroup_root)
    broken = f"cgroup: {status.removeprefix('refused: ')}" if status.startswith("refused") else ""
    plan, broken = prepare(plan, broken)
    enter_runtime(plan)
    forget_host(plan)
    conn = socket.socket(fileno=fd)
    with contextlib.suppress(OSError):  # the trusted side reads this first (client.Sandbox)
        conn.sendall(f"{HELLO} {status}\n".encode())
    gc.collect()
    gc.freeze()  # keep the collector from touching, and so copying, every inherited object
    zygote = Zygote(conn, plan)
    zygote.broken = broken
    zygote.serve()


def prepare(plan: isolate.Plan, broken: str) -> tuple[isolate.Plan, str]:
    """Build the template root, enter the shared network and UTS namespaces; name what failed."""
    try:
        if "mount" in plan.layers and not broken:
            plan = dataclasses.replace(plan, mount_template=isolate.build_template(plan))
        if plan.shared_net and not broken:
            with isolate.layer("net"):
                libc.unshare(libc.CLONE_NEWNET)  # the zygote needs no network either
        if "uts" in plan.layers and not broken:
            with isolate.layer("uts"):
                # Every sandbox's UTS namespace is a copy of the zygote's: named once here,
                # os.uname() in there shows this, never the host's name.
                libc.unshare(libc.CLONE_NEWUTS)
                socket.sethostname(HOSTNAME)
    except isolate.LayerFailed as exc:
        broken = str(exc)
    return plan, broken
