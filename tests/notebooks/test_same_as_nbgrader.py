"""Rubric's scores equal `nbgrader autograde`'s, computed here by nbgrader 0.9.6 itself.

nbgrader runs in its own environment (tests/notebooks/nbgrader_env.py, made once under
.venv), on the example assignment of ../shared/nbgrader-example: both students'
submissions, and the release submitted blank.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.notebooks.exercise import load_notebook_exercise
from server.notebooks.grade import grade_notebooks, read_submission
from server.notebooks.importer import import_assignment
from tests.conftest import unavailable
from tests.notebooks.nbgrader_env import EXAMPLE, NbgraderMissing, autograde
from tests.notebooks.support import scores

STUDENTS = ["bitdiddle", "hacker"]


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
