"""Fixtures of the notebook tests: nbgrader's example published in the demo course."""

import pytest

from server.content.sync import sync_exercises
from server.courses.assignments import publish
from server.extensions import db
from server.notebooks.importer import import_assignment
from tests.notebooks.support import EXAMPLE


@pytest.fixture
def ps1(demo, tmp_path):
    """nbgrader's example ps1: imported, synced as `content sync` does, published in `demo`."""
    folder = import_assignment(EXAMPLE / "source" / "ps1", tmp_path / "content" / "exercises")
    assert sync_exercises(tmp_path / "content").created == ["ps1 v1"]
    publish(demo, "ps1", None)
    db.session.commit()
    return folder
