"""nbgrader's example published in the demo course, and its submissions as the API takes them."""

from __future__ import annotations

import json
from pathlib import Path

from server.notebooks.exercise import load_notebook_exercise
from server.notebooks.grade import grade_notebooks, read_submission
from tests.notebooks.support import EXAMPLE

SUBMITTED = EXAMPLE / "submitted"
STUDENTS = {"hacker": "student@example.edu", "bitdiddle": "student2@example.edu"}
COURSE = "/api/v1/courses/demo"
SUBMIT = f"{COURSE}/assignments/ps1/submissions"


def handed_in(student: str) -> dict[str, dict]:
    """A student's submitted notebooks as the API's {"NAME.ipynb": notebook JSON}."""
    folder = SUBMITTED / student / "ps1"
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.ipynb"))}


def cli_scores(folder: Path, student: str) -> dict[str, dict[str, float | None]]:
    """What `rubric grade EXERCISE submitted/STUDENT/ps1` gives each graded cell."""
    exercise = load_notebook_exercise(folder)
    result = grade_notebooks(exercise, read_submission(SUBMITTED / student / "ps1")).to_dict()
    return cell_scores(result)


def cell_scores(result: dict) -> dict[str, dict[str, float | None]]:
    """{notebook: {grade_id: score}} of a result in SPEC's format."""
    return {p["name"]: {t["name"]: t["score"] for t in p["tests"]} for p in result["parts"]}
