"""The cgroup v2 code on a real cgroup2 mount of our own.

This VM's memory and pids controllers are bound to cgroup v1, so the v2 hierarchy
mounted here has neither: these tests exercise what v2 does with any controller set
(groups, the zygote's leaf, cgroup.procs membership, cgroup.kill, slot reuse and
cleanup), and check the limit files against what the kernel really offers. The
machine's own hierarchies under /sys/fs/cgroup are never touched: every group made
here lives in one directory of ours, removed (and the mount unmounted) at the end.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from server.sandbox import Sandbox, cgroups
from server.sandbox.zygote import POOL_SIZE
from tests.conftest import unavailable
from tests.sandbox.conftest import FAST, call
from tests.sandbox.probes import probe


def mount_cgroup2() -> tuple[str, str]:
    """Mount cgroup2 on a fresh directory; return it, or say why it cannot be (a failure on CI)."""
    if os.geteuid() != 0:
        unavailable("mounting cgroup2 needs root")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        unavailable("no mount(8) here to mount cgroup2 with")
    with open("/proc/filesystems") as file:
        if "cgroup2" not in file.read():
            unavailable("this kernel has no cgroup2 filesystem")
    where = tempfile.mkdtemp(prefix="rubric-cgroup2-")
    done = subprocess.run(["mount", "-t", "cgroup2", "none", where], capture_output=True)
    if done.returncode != 0:
        os.rmdir(where)
        unavailable(f"cgroup2 cannot be mounted here: {done.stderr.decode().strip()}")
    return where


def remove_tree(top: str) -> None:
    """Kill whatever is left in the groups below top, then remove them, deepest first."""
    for path, _, _ in sorted(os.walk(top), key=lambda entry: -entry[0].count("/")):
        cgroups.kill_dir(path, os.path.exists(f"{path}/cgroup.kill"))
    for path, _, _ in sorted(os.walk(top), key=lambda entry: -entry[0].count("/")):
        for _ in range(100):
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.02)


@pytest.fixture(scope="module")
def delegated():
    """A v2 directory of our own on a private cgroup2 mount (as RUBRIC_SANDBOX_CGROUP_ROOT)."""
    where = mount_cgroup2()
    top = f"{where}/rubric-test-{os.getpid()}"
    os.mkdir(top)
    try:
        yield top
    finally:
        remove_tree(top)
        subprocess.run(["umount", where], check=True)
        os.rmdir(where)


@pytest.fixture(scope="module")
def v2_box(delegated):
    """A sandbox, every layer on, whose cgroup layer is the v2 directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUBRIC_SANDBOX_CGROUP_ROOT", delegated)
        box = Sandbox(skip_layers=frozenset())
        box.start()
    yield box
    box.close()


def start(delegated: str, *skip: str) -> Sandbox:
    """Start a sandbox with its cgroups under delegated and the named layers off."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUBRIC_SANDBOX_CGROUP_ROOT", delegated)
        box = Sandbox(skip_layers=frozenset(skip))
        box.start()
    return box


def procs(path: str) -> list[int]:
    """Return the PIDs in one group."""
    with open(f"{path}/cgroup.procs") as file:
        return [int(pid) for pid in file.read().split()]


def slots(group: str) -> list[str]:
    """Return the slot directories of a zygote's group."""
    return sorted(name for name in os.listdir(group) if name.startswith("slot-"))


def test_the_zygote_lives_in_a_leaf_and_its_runs_in_sibling_slots(v2_box, delegated):
    zygote = v2_box._process.pid
    group = f"{delegated}/rubric-{zygote}"
    assert v2_box.isolation.startswith(
        "cgroup: substitute rlimits+seccomp (cgroup v2 (no controllers)"
    )
    deadline = time.monotonic() + 5
    while sum(len(procs(f"{group}/{s}")) for s in slots(group)) < POOL_SIZE:
        assert time.monotonic() < deadline, "the prepared sandboxes never joined their slots"
        time.sleep(0.02)
    assert all(len(procs(f"{group}/{s}")) <= 1 for s in slots(group))
    # A sandbox is forked into the zygote's leaf and moves to its slot at once.
    assert procs(f"{group}/{cgroups.SUPERVISOR}") == [zygote]
    assert procs(delegated) == [] and procs(group) == []  # no internal processes


def test_a_run_is_in_its_own_slot(delegated):
    # Without the mount layer the run sees the host's /proc, so it can name its group.
    box = start(delegated, "mount")
    try:
        text = probe(box, "out['cg'] = open('/proc/self/cgroup').read()\n")["cg"]
        line = next(line for line in text.splitlines() if line.startswith("0::"))
        group = f"/{os.path.basename(delegated)}/rubric-{box._process.pid}/slot-"
        assert line.startswith(f"0::{group}"), line
    finally:
        box.close()


def test_a_run_stopped_at_its_wall_limit_leaves_its_slot_empty(v2_box, delegated):
    result = v2_box.run("import time\ndef f(x):\n    time.sleep(60)\n", [call()], FAST)
    assert result.results[0].outcome == "timeout"
    group = f"{delegated}/rubric-{v2_box._process.pid}"
    busy = [s for s in slots(group) if procs(f"{group}/{s}")]
    assert len(busy) <= POOL_SIZE  # only the prepared sandboxes: the stopped run is gone


def test_kill_ends_every_process_of_a_group_with_and_without_cgroup_kill(delegated):
    parent = f"{delegated}/kill-test"
    os.mkdir(parent)
    for has_kill in (True, False):
        groups = cgroups.Cgroups(cgroups.V2, (parent,), kill=has_kill)
        cgroups.make_slot(groups, 1)
        sleeper = subprocess.Popen(["sleep", "60"])
        cgroups.write(f"{parent}/slot-1/cgroup.procs", str(sleeper.pid))
        assert cgroups.members(groups, 1) == [sleeper.pid]
        assert not cgroups.empty(groups, 1)
        cgroups.kill(groups, 1)
        assert sleeper.wait(timeout=5) == -9
        deadline = time.monotonic() + 2
        while not cgroups.empty(groups, 1) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cgroups.empty(groups, 1)
    remove_tree(parent)


def test_slots_are_reused_and_removed_and_stale_groups_cleaned(delegated):
    box = start(delegated)
    group = f"{delegated}/rubric-{box._process.pid}"
    for _ in range(12):
        assert box.run("def f(x):\n    return x\n", [call()], FAST).results[0].outcome == "ok"
    assert len(slots(group)) <= POOL_SIZE + 1  # reused run after run, not one per run
    box.close()
    assert slots(group) == []  # removed at close; the zygote's own leaf waits for the next
    box = start(delegated)
    try:
        assert not os.path.exists(group)  # the dead zygote's group, cleaned by the next one
    finally:
        box.close()


def test_limit_files_are_those_the_kernel_offers(delegated):
    # What a slot gets is decided by the controllers really enabled: here none of memory,
    # pids and cpu, so nothing is written but what the kernel has, and it all exists.
    box = start(delegated)
    try:
        group = f"{delegated}/rubric-{box._process.pid}"
        with open(f"{group}/cgroup.subtree_control") as file:
            enabled = set(file.read().split())
        with open(f"{group}/cgroup.controllers") as file:
            offered = set(file.read().split())
        assert enabled == offered & set(cgroups.WANTED)
        groups = cgroups.Cgroups(cgroups.V2, (group,), frozenset(enabled))
        written = cgroups.slot_limits(groups, 1) + cgroups.job_limits(groups, 1, 64)
        assert all(os.path.exists(path) for path, _ in written)
    finally:
        box.close()


def test_a_kernel_without_swap_accounting_still_gets_its_slots(delegated):
    # The memory controller on, but no memory.swap.max (no swap accounting): the slot is
    # made all the same. Here no memory file exists at all, which covers that case.
    parent = f"{delegated}/swap-test"
    os.mkdir(parent)
    try:
        cgroups.make_slot(cgroups.Cgroups(cgroups.V2, (parent,), frozenset({"memory"})), 1)
        assert os.path.isdir(f"{parent}/slot-1")
    finally:
        remove_tree(parent)


def test_limit_files_with_every_controller():
    # A host that delegates memory, pids and cpu (not this VM): what each slot gets.
    groups = cgroups.Cgroups(cgroups.V2, ("/g",), frozenset(cgroups.WANTED), kill=True)
    assert cgroups.slot_limits(groups, 3) == [
        ("/g/slot-3/memory.swap.max", "0"),
        ("/g/slot-3/pids.max", "16"),
        ("/g/slot-3/cpu.max", "100000 100000"),
    ]
    assert cgroups.job_limits(groups, 3, 64) == [("/g/slot-3/memory.max", str(64 << 20))]
    assert groups.enforces("memory") and groups.enforces("pids")
    bare = cgroups.Cgroups(cgroups.V2, ("/g",), frozenset({"cpu"}))
    assert not bare.enforces("pids") and cgroups.job_limits(bare, 3, 64) == []


def test_evacuate_moves_every_process_of_a_group_into_a_leaf(delegated):
    # What lets controllers be enabled for a delegated group its service's processes live
    # in ("no internal processes"): they move to the leaf <group>/service first.
    group = f"{delegated}/evacuate-test"
    os.mkdir(group)
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(3)]
    try:
        for sleeper in sleepers:
            cgroups.write(f"{group}/cgroup.procs", str(sleeper.pid))
        cgroups.evacuate(group, f"{group}/{cgroups.SERVICE}")
        assert procs(group) == []
        assert sorted(procs(f"{group}/{cgroups.SERVICE}")) == sorted(s.pid for s in sleepers)
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
        remove_tree(group)


FIND_DELEGATED = """
import sys
from server.sandbox import cgroups
cgroups.write(sys.argv[2] + "/cgroup.procs", "0")
print(cgroups.delegated_v2(sys.argv[1]))
"""


@pytest.mark.parametrize("leaf", ["", f"/{cgroups.SERVICE}"])
def test_a_mount_point_names_the_processes_own_group(delegated, leaf):
    # Under systemd the root is /sys/fs/cgroup and the service's group is the process's
    # own; a web worker an earlier zygote moved to the service leaf names the same group.
    mount = os.path.dirname(delegated)
    group = f"{delegated}/unit-test"
    os.makedirs(group + leaf, exist_ok=True)
    try:
        done = subprocess.run(
            [sys.executable, "-c", FIND_DELEGATED, mount, group + leaf],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.stdout.strip() == group, done.stderr
    finally:
        remove_tree(group)


HANDED_OVER = """
import sys
from server.sandbox import cgroups
cgroups.write(sys.argv[1] + "/inner/cgroup.procs", "0")
print(cgroups.handed_over(sys.argv[1]))
"""


def test_only_a_group_marked_as_delegated_is_rearranged(delegated):
    # Found through the mount, the process's own group is moved about only if systemd
    # marked it delegated (Delegate=yes sets this xattr), never a login session's scope.
    group = f"{delegated}/xattr-test"
    os.makedirs(f"{group}/inner")

    def handed_over() -> str:
        command = [sys.executable, "-c", HANDED_OVER, group]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        return done.stdout.strip() or done.stderr

    try:
        assert handed_over() == "False"
        os.setxattr(group, "trusted.delegate", b"1")
        assert handed_over() == "True"
    finally:
        remove_tree(group)
