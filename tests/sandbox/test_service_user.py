"""The sandbox run by a non-root service user holding only the capabilities the zygote
needs, as deploy/rubric.service grants them (AmbientCapabilities=), and as the
container's entrypoint does, with a cgroup v2 subtree delegated to that user."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import unavailable
from tests.sandbox.test_cgroup_v2 import mount_cgroup2, remove_tree

ROOT = Path(__file__).resolve().parents[2]
# The zygote's needs: mounts and namespaces (SYS_ADMIN), entering the template root
# (SYS_CHROOT), each run's own uid and gid (SETUID, SETGID). See docs/deploy.md.
SERVICE_CAPS = ["sys_admin", "sys_chroot", "setuid", "setgid"]
SERVICE_UID = 64000  # an unprivileged uid no file here belongs to
SCRIPT = """
import json, os, sys
import numpy as np
from server.sandbox import Call, Limits, Sandbox
box = Sandbox(skip_layers=frozenset())
box.start()
code = "import os\\ndef f(x):\\n    print(os.getuid(), os.uname().nodename)\\n    return x * 2\\n"
good = box.run(code, [Call("f", (np.arange(3.0),))], Limits())
bomb = "def f(x):\\n    a = []\\n    while True:\\n        a.append(bytearray(1 << 20))\\n"
bad = box.run(bomb, [Call("f", (np.arange(3.0),))], Limits(memory_mb=64))
print("RESULT" + json.dumps({"uid": os.getuid(), "isolation": box.isolation,
    "good": [good.results[0].outcome, good.stdout], "bad": bad.results[0].outcome}))
box.close()
"""


def reachable_by_others(path: str) -> bool:
    """Tell whether a user of no group may traverse to (and read) path."""
    parts = Path(path).resolve().parts
    walk = [Path(*parts[: i + 1]) for i in range(1, len(parts))]
    return all(p.stat().st_mode & 0o001 for p in walk[:-1]) and walk[-1].stat().st_mode & 0o004


def service_caps() -> str:
    """Return the service's capabilities as setpriv takes them, where it can run."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        unavailable("needs root and setpriv to become a service user with capabilities")
    caps = list(SERVICE_CAPS)
    if not reachable_by_others(os.path.realpath(sys.executable)):
        caps.append("dac_read_search")  # this VM's interpreter lives under /root (0700)
    return ",".join(f"+{c}" for c in caps)


def result_of(done: subprocess.CompletedProcess) -> dict:
    """Return what SCRIPT printed, or fail showing its stderr."""
    line = next((x for x in done.stdout.decode().splitlines() if x.startswith("RESULT")), None)
    assert line is not None, done.stderr.decode()[-3000:]
    return json.loads(line.removeprefix("RESULT"))


def as_service_user(script: str, cgroup_root: Path) -> dict:
    """Run a script as the service user with the unit's capabilities; return its RESULT."""
    ambient = service_caps()
    cgroup_root.chmod(0o755)
    command = ["setpriv", f"--reuid={SERVICE_UID}", f"--regid={SERVICE_UID}", "--clear-groups"]
    command += [f"--inh-caps={ambient}", f"--ambient-caps={ambient}", sys.executable, "-c", script]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    env["RUBRIC_SANDBOX_CGROUP_ROOT"] = str(cgroup_root)
    done = subprocess.run(command, env=env, cwd=cgroup_root, capture_output=True, timeout=120)
    return result_of(done)


def test_a_non_root_service_keeps_every_layer(tmp_path):
    # No cgroup is delegated to this uid here: the stand-ins do their part.
    out = as_service_user(SCRIPT, tmp_path)
    assert out["uid"] == SERVICE_UID
    assert out["isolation"].startswith("cgroup: substitute rlimits+seccomp")
    # Its stdout comes back although the zygote may not force its socket buffer size.
    assert out["good"] == ["ok", "65534 sandbox\n"]
    assert out["bad"] == "memory_limit"


CAPS_SCRIPT = """
import json
import numpy as np
from server.sandbox import Call, Limits, Sandbox
box = Sandbox(skip_layers=frozenset({"user"}))
box.start()
code = (
    "import ctypes\\ndef f(x):\\n    header = (ctypes.c_uint32 * 2)(0x20080522, 0)\\n"
    "    data = (ctypes.c_uint32 * 6)()\\n    ctypes.CDLL(None).syscall(125, header, data)\\n"
    "    print(list(data))\\n    return x\\n"
)
run = box.run(code, [Call("f", (np.arange(3.0),))], Limits())
print("RESULT" + json.dumps({"outcome": run.results[0].outcome, "caps": run.stdout}))
box.close()
"""


def test_without_the_user_layer_a_service_users_capabilities_are_still_dropped(tmp_path):
    # Unlike root's, a service user's capabilities survive its setresuid to the run's
    # uid; with the user namespace turned off (unsafe), nothing else would drop them.
    out = as_service_user(CAPS_SCRIPT, tmp_path)
    assert out == {"outcome": "ok", "caps": "[0, 0, 0, 0, 0, 0]\n"}


def test_the_container_entrypoint_delegates_cgroup_v2_to_the_service_user(tmp_path):
    # A directory of a private cgroup2 mount stands for the container's own cgroup
    # namespace: the entrypoint (as root) hands a subtree to the service user, drops to
    # it, and the zygote, unprivileged, makes its leaf and slots there.
    ambient = service_caps()
    mount = mount_cgroup2()
    container = f"{mount}/rubric-container-{os.getpid()}"
    os.mkdir(container)
    tmp_path.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "PYTHONPATH": str(ROOT),
        "RUBRIC_CGROUP_MOUNT": container,
        "RUBRIC_USER": str(SERVICE_UID),
        "RUBRIC_INSTANCE_DIR": str(tmp_path / "instance"),
        "RUBRIC_SERVICE_CAPS": ambient,
    }
    entrypoint = ROOT / "deploy" / "container-entrypoint.sh"
    try:
        done = subprocess.run(
            ["sh", str(entrypoint), sys.executable, "-c", SCRIPT],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        out = result_of(done)
        assert out["uid"] == SERVICE_UID
        assert out["isolation"].startswith("cgroup: substitute rlimits+seccomp (cgroup v2 (")
        assert f"at {container}/rubric)" in out["isolation"]
        assert out["good"] == ["ok", "65534 sandbox\n"] and out["bad"] == "memory_limit"
        assert os.stat(f"{container}/rubric").st_uid == SERVICE_UID
    finally:
        remove_tree(container)
        subprocess.run(["umount", mount], check=True)
        os.rmdir(mount)


def shipped_caps(path: Path, prefix: str) -> set[str]:
    """Return the capabilities a deploy/ file grants on its line starting with prefix."""
    line = next(x for x in path.read_text().splitlines() if x.startswith(prefix))
    names = line.removeprefix(prefix).strip().strip('"}').replace(",", " ").split()
    return {n.removeprefix("CAP_").removeprefix("+").lower() for n in names}


def test_the_shipped_units_and_entrypoint_grant_exactly_what_was_tested():
    # The capability set the tests above run the sandbox with is the one deploy/ ships.
    deploy = ROOT / "deploy"
    for unit in ("rubric.service", "rubric-worker@.service"):
        for key in ("AmbientCapabilities=", "CapabilityBoundingSet="):
            assert shipped_caps(deploy / unit, key) == set(SERVICE_CAPS), (unit, key)
    entrypoint = shipped_caps(deploy / "container-entrypoint.sh", 'CAPS="${RUBRIC_SERVICE_CAPS:-')
    assert entrypoint == set(SERVICE_CAPS)
