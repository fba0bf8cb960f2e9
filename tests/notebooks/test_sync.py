"""`content sync` stores a notebook exercise as a version, every file kept."""

from __future__ import annotations

import base64

from server.content.sync import latest_exercise, sync_exercises
from server.notebooks.importer import import_assignment
from tests.notebooks.support import EXAMPLE


def test_sync_stores_a_notebook_exercise_once_with_its_files(app, tmp_path):
    folder = import_assignment(EXAMPLE / "source" / "ps1", tmp_path / "exercises")
    assert sync_exercises(tmp_path).created == ["ps1 v1"]
    stored = latest_exercise("ps1")
    assert stored.max_score == 13
    assert stored.public["kind"] == "notebook"
    assert [n["name"] for n in stored.public["notebooks"]] == ["problem1", "problem2"]
    png = (folder / "release" / "jupyter.png").read_bytes()
    assert base64.b64decode(stored.bundle["release/jupyter.png.base64"]) == png
    assert "### BEGIN SOLUTION" in stored.bundle["source/problem1.ipynb"]
    again = sync_exercises(tmp_path)
    assert again.created == [] and again.unchanged == ["ps1"]


def test_sync_refuses_a_broken_notebook_exercise(app, tmp_path):
    folder = import_assignment(EXAMPLE / "source" / "ps1", tmp_path / "exercises")
    (folder / "source" / "problem2.ipynb").write_text("{not json")
    report = sync_exercises(tmp_path)
    assert report.created == []
    assert "problem2.ipynb: not a notebook" in report.refused[0]
