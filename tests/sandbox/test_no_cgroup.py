"""Nothing delegated: no cgroup at all, and the grader is still safe by default.

RUBRIC_SANDBOX_CGROUP_ROOT names an empty directory, so the zygote finds neither a v1
nor a v2 hierarchy; seccomp (refusing process creation) and rlimits stand in, and the
sandbox says so. Each attack runs for real, then a plain run proves the sandbox usable.
"""

import numpy as np
import pytest

from server.sandbox import Limits, Sandbox
from tests.sandbox.conftest import FAST, X, call
from tests.sandbox.probes import LIBC, errno_of, probe


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """A sandbox on a host where no cgroup is delegated (every layer requested)."""
    empty = tmp_path_factory.mktemp("no-cgroup")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUBRIC_SANDBOX_CGROUP_ROOT", str(empty))
        box = Sandbox(skip_layers=frozenset())
        box.start()
    yield box
    box.close()


@pytest.fixture
def run_bare(bare):
    """Run code in the cgroup-less sandbox, then prove the next run is unaffected."""

    def go(code: str, calls=None, limits: Limits = FAST):
        result = bare.run(code, list(calls or [call()]), limits)
        after = bare.run("def f(x):\n    return x * 2\n", [call()], FAST)
        assert after.results[0].outcome == "ok"
        np.testing.assert_array_equal(after.results[0].value, X * 2)
        return result

    return go


def test_the_sandbox_names_what_stands_in_for_cgroups(bare):
    assert bare.isolation.startswith("cgroup: substitute rlimits+seccomp")
    assert "no cgroup v1 memory+pids hierarchy nor cgroup v2" in bare.isolation


def test_a_memory_bomb_is_stopped(run_bare):
    code = "def f(x):\n    a = []\n    while True:\n        a.append(bytearray(1 << 20))\n"
    result = run_bare(code, [call(), call()], Limits(memory_mb=64, wall_seconds=5))
    assert [r.outcome for r in result.results] == ["memory_limit", "memory_limit"]


def test_a_numpy_memory_bomb_is_stopped(run_bare):
    code = "import numpy as np\ndef f(x):\n    return np.ones((1 << 16, 1 << 16)).sum()\n"
    assert run_bare(code).results[0].outcome == "memory_limit"


def test_a_fork_bomb_is_stopped(run_bare):
    code = (
        "import os\ndef f(x):\n    made, refused = 0, 0\n    for _ in range(1000):\n"
        "        try:\n            if os.fork() == 0:\n                while True:\n"
        "                    pass\n            made += 1\n        except OSError:\n"
        "            refused += 1\n    return x * 0 + [made, refused, 0]\n"
    )
    result = run_bare(code)
    assert result.results[0].outcome == "ok"
    made, refused, _ = result.results[0].value
    assert made == 0 and refused == 1000


@pytest.mark.parametrize(
    "name,expression",
    [("fork", "libc.syscall(57)"), ("vfork", "libc.syscall(58)"), ("clone", "libc.fork()")],
)
def test_every_way_to_make_a_process_is_refused(bare, name, expression):
    out = probe(bare, LIBC + errno_of(expression))
    assert out["errno"] == "EAGAIN", (name, out)


def test_threads_still_work_but_are_capped(bare):
    body = """
import threading
threading.stack_size(1 << 16)  # small stacks: the address-space limit is not what stops them
stop = threading.Event()
started = 0
try:
    for _ in range(100):
        threading.Thread(target=stop.wait, daemon=True).start()
        started += 1
except RuntimeError:
    pass
stop.set()
out['started'] = started
"""
    started = probe(bare, body, Limits(wall_seconds=5))["started"]
    assert 1 <= started < 16  # RLIMIT_NPROC, counted under the run's own host uid


def test_a_busy_loop_is_stopped_by_the_cpu_limit(run_bare):
    code = "def f(x):\n    while True:\n        pass\n"
    result = run_bare(code, [call()], Limits(wall_seconds=5, cpu_seconds=0.5))
    assert result.results[0].outcome == "timeout" and "CPU" in result.results[0].error


def test_a_sleeping_loop_is_stopped_by_the_wall_clock(run_bare):
    code = "import time\ndef f(x):\n    while True:\n        time.sleep(1)\n"
    result = run_bare(code, [call()], Limits(wall_seconds=0.5, cpu_seconds=5))
    assert result.results[0].outcome == "timeout" and "wall clock" in result.results[0].error


def test_the_other_layers_are_all_there(bare):
    body = LIBC + errno_of("libc.unshare(0x10000000)") + "out['root'] = sorted(os.listdir('/'))\n"
    out = probe(bare, body)
    assert out["errno"] == "EPERM" and out["root"] == ["python", "tmp"]


def test_healthz_says_what_stands_in_for_cgroups(bare, monkeypatch, tmp_path):
    # The operator's view: /healthz names the stand-in (this process's sandbox is `bare`).
    from server.sandbox import client
    from tests.conftest import make_app

    monkeypatch.setattr(client, "_instance", bare)
    app = make_app(f"sqlite:///{tmp_path}/health.sqlite3", RUBRIC_BROKER_URL=None)
    body = app.test_client().get("/healthz").json
    assert body["checks"]["sandbox"] == "warm"
    assert body["isolation"].startswith("cgroup: substitute rlimits+seccomp")
