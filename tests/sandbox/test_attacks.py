"""Attacks a cheating or hostile submission may try. Each test asserts the real outcome,
that the host (this process, the zygote) is unaffected, and (through the `run` fixture)
that the next submission runs normally."""

import math
import os
import pickle
import socket
import struct
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from server.grading.demo import grade_with_demo
from server.grading.exercise import load_exercise
from server.grading.grader import (
    BUDGET_WALL_LIMITS,
    HIDDEN_FEEDBACK,
    Budget,
    grade_submission,
    grade_with_extras,
    sandbox_limits,
)
from server.grading.result import DURATION_STEP_MS, Outcome
from server.sandbox import Call, Limits
from server.sandbox import frames as wire
from server.sandbox.zygote import POOL_SIZE
from tests.sandbox.conftest import FAST, X, call
from tests.sandbox.probes import probe


@pytest.fixture(autouse=True)
def host_unaffected(sandbox):
    """After every attack the zygote is alive and this process still counts its children."""
    yield
    assert sandbox._process.poll() is None


def test_infinite_loop(run):
    result = run("def f(x):\n    while True:\n        pass\n", [call(), call()])
    assert [r.outcome for r in result.results] == ["timeout", "not_run"]


def test_sleep_with_every_signal_ignored(run):
    code = (
        "import signal, time\nfor s in range(1, 65):\n    try:\n"
        "        signal.signal(s, signal.SIG_IGN)\n    except (OSError, ValueError):\n"
        "        pass\ndef f(x):\n    time.sleep(100)\n"
    )
    result = run(code, [call(), call()], Limits(wall_seconds=1))
    assert [r.outcome for r in result.results] == ["timeout", "not_run"]
    assert result.duration_ms < 3000


def test_infinite_loop_at_import(run):
    result = run("while True:\n    pass\n", [call()])
    assert result.load_outcome == "timeout"


def test_memory_bomb(run):
    code = "def f(x):\n    a = []\n    while True:\n        a.append(bytearray(1 << 20))\n"
    result = run(code, [call(), call()])
    first, second = (r.outcome for r in result.results)
    assert first == "memory_limit"
    # Both limits stop it, and they are of a size: the memory cgroup kills the sandbox
    # (the next call is not run), or RLIMIT_AS raises MemoryError inside the call first
    # and the sandbox goes on to the next call; which one wins depends on the machine's load.
    assert second in ("not_run", "memory_limit")


def test_numpy_memory_bomb(run):
    code = (
        "import numpy as np\ndef f(x):\n    a = []\n    while True:\n"
        "        a.append(np.ones(1 << 20))\n"
    )
    assert run(code, [call()]).results[0].outcome == "memory_limit"


def test_fork_bomb(run, sandbox):
    code = (
        "import os\ndef f(x):\n    while True:\n        try:\n            os.fork()\n"
        "        except OSError:\n            pass\n"
    )
    result = run(code, [call(), call()], Limits(wall_seconds=1))
    assert [r.outcome for r in result.results] == ["timeout", "not_run"]
    deadline = time.monotonic() + 3
    while len(descendants(sandbox._process.pid)) > POOL_SIZE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(descendants(sandbox._process.pid)) <= POOL_SIZE  # the prepared ones only


def descendants(pid: int) -> list[int]:
    """Return every process below pid."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as file:
            children = [int(c) for c in file.read().split()]
    except OSError:
        return []
    return children + [d for c in children for d in descendants(c)]


def test_filling_the_disk(run, tmp_path):
    code = (
        "def f(x):\n    with open('/tmp/fill', 'wb') as out:\n        while True:\n"
        "            out.write(b'x' * 65536)\n"
    )
    result = run(code, [call()])
    assert result.results[0].outcome == "runtime_error"
    assert "File too large" in result.results[0].error


def test_writing_outside_the_sandbox(run):
    target = "/tmp/rubric-sandbox-escape-test"
    code = f"""
import os
def f(x):
    for path in [{target!r}, '/work/main/escape', '/root/escape', '/etc/escape']:
        try:
            open(path, 'w').write('escaped')
        except OSError:
            pass
    return 1
"""
    assert run(code, [call()]).results[0].outcome == "ok"
    assert not os.path.exists(target) and not os.path.exists("/work/main/escape")


def test_connecting_to_localhost(run):
    with (
        socket.create_server(("127.0.0.1", 0)) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        udp.bind(("127.0.0.1", 0))
        code = f"""
import socket
def f(x):
    failures = 0
    for kind, port in [(socket.SOCK_STREAM, {tcp.getsockname()[1]}),
                       (socket.SOCK_DGRAM, {udp.getsockname()[1]})]:
        try:
            s = socket.socket(socket.AF_INET, kind)
            s.connect(('127.0.0.1', port))
            s.send(b'leak')
        except OSError:
            failures += 1
    return failures
"""
        result = run(code, [call()])
        assert int(result.results[0].value) == 2
        tcp.setblocking(False)
        udp.setblocking(False)
        with pytest.raises(BlockingIOError):
            tcp.accept()
        with pytest.raises(BlockingIOError):
            udp.recv(10)


def test_searching_for_the_reference_the_tests_or_the_database(sandbox):
    body = """
hits, count = [], 0
for root, dirs, files in os.walk('/'):
    for name in dirs + files:
        count += 1
        path = os.path.join(root, name)
        if (set(path.split('/')) & {'work', 'main', 'exercises', 'instance', 'root', 'server',
                                    'migrations', 'quizzes', 'mistakes', 'home', 'etc'}
                or name.endswith(('.db', '.sqlite', '.sqlite3', '.toml'))
                or 'reference' in name or 'rubric' in name or 'hidden' in name):
            hits.append(path)
out['hits'], out['count'] = hits[:20], count
"""
    out = probe(sandbox, body, Limits(wall_seconds=10, cpu_seconds=10))
    assert out["count"] > 1000  # it did walk the whole runtime
    assert out["hits"] == []


def test_reading_other_processes_environments(sandbox):
    body = """
import glob
out['environ'] = glob.glob('/proc/*/environ')
try:
    out['one'] = open('/proc/1/environ').read()
except OSError as exc:
    out['one'] = exc.errno
"""
    out = probe(sandbox, body)
    assert out["environ"] == [] and isinstance(out["one"], int)


def test_object_equal_to_everything(run):
    code = (
        "class Liar(float):\n    def __eq__(self, other):\n        return True\n"
        "class Any:\n    def __eq__(self, other):\n        return True\n"
        "    __array_priority__ = 1000\n"
        "def f(x):\n    return Any()\ndef g(x):\n    return Liar(7.0)\n"
    )
    result = run(code, [call("f"), call("g")])
    assert result.results[0].outcome == "invalid_output"
    got = result.results[1]
    assert got.outcome == "ok" and type(got.value) is np.ndarray and got.value.dtype == float
    assert not np.allclose(got.value, 1.0) and float(got.value) == 7.0


def test_monkeypatching_numpy_testing_and_math(run):
    code = """
import math, numpy as np, numpy.testing
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.array_equal = lambda *a, **k: True
math.isclose = lambda *a, **k: True
def f(x):
    return 123.0
"""
    result = run(code, [call()])
    assert float(result.results[0].value) == 123.0
    # The trusted side's NumPy and math are their own, untouched.
    assert not np.allclose(result.results[0].value, 0.0)
    assert not math.isclose(1.0, 2.0)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(result.results[0].value, 0.0)
    # And the next sandbox starts from the zygote's untouched copy.
    fresh = run("import numpy as np\ndef f(x):\n    return np.allclose(x, -1)\n", [call()])
    assert bool(fresh.results[0].value) is False


@pytest.mark.parametrize("where", ["import", "call"])
@pytest.mark.parametrize("how", ["os._exit(0)", "sys.exit(0)"])
def test_exiting_early(run, where, how):
    line = f"import os, sys\n{how}\n" if where == "import" else "import os, sys\n"
    code = line + f"def ok(x):\n    return 1\ndef f(x):\n    {how}\n"
    result = run(code, [call("ok"), call("f"), call("ok")])
    if where == "import":
        assert result.load_outcome in ("crashed", "runtime_error")
        assert [r.outcome for r in result.results] == ["not_run"] * 3
    else:
        assert result.load_outcome == "ok"
        assert result.results[0].outcome == "ok" and result.results[1].outcome == "runtime_error"
        expected = "ok" if how == "sys.exit(0)" else "not_run"  # SystemExit is only an error
        assert result.results[2].outcome == expected


def forged_result(index: int, value: float) -> bytes:
    """A well-formed RSLT frame claiming call `index` returned `value`."""
    header = struct.pack("<IB", index, 0)
    npy = wire.dump_array(np.array(value))
    return wire.frame(b"RSLT", wire.record([header, b"", npy, wire.dump_array(X)]))


def test_printing_fake_results(run):
    fake = forged_result(0, 42.0) + forged_result(1, 42.0)
    code = (
        f"import sys\nFAKE = {fake!r}\nprint('LOAD ok'); print('RSLT 0 ok 42')\n"
        "sys.stdout.buffer.write(FAKE); sys.stdout.flush()\n"
        "def f(x):\n    print('RSLT', 1, 'ok', 42)\n    sys.stdout.buffer.write(FAKE)\n"
        "    sys.stdout.flush()\n    return 7.0\n"
    )
    result = run(code, [call(), call()])
    assert [float(r.value) for r in result.results] == [7.0, 7.0]
    assert "RSLT" in result.stdout


class Exploit:
    """A pickle that would leave a file behind if the trusted side ever unpickled it."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/rubric-unpickled",))


def test_pickle_payload_and_forged_frames_on_every_fd(run):
    payload = pickle.dumps(Exploit())
    junk = [
        payload,
        wire.frame(b"LOAD", payload),
        forged_result(5, 42.0),
        struct.pack("<4sI", b"RSLT", 0xFFFFFFFF),
        b"\x93NUMPY" + payload,
    ]
    code = f"""
import os
JUNK = {junk!r}
def attack():
    for fd in range(1024):
        for blob in JUNK:
            try:
                os.write(fd, blob)
            except OSError:
                pass
def f(x):
    attack()
    return 1.0
def g(x):
    return 2.0
"""
    result = run(code, [call("g"), call("f"), call("g")])
    assert [r.outcome for r in result.results] == ["ok", "invalid_output", "not_run"]
    assert float(result.results[0].value) == 2.0
    at_import = run(code + "attack()\n", [call("g")])
    assert at_import.load_outcome == "crashed"
    assert not os.path.exists("/tmp/rubric-unpickled")


def test_object_arrays_and_pickles_inside_npy_are_refused():
    objects = np.array([Exploit()], dtype=object)
    import io

    buffer = io.BytesIO()
    np.save(buffer, objects, allow_pickle=True)
    with pytest.raises(wire.ProtocolError):
        wire.load_array(buffer.getvalue())
    assert not os.path.exists("/tmp/rubric-unpickled")


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x93NUMPY",
        b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}\n",
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (10**9,), }"
        + b" " * 50
        + b"\n",
        b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
        + b" " * 51
        + b"\n"
        + b"\x00" * 8,
        b"\x93NUMPY\x03\x00" + b"\x00" * 100,
    ],
)
def test_malformed_arrays_are_refused_strictly(blob):
    with pytest.raises(wire.ProtocolError):
        wire.load_array(blob)


def test_daemon_outliving_the_run_is_killed(run):
    code = """
import ctypes, os, time
def f(x):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(15, b'rubricdaemon', 0, 0, 0)  # PR_SET_NAME
            time.sleep(60)
        os._exit(0)
    time.sleep(0.2)
    return 1
"""
    result = run(code, [call()])
    assert result.results[0].outcome == "ok" and result.duration_ms < 5000
    deadline = time.monotonic() + 2
    while daemons() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemons() == []


def daemons() -> list[str]:
    """Return the host pids whose name is the daemon's."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if comm.read().strip() == "rubricdaemon":
                    found.append(pid)
        except OSError:
            pass
    return found


def test_killing_the_parent(run, sandbox):
    code = (
        "import os, signal\ndef f(x):\n    hits = 0\n"
        "    for pid in (os.getppid(), 1, -1, 0):\n        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n            hits += 1\n"
        "        except OSError:\n            pass\n    return hits\n"
    )
    result = run(code, [call(), call()])
    assert result.results[0].outcome in ("ok", "runtime_error")
    assert sandbox._process.poll() is None


def test_one_sandbox_cannot_touch_another(sandbox):
    victim_code = "import time\ndef f(x):\n    time.sleep(1.0)\n    return x + 1\n"
    attacker = (
        "import os, signal\ndef f(x):\n    for pid in (0, -1, 1):\n        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n"
        "    try:\n        os.setpriority(os.PRIO_USER, os.getuid(), 19)\n"
        "    except OSError:\n        pass\n    return 1\n"
    )
    victims = []
    thread = threading.Thread(
        target=lambda: victims.append(sandbox.run(victim_code, [call()], Limits()))
    )
    thread.start()
    time.sleep(0.2)
    for _ in range(3):
        sandbox.run(attacker, [call()], FAST)
    thread.join()
    assert victims[0].results[0].outcome == "ok"
    np.testing.assert_array_equal(victims[0].results[0].value, X + 1)


def test_execve_of_a_shell(run):
    code = "import os\ndef f(x):\n    os.execv('/bin/sh', ['sh', '-c', 'echo pwned'])\n"
    result = run(code, [call()])
    assert result.results[0].outcome == "runtime_error"
    assert "PermissionError" in result.results[0].error and "pwned" not in result.stdout


def test_huge_frame_claim_does_not_exhaust_the_parent(run):
    code = (
        "import os, struct\ndef f(x):\n    os.write(3, struct.pack('<4sI', b'RSLT', 2**31))\n"
        "    return 1\n"
    )
    result = run(code, [call(), call()])
    assert [r.outcome for r in result.results] == ["invalid_output", "not_run"]


def test_results_cannot_be_claimed_out_of_order(run):
    code = (
        f"import os\nFAKE = {forged_result(1, 42.0)!r}\n"
        "def f(x):\n    os.write(3, FAKE)\n    return 1.0\n"
    )
    result = run(code, [call(), call()])
    assert [r.outcome for r in result.results] == ["invalid_output", "not_run"]
    assert all(r.value is None for r in result.results)


def test_run_does_not_raise_on_garbage(sandbox):
    code = "import os\nos.write(3, os.urandom(5000))\n"
    result = sandbox.run(code, [Call("f", (X,))], FAST)
    assert result.load_outcome == "crashed"


# Attacks on the grade itself: real gradings of the L2 exercise through the real sandbox.
# On a hidden test a student may learn the outcome, the function, the fixed message of
# that outcome and a known mistake's hint: nothing their code computed from the inputs.
L2 = Path(__file__).resolve().parents[2] / "exercises" / "l2-regularization"


@pytest.fixture(scope="module")
def l2():
    """The bundled L2 exercise, loaded once."""
    return load_exercise(L2)


def redefine(source: str, name: str, body: str, prelude: str = "") -> str:
    """Append to source a prelude and a new definition of one L2 function (the last one wins)."""
    params = {"l2_penalty": "w, lam", "l2_gradient": "data_grad, w, lam"}
    signature = params.get(name, "w, data_grad, lr, lam")
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return f"{source}\n{prelude}\ndef {name}({signature}):\n{indented}\n"


def hidden_failures(result, function: str) -> list:
    """The failed hidden tests of one function."""
    tests = next(p for p in result.parts if p.name == function).tests
    return [t for t in tests if not t.visible and t.outcome is not Outcome.PASSED]


def assert_fixed_feedback(result, function: str) -> None:
    """Every failed hidden test of the function says its outcome's fixed message, no more."""
    failed = hidden_failures(result, function)
    assert failed
    for test in failed:
        assert test.feedback == HIDDEN_FEEDBACK[test.outcome], test.feedback


def test_output_shape_does_not_carry_hidden_inputs_back(l2):
    body = "return np.empty((0, int(w.flat[0] * 1e9) + 2**39, int(lam * 1e6) + 1))"
    result = grade_submission(l2, redefine(l2.reference_source, "l2_penalty", body))
    assert_fixed_feedback(result, "l2_penalty")
    for case in l2.tests_for("l2_penalty"):
        if not case.visible and case.args[0].size:
            encoded = str(int(case.args[0].flat[0] * 1e9) + 2**39)
            assert all(encoded not in t.feedback for t in result.parts[0].tests)


def test_line_number_does_not_carry_hidden_inputs_back(l2):
    lines = '"\\n" * (int(lam * 1000) % 5000 + 7)'
    body = f'exec(compile({lines} + "raise ValueError", "submission.py", "exec"))'
    result = grade_submission(l2, redefine(l2.reference_source, "l2_penalty", body))
    assert_fixed_feedback(result, "l2_penalty")
    assert all("line" not in t.feedback for t in hidden_failures(result, "l2_penalty"))


def test_exception_type_does_not_carry_a_bit_back(l2):
    body = "raise (ValueError if np.sum(w) > 0 else TypeError)('x')"
    result = grade_submission(l2, redefine(l2.reference_source, "l2_penalty", body))
    assert_fixed_feedback(result, "l2_penalty")


def test_which_argument_changed_does_not_carry_a_bit_back(l2):
    body = """
target = w if np.sum(w) > 0 else data_grad
target[...] = 0
return w * (1 - 2 * lr * lam) - lr * data_grad
"""
    result = grade_submission(l2, redefine(l2.reference_source, "weight_decay_step", body))
    assert_fixed_feedback(result, "weight_decay_step")


def test_nan_positions_do_not_carry_hidden_inputs_back(l2):
    body = """
out = 2 * lam * w + data_grad
out.flat[: int(lam * 10) % max(out.size, 1)] = np.nan
return out
"""
    result = grade_submission(l2, redefine(l2.reference_source, "l2_gradient", body))
    assert_fixed_feedback(result, "l2_gradient")


# l2_penalty counts the hidden test whose w has 10 elements (no visible test's has);
# another function then shows the count where feedback is shown in full.
COUNTER = "_seen = [0]\n_penalty = l2_penalty\n"
COUNTING = "_seen[0] += np.size(w) == 10\nreturn _penalty(w, lam)"


def test_a_visible_test_cannot_show_what_a_hidden_test_was_called_with(l2):
    code = redefine(l2.reference_source, "l2_penalty", COUNTING, COUNTER)
    code = redefine(code, "l2_gradient", "return np.full(np.shape(w), 1000.0 + _seen[0])")
    visible = [t for t in grade_submission(l2, code).parts[1].tests if t.visible]
    assert visible and all("got [1000., " in t.feedback for t in visible), visible


def test_the_demo_cannot_draw_what_a_hidden_test_was_called_with(l2):
    code = redefine(l2.reference_source, "l2_penalty", COUNTING, COUNTER)
    step = "return np.full(np.shape(w), 1000.0 + _seen[0])"
    code = redefine(code, "weight_decay_step", step)
    demo = grade_with_demo(l2, code)["demo"]
    assert demo["student_error"] == ""
    assert {point for walk in demo["student"] for point in walk[1:]} == {1000.0}


def test_the_grading_time_shown_is_coarse(l2):
    body = "import time\ntime.sleep(0.003 * (int(lam * 1000) % 7))\nreturn _penalty(w, lam)"
    code = redefine(l2.reference_source, "l2_penalty", body, "_penalty = l2_penalty\n")
    shown = grade_submission(l2, code).to_dict()["duration_ms"]
    assert shown > 0 and shown % DURATION_STEP_MS == 0


def test_functions_that_all_hang_share_one_budget(l2):
    exercise = replace(l2, limits=replace(l2.limits, wall_seconds=1.0))
    code = "import time\n" + "".join(
        f"def {f.name}(*args):\n    time.sleep(1000)\n" for f in exercise.functions
    )
    budget = Budget.of(sandbox_limits(exercise))
    result, _ = grade_with_extras(exercise, code, budget=budget)
    assert {t.outcome for p in result.parts for t in p.tests} == {Outcome.TIMEOUT}
    wall = exercise.limits.wall_seconds
    given = [limits.wall_seconds for limits, _ in budget.runs]
    assert len(given) == 2 and sum(given) <= BUDGET_WALL_LIMITS * wall
    # The sandbox's own clock: about two wall limits, where a run per function took three.
    assert sum(run.duration_ms for _, run in budget.runs) < 2.5 * wall * 1000
    assert grade_submission(exercise, code).duration_ms < 2.5 * wall * 1000
