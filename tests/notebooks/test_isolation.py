"""Each test cell runs in a fork of the notebook's state, with its checks made again on the
trusted side: attack notebooks, each graded for real in the sandbox."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell

from server.notebooks import grade as grade_module
from server.notebooks.grade import grade_notebooks
from server.sandbox import get_sandbox
from tests.notebooks.support import (
    autotest,
    cell_with,
    imported,
    released,
    solution,
    submit,
)
from tests.sandbox import test_no_cgroup

HALF = solution(
    "half", "def half(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION"
)
RIGHT = "def half(x):\n    return x / 2"


def grade(tmp_path, tests, answer, *, before=(), **limits):
    """Grade a notebook of HALF and the given test cells, half answered as given."""
    exercise = imported(tmp_path, {"hw": [HALF, *tests]}, **limits)
    nb = released(exercise, "hw")
    cell_with(nb, "half").source = answer
    for position, source in before:
        nb.cells.insert(position, new_code_cell(source))
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    return {c.cell.grade_id: c for c in result.parts[0].cells}


def forks_here() -> bool:
    """Whether this host's sandbox lets a test cell have a process of its own."""
    return "substitute" not in get_sandbox().isolation


def test_each_test_cell_has_a_process_of_its_own(tmp_path):
    pid = "import os\nprint(os.getpid())"
    cells = grade(tmp_path, [autotest("a", pid), autotest("b", pid)], RIGHT)
    pids = {name: int(cell.feedback) for name, cell in cells.items()}
    # Without a pids cgroup the sandbox refuses fork: the tests run in the notebook's process.
    assert (pids["a"] != pids["b"]) is forks_here()


def test_a_lying_eq_does_not_pass_an_expected_value_check(tmp_path):
    liar = (
        "class Liar(list):\n    def __eq__(self, other):\n        return True\n"
        "class Other:\n    __eq__ = lambda self, other: True\n"
        "def half(x):\n    return Liar() if x == 4 else [Other()]"
    )
    tests = [autotest("eq", "assert half(4) == 2"), autotest("nested", "assert half(2) == [1]")]
    cells = grade(tmp_path, tests, liar)
    assert {n: (c.outcome, c.score) for n, c in cells.items()} == {
        "eq": ("wrong_answer", 0),
        "nested": ("wrong_answer", 0),
    }
    assert "plain data" in cells["eq"].feedback


def test_a_patched_harness_that_reports_nothing_fails_the_check(tmp_path):
    # The notebook rewrites the harness's reporting function in place (restoring the
    # module's dictionary does not undo that): it answers 2 and sends no value, and the
    # trusted side, missing the value it expects, fails the test.
    cheat = (
        "import sys\nharness = sys.modules['rubric_sandbox.notebook']\n"
        "harness.observe.__code__ = (lambda number, value: 2).__code__\n"
        "def half(x):\n    return 7"
    )
    cells = grade(tmp_path, [autotest("eq", "assert half(4) == 2")], cheat)
    assert (cells["eq"].outcome, cells["eq"].score) == ("runtime_error", 0)
    assert "did not all report" in cells["eq"].feedback


def test_a_patched_assertion_error_does_not_pass(tmp_path):
    cheat = (
        "import builtins\nclass Quiet(Exception):\n    pass\n"
        "builtins.AssertionError = Quiet\nAssertionError = Quiet\n"
        "def half(x):\n    return 7"
    )
    test = "try:\n    half(-1)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no')"
    cells = grade(tmp_path, [autotest("raises", test)], cheat)
    assert cells["raises"].score == 0 and cells["raises"].outcome in {
        "wrong_answer",
        "runtime_error",
    }


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        (
            "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
            "import numpy as np\nnp.isclose = lambda *a, **k: True\n"
            "def half(x):\n    return 7",
            0,
        ),
        (RIGHT, 1),
    ],
)
def test_patched_numpy_testing_does_not_pass(tmp_path, answer, score):
    tests = [
        autotest("testing", "import numpy as np\nnp.testing.assert_allclose(half(3), 1.5)"),
        autotest("isclose", "import numpy as np\nassert np.isclose(half(3), [1.5])"),
        autotest("close", "assert abs(half(1) - 0.5) < 1e-9"),
    ]
    cells = grade(tmp_path, tests, answer)
    assert {n: c.score for n, c in cells.items()} == dict.fromkeys(cells, score)


def test_a_test_leaves_no_state_for_the_next_one(tmp_path):
    recursive = "def half(x):\n    return x / 2 if x < 2 else half(x - 2) + 1"
    tests = [
        autotest("lowers_the_limit", "import sys\nsys.setrecursionlimit(40)\nassert half(4) == 2"),
        autotest("deep", "assert half(100) == 50"),
    ]
    cells = grade(tmp_path, tests, recursive)
    # In the notebook's own process (no fork without a pids cgroup) the limit would stay.
    deep = 1 if forks_here() else 0
    assert {n: c.score for n, c in cells.items()} == {"lowers_the_limit": 1, "deep": deep}


def test_what_a_test_defines_for_later_cells_is_kept(tmp_path):
    tests = [
        autotest("helper", "def twice(v):\n    return 2 * v\nassert twice(half(2)) == 2"),
        autotest("uses_it", "assert twice(half(8)) == 8"),
    ]
    cells = grade(tmp_path, tests, RIGHT)
    assert {n: c.score for n, c in cells.items()} == {"helper": 1, "uses_it": 1}


def test_a_test_that_ends_its_process_costs_only_itself(tmp_path):
    tests = [
        autotest("exits", "import os\nos._exit(3)"),
        autotest("crashes", "import ctypes\nctypes.string_at(0)"),
        autotest("after", "assert half(4) == 2"),
    ]
    cells = grade(tmp_path, tests, RIGHT)
    assert {n: c.score for n, c in cells.items()} == {"exits": 0, "crashes": 0, "after": 1}
    if forks_here():
        assert "exit status 3" in cells["exits"].feedback
        assert "SIGSEGV" in cells["crashes"].feedback


def test_a_test_the_students_code_makes_hang_costs_only_itself(tmp_path):
    looping = "def half(x):\n    while x == 0:\n        pass\n    return x / 2"
    dodge = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nhalf(0)"
    tests = [
        autotest("hangs", "half(0)"),
        autotest("dodges", dodge),
        autotest("after", "assert half(4) == 2"),
    ]
    cells = grade(tmp_path, tests, looping, cell_seconds=0.3, wall_seconds=20)
    outcomes = {n: (c.outcome, c.score) for n, c in cells.items()}
    assert outcomes["hangs"] == ("timeout", 0)
    assert outcomes["after"] == ("passed", 1)
    if forks_here():  # its process is killed: the notebook goes on
        assert outcomes["dodges"] == ("timeout", 0)


def test_a_value_the_notebook_misreports_fails_on_the_trusted_side_saying_which(tmp_path):
    # The notebook rewrites the harness so that the test compares 2 while the value sent
    # up is the real one (7): the test passes in the sandbox, the check made again fails.
    cheat = (
        "import sys\nharness = sys.modules['rubric_sandbox.notebook']\n"
        "harness.from_data.__code__ = (lambda data, depth=0: 2).__code__\n"
        "def half(x):\n    return 7"
    )
    test = "x = 1\nassert half(4) == 2, 'half of 4'"
    cells = grade(tmp_path, [autotest("eq", test)], cheat)
    assert (cells["eq"].outcome, cells["eq"].score) == ("wrong_answer", 0)
    assert cells["eq"].feedback == "AssertionError: assert half(4) == 2, 'half of 4' fails (line 2)"


# A sandbox on a host that delegates no cgroup: seccomp refuses every fork there.
bare = test_no_cgroup.bare


def test_without_a_pids_cgroup_tests_run_in_the_notebooks_process(tmp_path, bare, monkeypatch):
    assert "substitute" in bare.isolation
    monkeypatch.setattr(grade_module, "get_sandbox", lambda: bare)
    pid = "import os\nprint(os.getpid())"
    liar = "class Liar:\n    __eq__ = lambda self, other: True\ndef half(x):\n    return Liar()"
    tests = [autotest("a", pid), autotest("b", pid), autotest("eq", "assert half(4) == 2")]
    cells = grade(tmp_path, tests, liar)
    assert cells["a"].feedback == cells["b"].feedback  # one process: no fork
    assert (cells["eq"].outcome, cells["eq"].score) == ("wrong_answer", 0)  # checked all the same
