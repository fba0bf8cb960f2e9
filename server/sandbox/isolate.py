"""Build one sandbox per run: a single process, forked by the zygote and isolated in place.

  zygote  (host PID namespace; watches the wall clock, reads stdout, reports the status)
  └── student  (PID 1 of a new PID namespace: when it exits the kernel kills whatever it
                left; as root it joins its cgroups and enters a private copy of the
                template root, then drops to an unprivileged uid in new user, IPC and UTS
                namespaces (and network, unless the zygote's empty one is shared), drops
                every capability, sets rlimits, Landlock and seccomp, waits for its job)

One process, not a supervisor and a namespace init above the student: every fork+exit
of the ~36 MB zygote costs milliseconds of CPU on this VM (page-table copies,
copy-on-write faults, unmapping), and those were two thirds of a run. The student is
made before its job exists (the zygote keeps a few prepared); the job then comes as a
header and an fd.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import gc
import math
import os
import resource
import signal
import socket
import struct
import sys
from dataclasses import dataclass

from . import cgroups, frames, libc, runner

NOBODY = 65534  # the uid and gid inside the sandbox
OUTSIDE_ID_BASE, OUTSIDE_ID_COUNT = 200_000, 50_000  # far from any real user's
TMP_MB = 16  # the private, writable /tmp
PIDS_MAX = cgroups.PIDS_MAX
OPEN_FILES = 64
CHILD_FD = 3  # the student's end of the data channel


@dataclass(frozen=True)
class Plan:
    """What the zygote decided once at start: active layers, mounts, cgroup parents."""

    layers: frozenset[str]
    root: str  # host directory the new root's tmpfs is mounted over (no mount source below)
    mounts: tuple[tuple[str, str], ...]  # (host path, path inside the sandbox)
    hidden: tuple[str, ...]  # directories inside those mounts covered by an empty tmpfs
    sys_path: tuple[str, ...]
    cgroups: cgroups.Cgroups
    address_space: int  # the zygote's own virtual size, which every child starts with
    seccomp_program: bytes
    mount_template: int = -1  # fd of the mount namespace holding the built root
    # Every sandbox shares the zygote's own empty network namespace, each confined by
    # Landlock to abstract sockets of its own: a network namespace per run cost 0.8 ms
    # of CPU (made, then torn down by a kernel worker). Only where Landlock can scope.
    shared_net: bool = False
    # No cgroup limits the run's processes: seccomp refuses process creation and
    # RLIMIT_NPROC caps threads under the run's own host uid (see seccomp.build_filter).
    substitute: bool = False


@dataclass(frozen=True)
class Job:
    """The limits of one run, as the trusted side sent them."""

    wall_seconds: float
    cpu_seconds: float
    memory_mb: int
    output_bytes: int


JOB = struct.Struct("<4sddII")  # magic, wall s, CPU s, memory MB, output bytes
JOB_MAGIC = b"RUN1"
KERNEL_CPU_SIGNALS = (signal.SIGXCPU, signal.SIGKILL)  # what RLIMIT_CPU sends
SO_SNDBUFFORCE = 32  # Linux; the socket module does not name it
MAX_OUTPUT = 1 << 20  # stdout kept per run: the zygote holds it until the run ends


def parse_job(data: bytes) -> Job | None:
    """Decode a job header; None if it is not one."""
    if len(data) != JOB.size or data[:4] != JOB_MAGIC:
        return None
    _, wall, cpu, memory_mb, output_bytes = JOB.unpack(data)
    if not (0 < wall < 3600 and 0 < cpu < 3600 and 0 < memory_mb < 1 << 20):
        return None
    if output_bytes > MAX_OUTPUT:
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


def build_root(plan: Plan) -> None:
    """Enter a new mount namespace whose root holds only the runtime, read-only."""
    libc.unshare(libc.CLONE_NEWNS)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    root = plan.root  # private to the new namespace, and above none of the mount sources
    libc.mount(
        "tmpfs", root, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "size=1m,nr_inodes=256,mode=0755"
    )
    read_only = libc.MS_REMOUNT | libc.MS_BIND | libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV
    for source, target in plan.mounts:
        if os.path.isdir(source):
            os.makedirs(root + target)
        else:  # a one-file module: bound over an empty file
            os.makedirs(os.path.dirname(root + target), exist_ok=True)
            os.close(os.open(root + target, os.O_CREAT | os.O_WRONLY, 0o644))
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
    os.mkdir(f"{root}/tmp")  # each sandbox mounts its own tmpfs here (enter_root)
    os.mkdir(f"{root}/old")
    os.chdir(root)
    libc.pivot_root(".", "old")
    libc.umount2("/old", libc.MNT_DETACH)
    os.rmdir("/old")
    os.chdir("/")
    libc.mount(None, "/", None, libc.MS_REMOUNT | libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV)


def build_template(plan: Plan) -> int:
    """Build the sandbox root once, in a mount namespace kept alive by the fd returned.

    Each sandbox then copies it (setns, unshare) and mounts only its own /tmp: 0.3 ms
    instead of the 1.1 ms of building the whole root again in every child.
    """
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(hold_w)
            build_root(plan)
            os.write(ready_w, b"R")
            os.read(hold_r, 1)  # stay in the namespace until the zygote holds it
        except BaseException as exc:
            os.write(ready_w, b"F" + f"{type(exc).__name__}: {exc}".encode()[:2000])
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    try:
        message = os.read(ready_r, 4096)
        if message != b"R":
            raise LayerFailed(f"mount: {message[1:].decode('utf-8', 'replace') or 'it died'}")
        return os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(hold_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def enter_root(plan: Plan) -> None:
    """Enter a private copy of the template root, with a fresh tmpfs as /tmp."""
    libc.setns(plan.mount_template, libc.CLONE_NEWNS)  # also moves root and cwd there
    os.close(plan.mount_template)
    libc.unshare(libc.CLONE_NEWNS)  # the copy is private: nothing mounted here leaks back
    libc.mount(
        "tmpfs",
        "/tmp",
        "tmpfs",
        libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC,
        f"size={TMP_MB}m,nr_inodes=1024,mode=1777",
    )
    os.chdir("/")


def namespace_flags(plan: Plan) -> int:
    """Return the unshare flags of the user, network, IPC and UTS layers that are on.

    The mount namespace is made first, as root; the PID one by the zygote, around the
    fork; the network one is the zygote's own when it is shared (see Plan.shared_net).
    """
    table = {
        "user": libc.CLONE_NEWUSER,
        "net": 0 if plan.shared_net else libc.CLONE_NEWNET,
        "ipc": libc.CLONE_NEWIPC,
        "uts": libc.CLONE_NEWUTS,
    }
    return sum(flag for name, flag in table.items() if name in plan.layers)


def outside_id(zygote_pid: int, run_id: int) -> int:
    """Return the host uid and gid of one run."""
    # Concurrent sandboxes (nearly always) differ, so that no signal, ptrace or file
    # permission could reach from one into another even past the other layers.
    return OUTSIDE_ID_BASE + (zygote_pid * 7919 + run_id) % OUTSIDE_ID_COUNT


def drop_to_nobody(plan: Plan, proc_fd: int, host: int) -> None:
    """Become an unprivileged uid/gid (65534 inside) and enter the remaining namespaces."""
    flags = namespace_flags(plan)
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


def isolate(plan: Plan, slot: int, host: int) -> None:
    """Do, as root, everything that needs root; end as uid 65534 in the new namespaces."""
    if plan.cgroups.version != cgroups.NONE:
        with layer("cgroup"):
            cgroups.join(plan.cgroups, slot)
    proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY)
    if "mount" in plan.layers:
        with layer("mount"):
            enter_root(plan)
    drop_to_nobody(plan, proc_fd, host)
    os.close(proc_fd)  # an open /proc would reach the host through /proc/PID/root


def close_all_but(keep: list[int]) -> None:
    """Close every fd from 3 up except those in keep."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


@dataclass(frozen=True)
class Started:
    """The zygote's handles on one student process it forked."""

    pid: int
    pidfd: int  # readable once the student has exited
    link: socket.socket  # "R" (ready) or "F"/"E" (failed) comes here; the job goes back
    out_r: int  # the student's stdout and stderr


def fork_student(plan: Plan, run_id: int, slot: int, own_pid_ns: int) -> Started:
    """Fork one student process, PID 1 of a new PID namespace when that layer is on."""
    host = outside_id(os.getpid(), run_id)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    out_r, out_w = os.pipe()
    try:
        if "pid" in plan.layers:
            with layer("pid"):
                libc.unshare(libc.CLONE_NEWPID)  # applies to the next child only
        try:
            pid = os.fork()
        finally:
            if "pid" in plan.layers and os.getpid() != 1:  # not in the child, PID 1 by now
                with layer("pid"):  # the zygote's next children are born here again
                    libc.setns(own_pid_ns, libc.CLONE_NEWPID)
        if pid == 0:
            try:
                run_student(plan, slot, host, theirs.fileno(), out_w)
            finally:
                os._exit(70)  # whatever happens, the child never runs the zygote's code
        return Started(pid, os.pidfd_open(pid), ours, out_r)
    except BaseException:
        ours.close()
        os.close(out_r)
        raise
    finally:
        theirs.close()
        os.close(out_w)


def end_status(wait_status: int, cpu: float, job: Job) -> tuple[str, str]:
    """Classify how the student process ended: exited, signaled, or out of CPU time."""
    signaled = os.WIFSIGNALED(wait_status)
    value = os.WTERMSIG(wait_status) if signaled else os.WEXITSTATUS(wait_status)
    # The rlimit's SIGKILL comes at ceil(cpu_seconds) of CPU as the scheduler counts it;
    # rusage, sampled, may say a little less.
    at_limit = cpu >= 0.9 * math.ceil(job.cpu_seconds)
    if cpu >= job.cpu_seconds or (signaled and value in KERNEL_CPU_SIGNALS and at_limit):
        return "cpu", f"{cpu:.2f} s of CPU"
    if signaled:
        name = signal.Signals(value).name if value in signal.valid_signals() else str(value)
        return "signaled", name
    return "exited", str(value)


def report(fd: int, status: dict) -> None:
    """Send the final status frame on the control channel, without ever blocking."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fd))
        with sock:
            frame = status_frame(status)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 2 * len(frame) + 4096)
            except PermissionError:
                # A zygote without CAP_NET_ADMIN (a non-root service) gets at most the
                # host's wmem_max: it keeps of stdout what surely fits (a quarter of that).
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2 * len(frame) + 4096)
                room = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 4
                frame = status_frame({**status, "stdout": status["stdout"][:room]})
            sock.setblocking(False)
            sock.sendall(frame)  # fits the buffer just sized; else the run has no status


def status_frame(status: dict) -> bytes:
    """Encode a run's final status: kind, detail and captured stdout."""
    payload = frames.record([status["kind"].encode(), status["detail"].encode(), status["stdout"]])
    return frames.frame(b"STAT", payload)


def arrange_fds(targets: dict[int, int]) -> None:
    """Make fd n a copy of targets[n] for each n, and close every other fd."""
    high = {n: fcntl.fcntl(fd, fcntl.F_DUPFD, 100 + n) for n, fd in targets.items()}
    for n, fd in high.items():
        os.dup2(fd, n, inheritable=True)
    os.closerange(max(targets) + 1, 1 << 20)


STATIC_RLIMITS = {resource.RLIMIT_FSIZE: (TMP_MB << 20, TMP_MB << 20), resource.RLIMIT_CORE: (0, 0)}


def set_job_rlimits(plan: Plan, job: Job) -> None:
    """Cap CPU time, address space and open files (the last once the job's fds are in)."""
    # Soft = hard: the soft limit's SIGXCPU never reaches the PID 1 of a namespace, the
    # hard limit's SIGKILL does.
    cpu = math.ceil(job.cpu_seconds)
    address_space = plan.address_space + (job.memory_mb << 20)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


def receive_job(link: socket.socket) -> tuple[Job, int] | None:
    """Wait for the zygote to pass the job and the data channel."""
    data, fds = recv_with_fds(link, JOB.size, 1)
    job = parse_job(data)
    return (job, fds[0]) if job is not None and len(fds) == 1 else None


def restrict(plan: Plan) -> None:
    """Apply every limit that does not depend on the job: capabilities, seccomp, rlimits."""
    if "rlimits" in plan.layers:
        for which, value in STATIC_RLIMITS.items():
            resource.setrlimit(which, value)
    if plan.substitute:  # threads count too: each run has a host uid of its own
        resource.setrlimit(resource.RLIMIT_NPROC, (PIDS_MAX, PIDS_MAX))
    if "user" in plan.layers:
        libc.drop_capabilities()
    else:  # a non-root service's capabilities survive its setresuid: drop them here
        libc.clear_capabilities()
    libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    if plan.shared_net:
        with layer("net"):
            libc.scope_abstract_sockets()
    if "seccomp" in plan.layers:
        libc.set_seccomp(plan.seccomp_program)
    os.chdir("/tmp")


def run_student(plan: Plan, slot: int, host: int, link_fd: int, out_w: int) -> None:
    """Isolate this fresh child, wait for its job, run the student's code; never returns.

    Everything that does not depend on the job is done before it comes, off the clock.
    """
    code = 0
    try:
        link = socket.socket(fileno=link_fd)
        gc.disable()  # fewer copy-on-write pages until the student's code runs
        os.setsid()  # a group of its own: kill(0) reaches only what it forked itself
        close_all_but([link_fd, out_w, plan.mount_template])
        # Python's own choice: a full disk or a closed pipe raises instead of killing.
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            # No runner.warm_up() here: pre-faulting what the run may touch cost more CPU
            # (3% of a grading) than the faults it saved, for ~0.5 ms of latency.
            isolate(plan, slot, host)
            restrict(plan)
        except LayerFailed as exc:  # a layer cannot be set up: the zygote stops trying
            link.send(b"F" + str(exc).encode()[:2000])
            return
        except Exception as exc:
            link.send(b"E" + f"{type(exc).__name__}: {exc}".encode()[:2000])
            return
        link.send(b"R")
        got = receive_job(link)
        link.detach()  # closed below with every other fd; no object may close fd 3 later
        if got is None:
            return  # the zygote is gone, or this sandbox was not needed
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
