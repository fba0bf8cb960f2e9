"""Fixtures for the grading engine: the bundled L2 exercise and copies of it."""

import shutil
from pathlib import Path

import pytest
from grading_support import L2_DIR

from server.grading.exercise import load_exercise


@pytest.fixture(scope="session")
def l2():
    """The bundled L2 exercise, loaded once."""
    return load_exercise(L2_DIR)


@pytest.fixture(scope="session")
def reference_source(l2):
    """The reference solution's source, used as a correct submission."""
    return l2.reference_source


@pytest.fixture
def exercise_copy(tmp_path):
    """Copy an exercise folder into tmp_path (keeping its name) and return the copy's path."""

    def copy(source: Path = L2_DIR) -> Path:
        target = tmp_path / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        return target

    return copy
