"""The sandbox's contract with the grader: outcomes, values, errors, stdout."""

import threading
from pathlib import Path

import numpy as np
import pytest

from server.sandbox import Call, Limits, Sandbox, SandboxUnavailable
from tests.sandbox.conftest import FAST, X, call


def test_values_and_arguments_come_back_as_arrays(run):
    result = run(
        "import numpy as np\ndef f(w, lam):\n    return lam * np.sum(w ** 2)\n",
        [Call("f", (np.array([1.0, 2.0], dtype=np.float32), np.array(0.5)))],
    )
    assert result.load_outcome == "ok"
    (got,) = result.results
    assert got.outcome == "ok" and got.value.shape == () and float(got.value) == 2.5
    np.testing.assert_array_equal(got.args_after[0], [1.0, 2.0])
    assert got.args_after[0].dtype == np.float32


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int64, np.float16, np.float64])
def test_every_numeric_dtype_round_trips(run, dtype):
    data = np.arange(6).reshape(2, 3).astype(dtype)
    result = run("def f(x):\n    return x.T\n", [Call("f", (data,))])
    np.testing.assert_array_equal(result.results[0].value, data.T)
    assert result.results[0].value.dtype == data.dtype


def test_empty_and_zero_d_arrays(run):
    result = run(
        "def f(x, y):\n    return x.sum() + y\n", [Call("f", (np.zeros((0, 3)), np.array(1.5)))]
    )
    assert float(result.results[0].value) == 1.5


def test_mutation_shows_in_args_after(run):
    result = run("def f(x):\n    x[0] = 99\n    return x\n", [call()])
    assert result.results[0].args_after[0][0] == 99


def test_runtime_error_names_exception_and_line(run):
    result = run("def f(x):\n    y = 1\n    return y / 0\n", [call(), call()])
    assert [r.outcome for r in result.results] == ["runtime_error", "runtime_error"]
    assert result.results[0].error == "ZeroDivisionError: division by zero (line 3)"


def test_syntax_error_names_line_and_column(run):
    result = run("def f(x):\n    return (x +\n", [call()])
    assert result.load_outcome == "syntax_error"
    assert "line 2" in result.load_error and "column" in result.load_error
    assert [r.outcome for r in result.results] == ["not_run"]


def test_exception_at_import_is_a_load_runtime_error(run):
    result = run("import numpy\nraise ValueError('no')\n", [call()])
    assert result.load_outcome == "runtime_error"
    assert result.load_error == "ValueError: no (line 2)"


def test_missing_function(run):
    result = run("def g(x):\n    return x\nh = 3\n", [call("f"), call("h")])
    assert [r.outcome for r in result.results] == ["missing", "missing"]


@pytest.mark.parametrize(
    "value",
    [
        "None",
        "'text'",
        "1 + 2j",
        "[1, [2, 3]]",
        "object()",
        "np.array(['a'])",
        "np.zeros(2, dtype=complex)",
        "np.array([1, None])",
        "lambda: 1",
    ],
)
def test_non_numeric_return_is_invalid_output(run, value):
    result = run(f"import numpy as np\ndef f(x):\n    return {value}\n", [call()])
    assert result.results[0].outcome == "invalid_output"
    assert result.results[0].value is None


def test_python_numbers_and_lists_are_numeric(run):
    code = "def f(x):\n    return [[1, 2], [3, 4.5]]\ndef g(x):\n    return True\n"
    result = run(code, [call("f"), call("g")])
    np.testing.assert_array_equal(result.results[0].value, [[1, 2], [3, 4.5]])
    assert result.results[1].value.dtype == np.bool_


def test_stdout_and_stderr_are_captured_and_capped(run):
    code = (
        "import sys\ndef f(x):\n    print('out')\n    print('err', file=sys.stderr)\n"
        "    print('z' * 100_000)\n    return 1\n"
    )
    result = run(code, [call()])
    assert result.results[0].outcome == "ok"
    assert result.stdout.startswith("out\nerr\nzzz")
    assert len(result.stdout) == FAST.output_bytes


def test_memory_error_is_memory_limit(run):
    code = "import numpy as np\ndef f(x):\n    return np.ones(10 ** 11)\n"
    assert run(code, [call()]).results[0].outcome == "memory_limit"


def test_calls_after_a_dead_process_are_not_run(run):
    code = "import os\ndef f(x):\n    return 1\ndef die(x):\n    os._exit(0)\n"
    result = run(code, [call("f"), call("die"), call("f")])
    assert [r.outcome for r in result.results] == ["ok", "runtime_error", "not_run"]
    assert "exit code 0" in result.results[1].error


def test_many_threads_share_one_sandbox(sandbox):
    errors = []

    def worker(n: int) -> None:
        for i in range(8):
            result = sandbox.run(f"def f(x):\n    return x + {n * 100 + i}\n", [call()], FAST)
            if float(result.results[0].value[0]) != n * 100 + i:
                errors.append((n, i, result))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_unknown_layer_name_is_refused(monkeypatch):
    monkeypatch.setenv("RUBRIC_UNSAFE_SANDBOX_SKIP_LAYERS", "seccomp,bogus")
    with pytest.raises(ValueError, match="bogus"):
        Sandbox()


def test_missing_layer_refuses_to_run_and_names_it(monkeypatch, caplog):
    # No cgroup, and seccomp (which would stand in for the pids cgroup) turned off: the
    # sandbox refuses, naming the layer and what the host needs.
    monkeypatch.setenv("RUBRIC_SANDBOX_CGROUP_ROOT", "/nonexistent-cgroup-root")
    box = Sandbox(skip_layers=frozenset({"seccomp"}))
    try:
        with pytest.raises(SandboxUnavailable, match="cgroup.*Delegate=yes"):
            box.start()
        with pytest.raises(SandboxUnavailable, match="cgroup"):
            box.run("raise SystemExit('student code must not run')", [], FAST)
        assert box.isolation.startswith("refused")
        assert any(r.levelname == "ERROR" and "refused" in r.message for r in caplog.records)
    finally:
        box.close()


def test_opt_out_is_loud(monkeypatch, caplog):
    monkeypatch.setenv("RUBRIC_SANDBOX_CGROUP_ROOT", "/nonexistent-cgroup-root")
    monkeypatch.setenv("RUBRIC_UNSAFE_SANDBOX_SKIP_LAYERS", "cgroup")
    box = Sandbox()
    try:
        box.start()
        assert "UNSAFE" in caplog.text and "cgroup" in caplog.text
        assert box.run("def f(x):\n    return x\n", [call()], FAST).results[0].outcome == "ok"
    finally:
        box.close()


def test_wall_limit_is_per_run(run):
    limits = Limits(wall_seconds=0.5, cpu_seconds=5)
    result = run(
        "import time\ndef f(x):\n    time.sleep(0.3)\n    return 1\n",
        [call(), call(), call()],
        limits,
    )
    assert [r.outcome for r in result.results] == ["ok", "timeout", "not_run"]
    assert 400 < result.duration_ms < 2000


def test_first_call_sees_fresh_arrays_each_time(run):
    code = "def f(x):\n    x += 1\n    return x\n"
    result = run(code, [call(), call()])
    np.testing.assert_array_equal(result.results[1].value, X + 1)


def test_zygote_never_imported_the_service(sandbox):
    code = (
        "import sys\ndef f(x):\n    names = {m.split('.')[0] for m in sys.modules}\n"
        "    print(sorted(names & {'server', 'flask', 'sqlalchemy', 'exercises', 'tests', "
        "'grading', 'reference', 'werkzeug', 'celery'}))\n    return 1\n"
    )
    result = sandbox.run(code, [call()], FAST)
    assert result.stdout == "[]\n"


def test_zygote_loads_only_the_sandbox_side_of_the_package(sandbox):
    # Not the client (the trusted side), nor logging or subprocess, whose at-fork hooks
    # every child would run.
    code = (
        "import sys\ndef f(x):\n    print(sorted(m for m in sys.modules if m in "
        "('rubric_sandbox.client', 'logging', 'subprocess')))\n    return 1\n"
    )
    assert sandbox.run(code, [call()], FAST).stdout == "[]\n"


def test_each_process_gets_its_own_zygote(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(
        "import numpy as np, os\n"
        "from server.sandbox import Call, Limits, get_sandbox\n"
        "for i in range(5):\n"
        "    r = get_sandbox().run('def f(x):\\n    return x + %d\\n' % os.getpid(), "
        "[Call('f', (np.zeros(1),))], Limits())\n"
        "    assert float(r.results[0].value[0]) == os.getpid(), r\n"
        "print('ok', get_sandbox()._process.pid)\n"
    )
    import subprocess
    import sys

    workers = [
        subprocess.Popen(
            [sys.executable, str(script)],
            stdout=subprocess.PIPE,
            cwd=str(Path(__file__).resolve().parents[2]),
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [w.communicate(timeout=60)[0].split() for w in workers]
    assert [o[0] for o in outputs] == ["ok"] * 3
    assert len({o[1] for o in outputs}) == 3  # three zygotes, one per process


def test_a_harness_module_runs_after_the_submission_and_can_call_it(sandbox):
    harness = "import submission\n\ndef twice(x):\n    return submission.f(submission.f(x))\n"
    calls = [Call("f", (np.array(2.0),)), Call("harness.twice", (np.array(2.0),))]
    result = sandbox.run("def f(x):\n    return x + 1\n", calls, FAST, harness)
    assert [float(r.value) for r in result.results] == [3.0, 4.0]


def test_a_broken_harness_costs_only_its_own_calls(sandbox):
    calls = [Call("f", (np.array(2.0),)), Call("harness.twice", (np.array(2.0),))]
    result = sandbox.run("def f(x):\n    return x + 1\n", calls, FAST, "def twice(:\n")
    assert result.load_outcome == "ok"
    assert [r.outcome for r in result.results] == ["ok", "missing"]


def test_a_harness_does_not_hide_a_syntax_error_of_the_submission(sandbox):
    harness = "def twice(x):\n    return x\n"
    result = sandbox.run("x = (1 +\n", [Call("harness.twice", (X,))], FAST, harness)
    assert result.load_outcome == "syntax_error" and "line 1" in result.load_error


def test_read_only_inputs_are_encoded_once_and_writable_ones_every_time():
    from server.sandbox.client import encode_call

    frozen = np.arange(4.0)
    frozen.flags.writeable = False
    args = (frozen,)
    assert encode_call(Call("f", args)) is encode_call(Call("f", args))
    assert encode_call(Call("g", args)) is not encode_call(Call("f", args))  # its own frame
    frozen.flags.writeable = True  # an array that owns its data can be made writable again
    assert encode_call(Call("f", args)) is not encode_call(Call("f", args))
    writable = np.arange(4.0)
    before = encode_call(Call("f", (writable,)))
    writable[0] = 99.0
    assert encode_call(Call("f", (writable,))) != before
    view = np.arange(4.0)[:2]  # read-only, but its base could still change it
    view.flags.writeable = False
    assert view.base is not None
    assert encode_call(Call("f", (view,))) is not encode_call(Call("f", (view,)))
