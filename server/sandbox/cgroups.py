"""The cgroup layer: find the delegated hierarchy once, then keep one group per slot.

Three cases, decided by the zygote at start (`setup`):

  v1    memory and pids hierarchies (older hosts, and hybrid ones such as this VM):
        `<root>/memory/<own>/rubric-PID/slot-N` and the same under `pids/`.
  v2    the unified hierarchy of every current distribution, delegated to the service
        (systemd `Delegate=yes`, a container's own cgroup namespace, or
        RUBRIC_SANDBOX_CGROUP_ROOT naming a v2 directory). "No internal processes": the
        zygote moves itself into the leaf `<delegated>/rubric-PID/supervisor`, its slots
        are that leaf's siblings, and the service's other processes move to the leaf
        `<delegated>/service` when controllers must be enabled for the delegated group.
  none  neither: the sandbox stands in with seccomp refusing process creation and
        rlimits (see isolate.restrict), and says so.

Every function below takes the Cgroups the zygote decided on, so that what is
written where can be read (and tested) without a kernel that has the controllers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

V1, V2, NONE = "v1", "v2", "none"
PIDS_MAX = 16  # processes (and threads) per run
# Controllers the slots want, in the order cgroup.subtree_control takes them.
WANTED = ("memory", "pids", "cpu")
CPU_MAX = "100000 100000"  # one CPU's worth per period: a run cannot spread over every core
SUPERVISOR = "supervisor"  # the v2 leaf the zygote itself lives in
SERVICE = "service"  # the v2 leaf the service's other processes move to, when needed
PREFIX = "rubric-"
# Files a kernel may lack although their controller is on (memory.swap.max: a kernel
# built or booted without swap accounting, where there is no swap to limit).
OPTIONAL = ("memory.swap.max",)


@dataclass(frozen=True)
class Cgroups:
    """Where a zygote's slots live and what the kernel enforces in them."""

    version: str  # V1, V2 or NONE
    parents: tuple[str, ...] = ()  # v1: the memory and pids parents; v2: the zygote's group
    controllers: frozenset[str] = frozenset()  # the controllers each slot has
    kill: bool = False  # v2: the kernel has cgroup.kill (Linux 5.14)
    note: str = ""  # why no cgroup is used, when none is

    def enforces(self, controller: str) -> bool:
        """Tell whether the slots limit this resource (memory or pids)."""
        return self.version == V1 or controller in self.controllers

    def describe(self) -> str:
        """Say in one line what the cgroup layer is on this host."""
        if self.version == NONE:
            return f"none ({self.note})" if self.note else "none"
        names = ", ".join(c for c in WANTED if c in self.controllers) or "no controllers"
        if self.version == V1:
            names = "memory, pids"
        return f"{self.version} ({names}) at {self.parents[0].rsplit('/', 1)[0]}"


def read(path: str) -> str:
    """Return a control file's text without its trailing newline."""
    with open(path) as file:
        return file.read().strip()


def write(path: str, text: str) -> None:
    """Write one value to an existing control file."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def own_paths() -> dict[str, str]:
    """Map each v1 controller (and "" for v2) to this process's cgroup path."""
    with open("/proc/self/cgroup") as file:
        entries = [line.rstrip("\n").split(":", 2) for line in file]
    return {name: path for _, names, path in entries for name in names.split(",")}


def detect(root: str) -> str:
    """Tell which hierarchy root holds: V1 (memory and pids), V2, or NONE."""
    paths = own_paths()
    if os.path.exists(f"{root}/cgroup.controllers"):
        return V2
    if all(c in paths and os.path.exists(f"{root}/{c}/cgroup.procs") for c in ("memory", "pids")):
        return V1
    return NONE


def setup(root: str) -> Cgroups:
    """Prepare this zygote's cgroups under root; raise OSError when they cannot be made."""
    version = detect(root)
    if version == V1:
        return setup_v1(root)
    if version == V2:
        group = delegated_v2(root)
        return setup_v2(group, may_move=group != root or handed_over(group))
    raise OSError(f"no cgroup v1 memory+pids hierarchy nor cgroup v2 directory at {root}")


def setup_v1(root: str) -> Cgroups:
    """Make the zygote's memory and pids parents under its own v1 cgroups."""
    paths = own_paths()
    parents = []
    for controller in ("memory", "pids"):
        own = f"{root}/{controller}{paths[controller].rstrip('/')}"
        remove_stale(own)
        parent = f"{own}/{PREFIX}{os.getpid()}"
        with contextlib.suppress(FileExistsError):
            os.mkdir(parent)
        parents.append(parent)
    return Cgroups(V1, tuple(parents))


def delegated_v2(root: str) -> str:
    """Return the v2 directory delegated to this service.

    A mount point (/sys/fs/cgroup, or a container's own namespace) delegates this
    process's own group; any other v2 directory was named on purpose and is used as is.
    A process already moved to the SERVICE leaf (by an earlier zygote) names its parent.
    """
    if not os.path.ismount(root):
        return root
    own = own_paths().get("", "/").rstrip("/")
    return f"{root}{own.removesuffix('/' + SERVICE)}"


def handed_over(group: str) -> bool:
    """Tell whether a group found through the mount is the service's to rearrange.

    systemd marks a unit's group it delegates (Delegate=yes) with the xattr
    trusted.delegate (user.delegate for an unprivileged reader); a cgroup namespace's
    root (a container's own group) is the container's. Anything else, such as a login
    session's scope, is not: its processes are never moved.
    """
    if own_paths().get("", "/") == "/":
        return True
    for name in ("trusted.delegate", "user.delegate"):
        with contextlib.suppress(OSError):
            if os.getxattr(group, name) == b"1":
                return True
    return False


def setup_v2(delegated: str, may_move: bool = True) -> Cgroups:
    """Move the zygote into its leaf, enable the controllers there, and name its group.

    may_move: the delegated group's other processes may move to its SERVICE leaf (only
    then can it pass controllers down while the service's other processes are in it).
    """
    remove_stale(delegated)
    group = f"{delegated}/{PREFIX}{os.getpid()}"
    for path in (group, f"{group}/{SUPERVISOR}"):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
    write(f"{group}/{SUPERVISOR}/cgroup.procs", str(os.getpid()))
    with contextlib.suppress(OSError):  # e.g. not delegated: what is missing shows below
        enable(delegated, group, may_move)
    controllers = frozenset(read(f"{group}/cgroup.subtree_control").split()) & set(WANTED)
    kill = os.path.exists(f"{group}/{SUPERVISOR}/cgroup.kill")
    return Cgroups(V2, (group,), controllers, kill)


def enable(delegated: str, group: str, may_move: bool) -> None:
    """Enable the wanted controllers the kernel offers, from the delegated group down."""
    offered = [c for c in WANTED if c in read(f"{delegated}/cgroup.controllers").split()]
    if not offered:
        return
    if not set(offered) <= set(read(f"{delegated}/cgroup.subtree_control").split()):
        # No internal processes: the delegated group may pass controllers down only
        # once its own processes (the service's web workers, say) live in a leaf.
        if may_move:
            evacuate(delegated, f"{delegated}/{SERVICE}")
        write(f"{delegated}/cgroup.subtree_control", " ".join(f"+{c}" for c in offered))
    write(f"{group}/cgroup.subtree_control", " ".join(f"+{c}" for c in offered))


def evacuate(source: str, leaf: str, attempts: int = 20) -> None:
    """Move every process of source into leaf (a process may fork while we move)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(leaf)
    for _ in range(attempts):
        pids = read(f"{source}/cgroup.procs").split()
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                write(f"{leaf}/cgroup.procs", pid)
    raise OSError(f"processes keep appearing in {source}")


def slot_dirs(cgroups: Cgroups, slot: int) -> tuple[str, ...]:
    """Return the directories of one slot: one per v1 hierarchy, or one v2 group."""
    return tuple(f"{parent}/slot-{slot}" for parent in cgroups.parents)


def slot_limits(cgroups: Cgroups, slot: int) -> list[tuple[str, str]]:
    """Return the (file, value) pairs a slot gets once, when it is made."""
    dirs = slot_dirs(cgroups, slot)
    if cgroups.version == V1:
        return [(f"{dirs[1]}/pids.max", str(PIDS_MAX))]
    table = {
        "memory": [("memory.swap.max", "0")],  # the memory limit is of RAM, never swap
        "pids": [("pids.max", str(PIDS_MAX))],
        "cpu": [("cpu.max", CPU_MAX)],
    }
    return [
        (f"{dirs[0]}/{name}", value)
        for controller in WANTED
        if controller in cgroups.controllers
        for name, value in table[controller]
    ]


def job_limits(cgroups: Cgroups, slot: int, memory_mb: int) -> list[tuple[str, str]]:
    """Return the (file, value) pairs written before each run: its memory limit."""
    dirs = slot_dirs(cgroups, slot)
    if cgroups.version == V1:
        return [(f"{dirs[0]}/memory.limit_in_bytes", str(memory_mb << 20))]
    if "memory" in cgroups.controllers:
        return [(f"{dirs[0]}/memory.max", str(memory_mb << 20))]
    return []


def make_slot(cgroups: Cgroups, slot: int) -> None:
    """Create a slot's groups and set its fixed limits (the zygote reuses it run after run)."""
    for path in slot_dirs(cgroups, slot):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
    for path, value in slot_limits(cgroups, slot):
        if not (path.endswith(OPTIONAL) and not os.path.exists(path)):
            write(path, value)


def set_job_limits(cgroups: Cgroups, slot: int, memory_mb: int) -> None:
    """Write the run's memory limit into its slot."""
    for path, value in job_limits(cgroups, slot, memory_mb):
        write(path, value)


def join(cgroups: Cgroups, slot: int) -> None:
    """Move the calling (single-threaded) process into its slot."""
    if cgroups.version == V1:
        # Through `tasks`, not `cgroup.procs`: a thread moving itself skips the global
        # threadgroup lock, whose RCU grace period costs 7-15 ms per run.
        for path in slot_dirs(cgroups, slot):
            write(f"{path}/tasks", "0")
    else:
        write(f"{slot_dirs(cgroups, slot)[0]}/cgroup.procs", "0")


def members(cgroups: Cgroups, slot: int) -> list[int]:
    """Return the PIDs (as this zygote sees them) in a slot."""
    found: set[int] = set()
    for path in slot_dirs(cgroups, slot):
        with contextlib.suppress(OSError):
            found.update(int(pid) for pid in read(f"{path}/cgroup.procs").split())
    return sorted(found)


def empty(cgroups: Cgroups, slot: int) -> bool:
    """Tell whether no process is left in a slot."""
    try:
        if cgroups.version == V1:
            return read(f"{slot_dirs(cgroups, slot)[1]}/pids.current") == "0"
        return "populated 0" in read(f"{slot_dirs(cgroups, slot)[0]}/cgroup.events")
    except OSError:
        return False


def kill(cgroups: Cgroups, slot: int) -> None:
    """SIGKILL every process in a slot."""
    for path in slot_dirs(cgroups, slot):
        kill_dir(path, cgroups.kill)


def kill_dir(path: str, has_kill: bool) -> None:
    """SIGKILL every process in one group: cgroup.kill where the kernel has it, else each PID."""
    if has_kill:
        with contextlib.suppress(OSError):
            write(f"{path}/cgroup.kill", "1")
            return
    with contextlib.suppress(OSError):
        for pid in read(f"{path}/cgroup.procs").split():
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)


def oom_kills(cgroups: Cgroups, slot: int) -> int:
    """Return how many processes the slot's memory limit has killed so far."""
    if cgroups.version == V1:
        name = "memory.oom_control"
    elif "memory" in cgroups.controllers:
        name = "memory.events"
    else:
        return 0
    try:
        with open(f"{slot_dirs(cgroups, slot)[0]}/{name}") as file:
            counts = dict(line.split() for line in file if len(line.split()) == 2)
    except OSError:
        return 0
    return int(counts.get("oom_kill", 0))


def remove_stale(own: str) -> None:
    """Remove the groups left by zygotes that died, killing what may still run there."""
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(own):
            pid = entry.name.removeprefix(PREFIX)
            if entry.name.startswith(PREFIX) and pid.isdigit() and not alive(int(pid)):
                remove_group(entry.path)


def remove_group(group: str) -> None:
    """Remove a dead zygote's group: its slots (emptied first) and its own leaf."""
    for child in os.scandir(group):
        if child.is_dir() and child.name.startswith(("slot-", "run-", SUPERVISOR)):
            kill_dir(child.path, os.path.exists(f"{child.path}/cgroup.kill"))
            with contextlib.suppress(OSError):
                os.rmdir(child.path)
    with contextlib.suppress(OSError):
        os.rmdir(group)


def alive(pid: int) -> bool:
    """Tell whether a process exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_slots(cgroups: Cgroups, slots: range, wait: float = 5.0) -> None:
    """Remove a closing zygote's slots once empty, and the parents it can."""
    paths = [path for slot in slots for path in slot_dirs(cgroups, slot)]
    deadline = time.monotonic() + wait
    while paths and time.monotonic() < deadline:
        paths = [path for path in paths if not removed(path)]
        if paths:
            time.sleep(0.01)
    # v2: the group still holds the zygote's own leaf; the next zygote removes both.
    for parent in cgroups.parents:
        with contextlib.suppress(OSError):
            os.rmdir(parent)


def removed(path: str) -> bool:
    """Remove an empty cgroup directory; False while it still holds a process."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True
