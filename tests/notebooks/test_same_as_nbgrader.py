"""Rubric's scores equal `nbgrader autograde`'s, computed here by nbgrader 0.9.6 itself.

nbgrader runs in its own environment (tests/notebooks/nbgrader_env.py, made once under
.venv), on the example assignment of ../shared/nbgrader-example: both students'
submissions, and the release submitted blank.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from server.notebooks.exercise import load_notebook_exercise
from server.notebooks.grade import grade_notebooks, read_submission
from server.notebooks.importer import import_assignment
from tests.conftest import unavailable
from tests.notebooks.nbgrader_env import EXAMPLE, STUDENTS, NbgraderMissing, autograde
from tests.notebooks.support import (
    answer,
    autotest,
    cell_with,
    released,
    scores,
    solution,
    write_assignment,
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(Rubric's exercise, the submissions folder, nbgrader's answer) for the example."""
    root = tmp_path_factory.mktemp("nbgrader")
    exercise = load_notebook_exercise(import_assignment(EXAMPLE / "source" / "ps1", root))
    submitted = root / "submitted"
    for student in STUDENTS:
        shutil.copytree(EXAMPLE / "submitted" / student, submitted / student)
    shutil.copytree(exercise.root / "release", submitted / "blank" / "ps1")
    try:
        answer = autograde(
            EXAMPLE / "source" / "ps1", submitted, root / "course", [*STUDENTS, "blank"]
        )
    except NbgraderMissing as exc:
        unavailable(f"nbgrader could not be installed: {exc}")
    return exercise, submitted, answer


@pytest.mark.parametrize("student", [*STUDENTS, "blank"])
def test_every_auto_score_equals_nbgrader_autograde(graded, student):
    exercise, submitted, answer = graded
    result = grade_notebooks(exercise, read_submission(submitted / student / "ps1"))
    assert scores(result) == answer["scores"][student]


def test_the_release_is_what_nbgrader_generate_assignment_writes(graded):
    exercise, _, answer = graded
    theirs = Path(answer["release"])
    ours = exercise.root / "release"
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    for path in ours.iterdir():
        assert path.read_bytes() == (theirs / path.name).read_bytes(), path.name


# nbgrader's scoring rules, one cell each: partial credit, a value that is not a
# number, ';' hiding the value, stderr, an error, a hidden test, written answers.
EDGE = [
    solution("x", "### BEGIN SOLUTION\nx = 3\n### END SOLUTION"),
    autotest("partial", "x / 12"),
    autotest("quarter_of_two", "x / 6", points=2),
    autotest("words", "'x is ' + str(x)"),
    autotest("hidden_value", "x / 12;"),
    autotest("stderr", "import sys\nprint('careful', file=sys.stderr)"),
    autotest("raises", "assert x == 4"),
    autotest("hidden", "assert x > 0\n### BEGIN HIDDEN TESTS\nassert x == 2\n### END HIDDEN TESTS"),
    answer("essay_left"),
    answer("essay_written"),
]


@pytest.fixture(scope="module")
def edge_cases(tmp_path_factory):
    """Rubric's and nbgrader's scores of one answered edge-case notebook."""
    root = tmp_path_factory.mktemp("edge")
    source = write_assignment(root / "source" / "edge", {"rules": EDGE})
    exercise = load_notebook_exercise(import_assignment(source, root / "exercises"))
    nb = released(exercise, "rules")
    cell_with(nb, "x").source = "x = 3"
    cell_with(nb, "essay_written").source = "Because."
    folder = root / "submitted" / "someone" / "edge"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "rules.ipynb")
    try:
        answer = autograde(source, root / "submitted", root / "course", ["someone"])
    except NbgraderMissing as exc:
        unavailable(f"nbgrader could not be installed: {exc}")
    ours = scores(grade_notebooks(exercise, read_submission(folder)))
    return ours, answer["scores"]["someone"]


def test_scoring_rules_equal_nbgrader_cell_by_cell(edge_cases):
    ours, theirs = edge_cases
    assert ours == theirs
    # and the rules were really exercised: not all full, not all zero
    assert set(ours["rules"].values()) >= {0, 0.25, None}
