"""Grading notebooks in the real sandbox: what runs where, and how each cell is scored."""

from __future__ import annotations

import nbformat
import numpy as np
from nbformat.v4 import new_code_cell

from server.notebooks.grade import grade_notebooks
from tests.notebooks.support import (
    answer,
    autotest,
    cell_with,
    imported,
    released,
    scores,
    solution,
    submit,
)

HALF = {
    "hw": [
        solution(
            "half", "def half(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION"
        ),
        autotest("test_half", "assert abs(half(1) - 0.5) < 1e-9"),
        autotest("test_more", "assert half(4) == 2", points=2),
    ]
}


def answered(exercise, name: str, **sources: str) -> nbformat.NotebookNode:
    """The release of notebook name with the given cells' sources replaced."""
    nb = released(exercise, name)
    for grade_id, source in sources.items():
        cell_with(nb, grade_id).source = source
    return nb


def test_the_release_scores_zero_and_a_right_answer_full_points(tmp_path):
    exercise = imported(tmp_path, HALF)
    blank = grade_notebooks(exercise, submit(tmp_path, {"hw": released(exercise, "hw")}))
    assert scores(blank) == {"hw": {"test_half": 0, "test_more": 0}}
    nb = answered(exercise, "hw", half="def half(x):\n    return x / 2")
    right = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    assert scores(right) == {"hw": {"test_half": 1, "test_more": 2}}
    assert right.to_dict()["score"] == 3


def test_edited_or_deleted_test_cells_run_the_source_test(tmp_path):
    exercise = imported(tmp_path, HALF)
    nb = answered(exercise, "hw", half="def half(x):\n    return 0.5", test_half="pass")
    nb.cells = [c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] != "test_more"]
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    assert scores(result) == {"hw": {"test_half": 1, "test_more": 0}}
    more = result.parts[0].cells[1]
    assert more.outcome == "wrong_answer" and "AssertionError" in more.feedback


def test_test_cells_run_where_the_student_moved_them(tmp_path):
    exercise = imported(tmp_path, {"hw": [HALF["hw"][1], HALF["hw"][0]]})
    nb = answered(exercise, "hw", half="def half(x):\n    return x / 2")
    nb.cells.reverse()  # the test after the answer, as the student reordered them
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    assert scores(result) == {"hw": {"test_half": 1}}


def test_patched_builtins_are_restored_before_each_test(tmp_path):
    exercise = imported(tmp_path, HALF)
    cheat = "import builtins\nbuiltins.abs = lambda value: 0\ndef half(x):\n    return 7"
    result = grade_notebooks(
        exercise, submit(tmp_path, {"hw": answered(exercise, "hw", half=cheat)})
    )
    assert scores(result)["hw"]["test_half"] == 0


def test_patched_modules_are_restored_before_each_test(tmp_path):
    cells = [
        HALF["hw"][0],
        autotest("t_math", "import math\nassert math.isclose(half(3), 1.5)"),
        autotest("t_numpy", "import numpy as np\nassert np.allclose(half(3), 1.5)"),
        autotest("t_swapped", "import math\nassert math.fabs(half(3) - 1.5) < 1e-9"),
    ]
    exercise = imported(tmp_path, {"hw": cells})
    cheat = (
        "import builtins, math, operator, sys, types\nimport numpy as np\n"
        "builtins.all = lambda values: True\noperator.is_ = lambda a, b: True\n"
        "math.isclose = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
        "sys.modules['math'] = types.SimpleNamespace(fabs=lambda v: 0)\n"
        "def half(x):\n    return 7"
    )
    nb = answered(exercise, "hw", half=cheat)
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    assert scores(result) == {"hw": {"t_math": 0, "t_numpy": 0, "t_swapped": 0}}
    right = answered(exercise, "hw", half="import numpy\ndef half(x):\n    return x / 2")
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": right}))
    assert scores(result) == {"hw": {"t_math": 1, "t_numpy": 1, "t_swapped": 1}}


def test_a_hanging_or_crashing_cell_does_not_stop_the_next(tmp_path):
    exercise = imported(tmp_path, HALF, cell_seconds=0.3)
    nb = answered(exercise, "hw", half="def half(x):\n    return x / 2")
    nb.cells.insert(1, new_code_cell("while True:\n    pass"))
    nb.cells.insert(3, new_code_cell("import os\nos._exit(3)"))
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    assert scores(result) == {"hw": {"test_half": 1, "test_more": 2}}


def test_a_test_that_hangs_scores_zero_as_a_timeout(tmp_path):
    exercise = imported(tmp_path, HALF, cell_seconds=0.3)
    nb = answered(exercise, "hw", half="def half(x):\n    while True:\n        pass")
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    assert [c.outcome for c in result.parts[0].cells] == ["timeout", "timeout"]
    assert scores(result) == {"hw": {"test_half": 0, "test_more": 0}}


def test_ipython_syntax_does_not_stop_a_notebook(tmp_path):
    exercise = imported(tmp_path, HALF)
    nb = answered(exercise, "hw", half="%matplotlib inline\ndef half(x):\n    return x / 2")
    nb.cells.insert(0, new_code_cell("!ls -l\nfiles = !ls\nhalf?\n%time y = 1"))
    nb.cells.insert(1, new_code_cell("%%time\nz = y + 1"))
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    assert scores(result) == {"hw": {"test_half": 1, "test_more": 2}}


def test_partial_credit_and_stderr_as_nbgrader_scores_them(tmp_path):
    exercise = imported(
        tmp_path,
        {
            "hw": [
                solution("ans", "x = 3"),
                autotest("partial", "x / 12", points=1),
                autotest("not_a_number", "'x'", points=1),
                autotest("too_much", "5.0", points=1),
                autotest("noisy", "import sys\nprint('careful', file=sys.stderr)", points=1),
            ]
        },
    )
    result = grade_notebooks(
        exercise, submit(tmp_path, {"hw": answered(exercise, "hw", ans="x = 3")})
    )
    assert scores(result) == {"hw": {"partial": 0.25, "not_a_number": 1, "too_much": 0, "noisy": 0}}


def test_hidden_tests_run_but_only_the_error_type_is_shown(tmp_path):
    hidden = (
        "assert half(2) == 1\n### BEGIN HIDDEN TESTS\n"
        "assert half(9) == 4.5, 'secret 9'\n### END HIDDEN TESTS"
    )
    exercise = imported(tmp_path, {"hw": [HALF["hw"][0], autotest("hid", hidden)]})
    assert "secret" not in cell_with(released(exercise, "hw"), "hid").source
    nb = answered(exercise, "hw", half="def half(x):\n    return x // 2")
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    (cell,) = result.parts[0].cells
    assert cell.score == 0 and cell.feedback == "AssertionError"
    assert cell.to_dict()["visible"] is False


def test_written_answers_wait_for_a_person_unless_left_blank(tmp_path):
    exercise = imported(tmp_path, {"hw": [answer("essay", 2), solution("code", "x = 1", 3)]})
    blank = grade_notebooks(exercise, submit(tmp_path, {"hw": released(exercise, "hw")}))
    assert [(c.outcome, c.score) for c in blank.parts[0].cells] == [("missing", 0), ("missing", 0)]
    nb = answered(exercise, "hw", essay="Because.", code="x = 2")
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb})).to_dict()
    tests = result["parts"][0]["tests"]
    assert [(t["outcome"], t["score"]) for t in tests] == [("needs_manual_grading", None)] * 2
    assert result["score"] == 0 and result["max_score"] == 5


def test_output_is_captured_and_capped(tmp_path):
    exercise = imported(
        tmp_path, {"hw": [autotest("loud", "print('x' * 100000)")]}, output_bytes=50
    )
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": released(exercise, "hw")}))
    (cell,) = result.parts[0].cells
    assert cell.score == 1 and cell.feedback == "x" * 50


def test_a_missing_or_broken_notebook_scores_zero_saying_why(tmp_path):
    exercise = imported(tmp_path, {"a": HALF["hw"][:2], "b": [autotest("t", "pass")]})
    broken = tmp_path / "b.ipynb"
    broken.write_text("{not json")
    result = grade_notebooks(exercise, {"b": broken})
    assert [(c.outcome, c.score) for p in result.parts for c in p.cells] == [("missing", 0)] * 2
    assert "a.ipynb was not submitted" in result.parts[0].cells[0].feedback
    assert "b.ipynb: not a notebook" in result.parts[1].cells[0].feedback


def test_the_assignments_files_are_beside_the_notebook(tmp_path):
    source = tmp_path / "source" / "hw"
    (source / "data").mkdir(parents=True)
    np.save(source / "data" / "x.npy", np.arange(4.0))
    cells = [
        solution(
            "mean", "def mean():\n    ### BEGIN SOLUTION\n    return 1.5\n    ### END SOLUTION"
        ),
        autotest("reads", "import numpy as np\nassert mean() == np.load('data/x.npy').mean()"),
    ]
    exercise = imported(tmp_path, {"hw": cells})
    nb = answered(
        exercise,
        "hw",
        mean="import numpy as np\ndef mean():\n    return np.load('data/x.npy').mean()",
    )
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    assert scores(result) == {"hw": {"reads": 1}}


def test_a_cell_that_dodges_its_time_limit_costs_the_notebooks_budget_once(tmp_path):
    exercise = imported(tmp_path, HALF, cell_seconds=0.2, wall_seconds=1.5)
    nb = answered(exercise, "hw", half="def half(x):\n    return x / 2")
    dodge = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"
    nb.cells.insert(1, new_code_cell(dodge))
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    # With a fresh wall_seconds per replay, the tests would run after the dodging cell.
    assert scores(result) == {"hw": {"test_half": 0, "test_more": 0}}
    assert "sandbox time was used up" in result.parts[0].cells[0].feedback
