"""Each isolation layer, shown blocking what it is for (often against the same sandbox
with only that layer turned off, to prove it is that layer doing the blocking)."""

import ctypes
import errno
import os
import socket
import threading

import numpy as np
import pytest

from server.sandbox import Limits
from server.sandbox.client import ZYGOTE_ENV
from server.sandbox.isolate import OUTSIDE_ID_BASE, OUTSIDE_ID_COUNT
from tests.sandbox.conftest import FAST, call
from tests.sandbox.probes import LIBC, errno_of, probe

SERVICE_PATHS = [
    "/work/main",
    "/work",
    "/root",
    "/etc/shadow",
    "/etc/passwd",
    "/home",
    "/proc",
    "/sys",
    "/dev",
    "/var",
    "/usr/bin",
    os.getcwd(),
    os.path.join(os.getcwd(), "exercises"),
    os.path.join(os.getcwd(), "instance"),
]


def exists_probe(paths: list[str]) -> str:
    return (
        f"out['root'] = sorted(os.listdir('/'))\nout['seen'] = [p for p in {paths!r} "
        "if os.path.exists(p)]\n"
    )


def test_mount_layer_shows_only_the_runtime(sandbox, sandbox_without):
    out = probe(sandbox, exists_probe(SERVICE_PATHS))
    assert out["root"] == ["python", "tmp"]
    assert out["seen"] == []
    without = probe(sandbox_without("mount"), exists_probe(SERVICE_PATHS))
    assert "/work/main" in without["seen"] and "/etc/passwd" in without["seen"]


def test_runtime_is_read_only_and_tmp_is_private(sandbox):
    body = """
for path in ['/python/stdlib/evil.py', '/evil', '/python/site-packages/numpy/evil.py']:
    try:
        open(path, 'w')
        out[path] = 'written'
    except OSError as exc:
        out[path] = exc.errno
open('/tmp/mine', 'w').write('x')
out['tmp'] = os.listdir('/tmp')
"""
    out = probe(sandbox, body)
    assert {out.pop("tmp")[0]} == {"mine"}
    assert set(out.values()) <= {errno.EROFS, errno.EACCES}
    assert probe(sandbox, "out['tmp'] = os.listdir('/tmp')\n")["tmp"] == []  # next run: fresh


def test_unneeded_modules_load_from_the_mounted_runtime(sandbox):
    out = probe(sandbox, "import xml.dom.minidom, csv, zipfile\nout['ok'] = 1\n")
    assert out == {"ok": 1}


def test_user_layer_runs_as_nobody_without_capabilities(sandbox):
    body = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
header = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)()
libc.syscall(125, header, data)
out['caps'] = list(data)
out['ids'] = [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]
out['groups'] = os.getgroups()
try:
    os.setuid(0)
    out['setuid'] = 'ok'
except OSError as exc:
    out['setuid'] = exc.errno
"""
    out = probe(sandbox, body)
    assert out["ids"] == [65534] * 4 and out["groups"] == []
    assert out["caps"] == [0] * 6
    assert out["setuid"] != "ok"


def test_pid_layer_hides_every_other_process(sandbox, sandbox_without):
    body = f"""
out['me'] = [os.getpid(), os.getppid()]
for name, pid in [('test', {os.getpid()}), ('one', 1)]:
    try:
        os.kill(pid, 0)
        out[name] = 'visible'
    except OSError as exc:
        out[name] = exc.errno
"""
    out = probe(sandbox, body)
    assert out["me"] == [1, 0]  # PID 1 of its own namespace; its parent is outside it
    assert out["test"] == 3  # ESRCH: the test process does not exist in here
    without = probe(sandbox_without("pid"), body)
    assert without["me"][0] > 1 and without["test"] == 1  # EPERM: seen, not allowed


def abstract_socket_probes(name: str) -> tuple[str, str]:
    """Bodies of two probes: one listens on an abstract UNIX socket, one connects to it."""
    listen = f"""
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b'\\0{name}')
s.listen(1)
s.settimeout(1.0)
try:
    s.accept()
    out['heard'] = True
except OSError:
    out['heard'] = False
"""
    connect = f"""
import socket, time
time.sleep(0.2)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(b'\\0{name}')
    out['connect'] = 'ok'
except OSError as exc:
    out['connect'] = errno.errorcode[exc.errno]
"""
    return listen, "import errno\n" + connect


def listen_and_connect(sandbox, name: str) -> tuple[dict, dict]:
    """Run the listening probe and, while it waits, the connecting one in another sandbox."""
    listen, connect = abstract_socket_probes(name)
    heard = []
    thread = threading.Thread(target=lambda: heard.append(probe(sandbox, listen)))
    thread.start()
    try:
        connected = probe(sandbox, connect)
    finally:
        thread.join()
    return heard[0], connected


def test_net_layer_keeps_concurrent_sandboxes_apart(sandbox, sandbox_without):
    # Sandboxes share one empty network namespace; Landlock scopes each one's abstract
    # UNIX sockets to itself (where the kernel cannot scope, each gets its own namespace).
    heard, connected = listen_and_connect(sandbox, f"rubric-test-{os.getpid()}-a")
    assert connected["connect"] in ("EPERM", "ECONNREFUSED") and heard == {"heard": False}
    heard, connected = listen_and_connect(sandbox_without("net"), f"rubric-test-{os.getpid()}-b")
    assert connected["connect"] == "ok" and heard == {"heard": True}


@pytest.fixture
def listeners():
    """A TCP and a UDP socket on 127.0.0.1 that must never hear from the sandbox."""
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp.setblocking(False)
    udp.setblocking(False)
    yield tcp, udp
    tcp.close()
    udp.close()


def connect_probe(tcp_port: int, udp_port: int) -> str:
    return f"""
import socket
for kind, port in [('tcp', {tcp_port}), ('udp', {udp_port})]:
    try:
        s = socket.socket(socket.AF_INET, {{'tcp': 1, 'udp': 2}}[kind])
        s.settimeout(0.5)
        s.connect(('127.0.0.1', port))
        s.send(b'leak')
        out[kind] = 'connected'
    except OSError as exc:
        out[kind] = exc.errno
"""


def heard(tcp: socket.socket, udp: socket.socket) -> list[str]:
    got = []
    for sock, name in [(tcp, "tcp"), (udp, "udp")]:
        try:
            if name == "tcp":
                sock.accept()[0].close()
            else:
                sock.recv(100)
            got.append(name)
        except BlockingIOError:
            pass
    return got


def test_seccomp_and_network_namespace_each_block_loopback(sandbox, sandbox_without, listeners):
    tcp, udp = listeners
    body = connect_probe(tcp.getsockname()[1], udp.getsockname()[1])
    assert probe(sandbox, body) == {"tcp": errno.EAFNOSUPPORT, "udp": errno.EAFNOSUPPORT}
    only_netns = probe(sandbox_without("seccomp"), body)
    assert only_netns == {"tcp": errno.ENETUNREACH, "udp": errno.ENETUNREACH}
    assert heard(tcp, udp) == []
    # Proof that these two layers are what blocks: without both, the listeners hear it.
    assert probe(sandbox_without("seccomp", "net"), body) == {
        "tcp": "connected",
        "udp": "connected",
    }
    assert heard(tcp, udp) == ["tcp", "udp"]


def test_ipc_layer_hides_host_shared_memory(sandbox, sandbox_without):
    libc = ctypes.CDLL(None, use_errno=True)
    key = 0x52554252
    shmid = libc.shmget(key, 4096, 0o1000 | 0o666)  # IPC_CREAT
    assert shmid >= 0
    try:
        body = LIBC + errno_of(f"libc.shmget({key}, 0, 0)")
        assert probe(sandbox, body)["errno"] == "ENOENT"
        assert probe(sandbox_without("ipc"), body)["ret"] == shmid
    finally:
        libc.shmctl(shmid, 0, None)  # IPC_RMID


@pytest.mark.parametrize(
    "name,expression",
    [
        ("execve", "libc.execve(b'/bin/sh', None, None)"),
        ("ptrace", "libc.ptrace(0, 0, None, None)"),  # PTRACE_TRACEME
        ("mount", "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)"),
        ("unshare", "libc.unshare(0x10000000)"),  # CLONE_NEWUSER
        ("socket", "libc.socket(2, 1, 0)"),  # AF_INET
        ("clone", "libc.syscall(56, 0x40000000 | 17, 0, 0, 0, 0)"),  # fork into a new netns
        ("sethostname", "libc.sethostname(b'pwned', 5)"),
        ("bpf", "libc.syscall(321, 0, 0, 0)"),
    ],
)
def test_seccomp_denies(sandbox, name, expression):
    out = probe(sandbox, LIBC + errno_of(expression))
    assert out["errno"] in ("EPERM", "EAFNOSUPPORT", "ENOSYS"), out


def test_seccomp_is_what_denies_ptrace_and_user_namespaces(sandbox_without):
    body = (
        LIBC
        + errno_of("libc.unshare(0x10000000)")
        + "out['unshare'] = out['errno']\n"
        + errno_of("libc.ptrace(0, 0, None, None)")
    )
    out = probe(sandbox_without("seccomp"), body)
    assert out["unshare"] == "ok" and out["errno"] == "ok"


def test_unix_sockets_still_work(sandbox):
    body = (
        "import socket\na, b = socket.socketpair()\na.send(b'hi')\n"
        "out['got'] = b.recv(2).decode()\n"
    )
    assert probe(sandbox, body) == {"got": "hi"}


def test_only_its_own_channel_is_open(sandbox):
    body = """
fds = []
for fd in range(1024):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
out['fds'] = fds
"""
    assert probe(sandbox, body)["fds"] == [0, 1, 2, 3]


def test_no_secret_reaches_the_environment(monkeypatch, sandbox_without):
    monkeypatch.setenv("RUBRIC_SECRET_KEY", "fake-secret-value-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-aws-456")
    from server.sandbox import Sandbox

    box = Sandbox(skip_layers=frozenset())
    box.start()
    try:
        out = probe(box, "out['env'] = dict(os.environ)\n")
    finally:
        box.close()
    assert out["env"] == ZYGOTE_ENV
    assert "fake" not in str(out)


RLIMIT_PROBE = """
import resource
out['core'] = resource.getrlimit(resource.RLIMIT_CORE)
try:
    handles = [open('/tmp/f%d' % i, 'w') for i in range(200)]
    out['files'] = 'opened'
except OSError as exc:
    out['files'] = exc.errno
try:
    with open('/tmp/big', 'wb') as big:
        for i in range(40):
            big.write(b'x' * (1 << 20))
    out['fsize'] = 'written'
except OSError as exc:
    out['fsize'] = exc.errno
"""


def test_rlimits_cap_files_file_size_and_cores(sandbox, sandbox_without):
    out = probe(sandbox, RLIMIT_PROBE)
    assert out == {"core": [0, 0], "files": errno.EMFILE, "fsize": errno.EFBIG}
    # Without the rlimits the private tmpfs still fills up, but only itself.
    without = probe(sandbox_without("rlimits"), RLIMIT_PROBE)
    assert without["files"] == "opened" and without["fsize"] == errno.ENOSPC


def test_cpu_rlimit_stops_a_busy_loop_before_the_wall_clock(sandbox, sandbox_without):
    limits = Limits(wall_seconds=5, cpu_seconds=0.5)
    code = "def f(x):\n    while True:\n        pass\n"
    result = sandbox.run(code, result_calls(), limits)
    assert result.results[0].outcome == "timeout"
    assert "CPU" in result.results[0].error and result.duration_ms < 2500
    without = sandbox_without("rlimits").run(code, result_calls(), limits)
    assert without.results[0].outcome == "timeout" and "wall clock" in without.results[0].error


def result_calls():
    """One call of f on the default argument."""
    return [call()]


def test_address_space_rlimit_turns_a_huge_array_into_memory_error(sandbox):
    code = "import numpy as np\ndef f(x):\n    a = np.ones(40_000_000)\n    return a.sum()\n"
    result = sandbox.run(code, result_calls(), Limits(memory_mb=128))
    assert result.results[0].outcome == "memory_limit"
    assert result.results[0].error.startswith("MemoryError")


def test_memory_cgroup_kills_a_growing_process(sandbox_without):
    code = "def f(x):\n    a = []\n    while True:\n        a.append(bytearray(1 << 20))\n"
    result = sandbox_without("rlimits").run(
        code, result_calls() * 2, Limits(memory_mb=64, wall_seconds=10)
    )
    assert [r.outcome for r in result.results] == ["memory_limit", "not_run"]
    assert "64 MB" in result.results[0].error


def test_pids_cgroup_stops_a_fork_bomb(sandbox):
    body = """
children = 0
try:
    while children < 1000:
        if os.fork() == 0:
            import time
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError as exc:
    out['error'] = exc.errno
out['children'] = children
"""
    out = probe(sandbox, body, Limits(wall_seconds=5))
    assert out["error"] == errno.EAGAIN and out["children"] < 16


NAMESPACES_PROBE = "out['ns'] = {n: os.readlink(f'/proc/self/ns/{n}') for n in ('user', 'uts')}\n"


@pytest.mark.parametrize("layer", ["user", "uts"])
def test_user_and_uts_layers_each_give_a_namespace_of_its_own(sandbox_without, layer):
    # Without the mount layer the sandbox sees the host's /proc, so it can name its
    # namespaces; the same sandbox with the layer off shares the host's instead.
    host = os.readlink(f"/proc/self/ns/{layer}")
    assert probe(sandbox_without("mount"), NAMESPACES_PROBE)["ns"][layer] != host
    without = probe(sandbox_without("mount", layer), NAMESPACES_PROBE)["ns"]
    assert without[layer] == host
    assert all(ns != os.readlink(f"/proc/self/ns/{n}") for n, ns in without.items() if n != layer)


def test_user_layer_maps_nobody_to_a_host_uid_without_privilege(sandbox_without):
    # Inside, uid 65534; the user layer off, the same process shows its host uid: one of
    # the run's own unprivileged ids, never root.
    body = "out['ids'] = [os.getuid(), os.getgid()]\n"
    assert probe(sandbox_without("mount"), body)["ids"] == [65534, 65534]
    uid, gid = probe(sandbox_without("mount", "user"), body)["ids"]
    assert uid == gid and OUTSIDE_ID_BASE <= uid < OUTSIDE_ID_BASE + OUTSIDE_ID_COUNT


def test_uts_namespace_gives_its_own_hostname(sandbox_without):
    # With seccomp on, sethostname is denied outright (test_seccomp_denies); without it the
    # capabilities are dropped too, so the UTS namespace shows only as a separate instance.
    body = LIBC + errno_of("libc.sethostname(b'pwned', 5)")
    assert probe(sandbox_without("seccomp"), body)["errno"] == "EPERM"
    assert socket.gethostname() != "pwned"


def test_numpy_is_single_threaded_in_the_sandbox(sandbox):
    out = probe(
        sandbox,
        "import threading\nout['n'] = threading.active_count()\n"
        "out['env'] = os.environ.get('OPENBLAS_NUM_THREADS')\n",
    )
    assert out == {"n": 1, "env": "1"}
    assert np.__name__ == "numpy"


def test_the_new_root_is_built_above_none_of_the_runtime_sources():
    # A checkout under /tmp (as CI's may be) must not be hidden by the root's tmpfs.
    from server.sandbox.zygote import staging_root

    chosen = staging_root(["/tmp/clean/.venv/lib/python3.11/site-packages/numpy", "/usr/lib"])
    assert chosen != "/tmp" and os.path.isdir(chosen)
    assert staging_root(["/root/.pyenv/lib/python3.11"]) == "/tmp"


def test_without_the_pid_layer_a_cgroup_is_reused_only_once_empty(sandbox_without):
    # Without a PID namespace, what a run forked outlives it in its cgroups: a run that
    # later reused them would find its 16-process budget partly taken.
    box = sandbox_without("pid")
    daemons = (
        "import os, time\ndef f(x):\n    for _ in range(10):\n        if os.fork() == 0:\n"
        "            time.sleep(2)\n            os._exit(0)\n    return x\n"
    )
    forker = (
        "import os\ndef f(x):\n    forked = 0\n    for _ in range(12):\n        try:\n"
        "            if os.fork() == 0:\n                os._exit(0)\n            forked += 1\n"
        "        except OSError:\n            pass\n    return x * 0 + forked\n"
    )
    assert box.run(daemons, [call()], FAST).results[0].outcome == "ok"
    forked = [box.run(forker, [call()], FAST).results[0].value[0] for _ in range(6)]
    assert forked == [12] * 6
