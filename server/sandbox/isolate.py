"""Build one sandbox per run: supervisor, namespace init, and the isolated student process.

Process tree of one run, all forked from the zygote:
  supervisor (host PID namespace; enforces the wall clock, reads stdout, reports status)
  └── init   (PID 1 of a new PID namespace; when it exits the kernel kills every process left)
      └── student (PID 2: rlimits, no capabilities, seccomp; runs runner.serve)

All three are made before the run's job exists (the zygote keeps a few prepared); the
job then travels zygote -> supervisor -> student as a header and fds (SCM_RIGHTS).
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import gc
import math
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass

from . import frames, libc, runner

NOBODY = 65534  # the uid and gid inside the sandbox
OUTSIDE_ID_BASE, OUTSIDE_ID_COUNT = 200_000, 50_000  # far from any real user's
TMP_MB = 16  # the private, writable /tmp
PIDS_MAX = 16
OPEN_FILES = 64
INIT_STATUS = struct.Struct("<iid")  # exited(0)/signaled(1), code or signal, CPU seconds
CHILD_FD = 3  # the student's end of the data channel


@dataclass(frozen=True)
class Plan:
    """What the zygote decided once at start: active layers, mounts, cgroup parents."""

    layers: frozenset[str]
    root: str  # host directory the new root's tmpfs is mounted over (no mount source below)
    mounts: tuple[tuple[str, str], ...]  # (host path, path inside the sandbox)
    hidden: tuple[str, ...]  # directories inside those mounts covered by an empty tmpfs
    sys_path: tuple[str, ...]
    memory_cgroup: str
    pids_cgroup: str
    address_space: int  # the zygote's own virtual size, which every child starts with
    seccomp_program: bytes


@dataclass(frozen=True)
class Job:
    """The limits of one run, as the trusted side sent them."""

    wall_seconds: float
    cpu_seconds: float
    memory_mb: int
    output_bytes: int


JOB = struct.Struct("<4sddII")  # magic, wall s, CPU s, memory MB, output bytes
JOB_MAGIC = b"RUN1"


def parse_job(data: bytes) -> Job | None:
    """Decode a job header; None if it is not one."""
    if len(data) != JOB.size or data[:4] != JOB_MAGIC:
        return None
    _, wall, cpu, memory_mb, output_bytes = JOB.unpack(data)
    if not (0 < wall < 3600 and 0 < cpu < 3600 and 0 < memory_mb < 1 << 20):
        return None
    return Job(wall, cpu, memory_mb, output_bytes)


def recv_with_fds(sock: socket.socket, size: int, max_fds: int) -> tuple[bytes, list[int]]:
    """Receive one message and the fds passed with it."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(size, socket.CMSG_SPACE(max_fds * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def send_with_fds(sock: socket.socket, data: bytes, fds: list[int]) -> None:
    """Send one message with fds attached."""
    sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])


class LayerFailed(RuntimeError):
    """Setting up a named isolation layer failed."""


@contextlib.contextmanager
def layer(name: str):
    """Turn an OSError raised while setting up a layer into LayerFailed naming it."""
    try:
        yield
    except OSError as exc:
        raise LayerFailed(f"{name}: {exc}") from exc


def write_file(path: str, text: str, dir_fd: int | None = None) -> None:
    """Write text to an existing file such as a cgroup or /proc control file."""
    fd = os.open(path, os.O_WRONLY, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def cgroup_dirs(plan: Plan, run_id: int) -> tuple[str, str]:
    """Return the memory and pids cgroup directories of one run."""
    name = f"run-{run_id}"
    return f"{plan.memory_cgroup}/{name}", f"{plan.pids_cgroup}/{name}"


@dataclass(frozen=True)
class Cgroup:
    """Fds of one run's cgroup files, all opened while still root (or -1 without cgroups).

    cgroup v1 checks the opener's credentials, so these stay usable after the drop.
    """

    tasks: tuple[int, ...] = ()
    limit: int = -1
    oom: int = -1


def make_cgroups(plan: Plan, run_id: int) -> Cgroup:
    """Create the run's memory and pids cgroups."""
    memory, pids = cgroup_dirs(plan, run_id)
    os.mkdir(memory)
    os.mkdir(pids)
    write_file(f"{pids}/pids.max", str(PIDS_MAX))
    # The init joins through `tasks`, not `cgroup.procs`: a thread moving itself skips the
    # global threadgroup lock, whose RCU grace period costs 7-15 ms per run.
    tasks = (os.open(f"{memory}/tasks", os.O_WRONLY), os.open(f"{pids}/tasks", os.O_WRONLY))
    return Cgroup(
        tasks,
        os.open(f"{memory}/memory.limit_in_bytes", os.O_WRONLY),
        os.open(f"{memory}/memory.oom_control", os.O_RDONLY),
    )


def build_root(plan: Plan) -> None:
    """Enter a new mount namespace whose root holds only the runtime, read-only, and /tmp."""
    libc.unshare(libc.CLONE_NEWNS)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    root = plan.root  # private to the new namespace, and above none of the mount sources
    libc.mount(
        "tmpfs", root, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "size=1m,nr_inodes=256,mode=0755"
    )
    read_only = libc.MS_REMOUNT | libc.MS_BIND | libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV
    for source, target in plan.mounts:
        os.makedirs(root + target)
        libc.mount(source, root + target, None, libc.MS_BIND | libc.MS_REC)
        libc.mount(None, root + target, None, read_only)
    for hidden in plan.hidden:
        libc.mount(
            "tmpfs",
            root + hidden,
            "tmpfs",
            libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV,
            "size=4k,nr_inodes=2",
        )
    os.mkdir(f"{root}/tmp")
    libc.mount(
        "tmpfs",
        f"{root}/tmp",
        "tmpfs",
        libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC,
        f"size={TMP_MB}m,nr_inodes=1024,mode=1777",
    )
    os.mkdir(f"{root}/old")
    os.chdir(root)
    libc.pivot_root(".", "old")
    libc.umount2("/old", libc.MNT_DETACH)
    os.rmdir("/old")
    os.chdir("/")
    libc.mount(None, "/", None, libc.MS_REMOUNT | libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV)


def namespace_flags(layers: frozenset[str]) -> int:
    """Return the unshare flags of the active namespace layers (the mount one is separate)."""
    table = {
        "user": libc.CLONE_NEWUSER,
        "pid": libc.CLONE_NEWPID,
        "net": libc.CLONE_NEWNET,
        "ipc": libc.CLONE_NEWIPC,
        "uts": libc.CLONE_NEWUTS,
    }
    return sum(flag for name, flag in table.items() if name in layers)


def outside_id(run_id: int) -> int:
    """Return the host uid and gid of one run."""
    # Concurrent sandboxes (nearly always) differ, so that no signal, ptrace or file
    # permission could reach from one into another even past the other layers.
    return OUTSIDE_ID_BASE + (os.getppid() * 7919 + run_id) % OUTSIDE_ID_COUNT


def drop_to_nobody(plan: Plan, proc_fd: int, run_id: int) -> None:
    """Become an unprivileged uid/gid (65534 inside) and enter the remaining namespaces."""
    flags = namespace_flags(plan.layers)
    host = outside_id(run_id)
    if "user" not in plan.layers:
        with layer("namespaces"):
            libc.unshare(flags)  # without a user namespace only root may unshare
    with layer("uid"):
        os.setgroups([])
        os.setresgid(host, host, host)
        os.setresuid(host, host, host)
    if "user" in plan.layers:
        with layer("user"):
            libc.prctl(libc.PR_SET_DUMPABLE, 1)  # else /proc/self/uid_map belongs to root
            libc.unshare(flags)
            write_file("self/setgroups", "deny", proc_fd)
            write_file("self/uid_map", f"{NOBODY} {host} 1", proc_fd)
            write_file("self/gid_map", f"{NOBODY} {host} 1", proc_fd)


def isolate_supervisor(plan: Plan, run_id: int) -> Cgroup:
    """Do, as root, everything that needs root; end as uid 65534 in the new namespaces."""
    cgroup = Cgroup()
    if "cgroup" in plan.layers:
        with layer("cgroup"):
            cgroup = make_cgroups(plan, run_id)
    proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY)
    if "mount" in plan.layers:
        with layer("mount"):
            build_root(plan)
    drop_to_nobody(plan, proc_fd, run_id)
    os.close(proc_fd)  # an open /proc would reach the host through /proc/PID/root
    return cgroup


def reset_signals() -> None:
    """Give every signal its default action: the zygote's handlers do not belong here."""
    signal.set_wakeup_fd(-1)
    for signum in range(1, signal.NSIG):
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_DFL)


def close_all_but(keep: list[int]) -> None:
    """Close every fd from 3 up except those in keep."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


@dataclass(frozen=True)
class Prepared:
    """A sandbox made ahead of its job: the init and the student wait for the fds."""

    init_pid: int
    job_sock: socket.socket  # to the waiting student process
    out_r: int
    status_r: int
    cgroup: Cgroup


def prepare(plan: Plan, run_id: int) -> Prepared:
    """Isolate this supervisor, fork the namespace init, which forks the waiting student."""
    cgroup = isolate_supervisor(plan, run_id)
    job_sock, job_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    out_r, out_w = os.pipe()
    status_r, status_w = os.pipe()
    init_pid = os.fork()
    if init_pid == 0:
        run_init(plan, cgroup.tasks, job_child.fileno(), out_w, status_w)
    for fd in (out_w, status_w, *cgroup.tasks):
        os.close(fd)
    job_child.close()
    return Prepared(init_pid, job_sock, out_r, status_r, cgroup)


def supervise(plan: Plan, run_id: int, link: socket.socket) -> None:
    """Prepare a sandbox, say so on link, then run the job that comes; never returns."""
    prepared, control_fd = None, -1
    try:
        os.setsid()  # leave the service's process group: kill(0) must not reach it
        reset_signals()
        gc.disable()  # fewer copy-on-write pages; this process lives for milliseconds
        try:
            prepared = prepare(plan, run_id)
        except LayerFailed as exc:
            link.send(b"F" + str(exc).encode()[:2000])
            return
        except Exception as exc:
            link.send(b"E" + f"{type(exc).__name__}: {exc}".encode()[:2000])
            return
        link.send(b"R")
        data, fds = recv_with_fds(link, JOB.size, 2)
        job = parse_job(data)
        if job is None or len(fds) != 2:
            return  # the zygote is gone
        data_fd, control_fd = fds
        report(control_fd, run_job(prepared, job, data_fd, control_fd))
    except BaseException as exc:
        if control_fd >= 0:
            report(
                control_fd,
                {"kind": "error", "detail": f"{type(exc).__name__}: {exc}", "stdout": b""},
            )
    finally:
        if prepared is not None:  # unused or cut short: end the namespace before leaving
            with contextlib.suppress(OSError):
                os.kill(prepared.init_pid, signal.SIGKILL)
                os.waitpid(prepared.init_pid, 0)
        os._exit(0)


def report(fd: int, status: dict) -> None:
    """Send the final status frame on the control channel."""
    payload = frames.record([status["kind"].encode(), status["detail"].encode(), status["stdout"]])
    with contextlib.suppress(OSError):
        runner.send(fd, frames.frame(b"STAT", payload))


def run_job(prepared: Prepared, job: Job, data_fd: int, control_fd: int) -> dict:
    """Hand the job to the waiting student, watch it until it ends or the deadline passes."""
    deadline = time.monotonic() + job.wall_seconds
    if prepared.cgroup.limit >= 0:
        os.write(prepared.cgroup.limit, str(job.memory_mb << 20).encode())
    header = JOB.pack(JOB_MAGIC, job.wall_seconds, job.cpu_seconds, job.memory_mb, job.output_bytes)
    send_with_fds(prepared.job_sock, header, [data_fd])
    os.close(data_fd)
    kind, stdout = watch(prepared, job, control_fd, deadline)
    return finish(kind, stdout, prepared, job)


def watch(prepared: Prepared, job: Job, control_fd: int, deadline: float) -> tuple[str, bytes]:
    """Wait for the init to exit, collecting capped stdout; kill it at the deadline."""
    pidfd = os.pidfd_open(prepared.init_pid)
    poller = select.poll()
    for fd in (pidfd, prepared.out_r, control_fd):
        poller.register(fd, select.POLLIN)
    output, kind = bytearray(), ""
    while not kind:
        left = deadline - time.monotonic()
        if left <= 0:
            kind = "timeout"
            break
        for fd, _ in poller.poll(left * 1000):
            if fd == prepared.out_r:
                collect(fd, output, job.output_bytes, poller)
            elif fd == control_fd:
                kind = "cancelled"  # the trusted side gave up on this run
            elif fd == pidfd:
                kind = "exited"
    if kind != "exited":
        os.kill(prepared.init_pid, signal.SIGKILL)  # PID 1 gone: the kernel kills the rest
    os.waitpid(prepared.init_pid, 0)
    drain(prepared.out_r, output, job.output_bytes)
    return kind, bytes(output[: job.output_bytes])


def collect(fd: int, output: bytearray, cap: int, poller: select.poll) -> None:
    """Read what the sandbox printed, keeping at most cap bytes."""
    chunk = os.read(fd, 65536)
    if not chunk:
        poller.unregister(fd)
    elif len(output) < cap:
        output += chunk[: cap - len(output)]


def drain(fd: int, output: bytearray, cap: int) -> None:
    """Read the rest of stdout once every writer is dead."""
    os.set_blocking(fd, False)
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            if len(output) < cap:
                output += chunk[: cap - len(output)]


def finish(kind: str, stdout: bytes, prepared: Prepared, job: Job) -> dict:
    """Turn how the init ended into the status sent to the trusted side."""
    detail = ""
    if kind == "exited":
        kind, detail = student_status(prepared.status_r, job)
    if prepared.cgroup.oom >= 0 and oom_kills(prepared.cgroup.oom) > 0:
        kind, detail = "oom", ""
    return {"kind": kind, "detail": detail, "stdout": stdout}


def student_status(status_r: int, job: Job) -> tuple[str, str]:
    """Read how the student process ended, as the init saw it."""
    data = os.read(status_r, INIT_STATUS.size)
    if len(data) != INIT_STATUS.size:
        return "error", "the namespace init died"
    signaled, value, cpu = INIT_STATUS.unpack(data)
    if cpu >= job.cpu_seconds or (signaled and value == signal.SIGXCPU):
        return "cpu", f"{cpu:.2f} s of CPU"
    if signaled:
        name = signal.Signals(value).name if value in signal.valid_signals() else str(value)
        return "signaled", name
    return "exited", str(value)


def oom_kills(fd: int) -> int:
    """Return how many processes the memory cgroup's OOM killer killed."""
    text = os.pread(fd, 4096, 0).decode()
    counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
    return int(counts.get("oom_kill", 0))


def run_init(plan: Plan, tasks: tuple[int, ...], job_fd: int, out_w: int, status_w: int) -> None:
    """Be PID 1 of the sandbox: fork the student, reap everything, report its end."""
    try:
        close_all_but([*tasks, job_fd, out_w, status_w])
        for fd in tasks:
            os.write(fd, b"0")  # join this run's cgroups, so the student is born in them
            os.close(fd)
        student = os.fork()
        if student == 0:
            os.close(status_w)
            run_student(plan, job_fd, out_w)
        os.close(job_fd)
        os.close(out_w)
        while True:
            pid, wait_status, usage = os.wait4(-1, 0)
            if pid == student:
                break
        signaled = os.WIFSIGNALED(wait_status)
        value = os.WTERMSIG(wait_status) if signaled else os.WEXITSTATUS(wait_status)
        os.write(status_w, INIT_STATUS.pack(signaled, value, usage.ru_utime + usage.ru_stime))
    finally:
        os._exit(0)


def arrange_fds(targets: dict[int, int]) -> None:
    """Make fd n a copy of targets[n] for each n, and close every other fd."""
    high = {n: fcntl.fcntl(fd, fcntl.F_DUPFD, 100 + n) for n, fd in targets.items()}
    for n, fd in high.items():
        os.dup2(fd, n, inheritable=True)
    os.closerange(max(targets) + 1, 1 << 20)


STATIC_RLIMITS = {resource.RLIMIT_FSIZE: (TMP_MB << 20, TMP_MB << 20), resource.RLIMIT_CORE: (0, 0)}


def set_job_rlimits(plan: Plan, job: Job) -> None:
    """Cap CPU time, address space and open files (the last once the job's fds are in)."""
    cpu = math.ceil(job.cpu_seconds)
    address_space = plan.address_space + (job.memory_mb << 20)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


def receive_job(job_fd: int) -> tuple[Job, int] | None:
    """Wait for the supervisor to pass the job and the data channel."""
    sock = socket.socket(fileno=job_fd)
    try:
        data, fds = recv_with_fds(sock, JOB.size, 1)
    finally:
        sock.detach()
    job = parse_job(data)
    return (job, fds[0]) if job is not None and len(fds) == 1 else None


def restrict(plan: Plan) -> None:
    """Apply every limit that does not depend on the job: capabilities, seccomp, rlimits."""
    if "rlimits" in plan.layers:
        for which, value in STATIC_RLIMITS.items():
            resource.setrlimit(which, value)
    if "user" in plan.layers:
        libc.drop_capabilities()
    if "seccomp" in plan.layers:
        libc.set_seccomp(plan.seccomp_program)
    else:
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    os.chdir("/tmp")


def run_student(plan: Plan, job_fd: int, out_w: int) -> None:
    """Wait for the job, then run the student's code in this process; never returns.

    Everything that does not depend on the job is done before it comes, off the clock.
    """
    code = 0
    try:
        os.setsid()  # a group of its own: kill(0) reaches only what it forked itself
        # Python's own choice: a full disk or a closed pipe raises instead of killing.
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        runner.warm_up()
        restrict(plan)
        got = receive_job(job_fd)
        if got is None:
            return
        job, data_fd = got
        empty_r, empty_w = os.pipe()
        os.close(empty_w)  # stdin reads as empty, and nothing here holds its write end
        arrange_fds({0: empty_r, 1: out_w, 2: out_w, CHILD_FD: data_fd})
        if "rlimits" in plan.layers:
            set_job_rlimits(plan, job)
        sys.stdout.reconfigure(line_buffering=True)  # keep prints and errors in order
        gc.enable()
        runner.serve(CHILD_FD)
    except BaseException:
        code = 70
    finally:
        os._exit(code)
