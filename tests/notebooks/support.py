"""Small nbgrader assignments written with nbformat, for the notebook tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from server.notebooks.exercise import load_notebook_exercise
from server.notebooks.importer import import_assignment

# The copy of nbgrader's example kept with the tests: these tests know its cells and
# points (the comparison with nbgrader itself runs on nbgrader_env.EXAMPLE).
EXAMPLE = Path(__file__).with_name("nbgrader-example")


def solution(grade_id: str, source: str, points: float | None = None) -> nbformat.NotebookNode:
    """A code cell the student writes in (graded by a person when it has points)."""
    flags = {"grade": points is not None, "solution": True, "locked": False}
    return _marked(new_code_cell(source), grade_id, flags, points)


def autotest(grade_id: str, source: str, points: float = 1) -> nbformat.NotebookNode:
    """An autograder test cell."""
    flags = {"grade": True, "solution": False, "locked": True}
    return _marked(new_code_cell(source), grade_id, flags, points)


def answer(grade_id: str, points: float = 1) -> nbformat.NotebookNode:
    """A written answer graded by a person."""
    flags = {"grade": True, "solution": True, "locked": False}
    return _marked(new_markdown_cell("The answer."), grade_id, flags, points)


def _marked(cell, grade_id, flags, points):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, **flags}
    if points is not None:
        cell.metadata["nbgrader"]["points"] = points
    return cell


def write_assignment(folder: Path, notebooks: dict[str, list]) -> Path:
    """Write an nbgrader source folder with the given notebooks' cells."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, cells in notebooks.items():
        nbformat.write(new_notebook(cells=cells), folder / f"{name}.ipynb")
    return folder


def imported(tmp_path: Path, notebooks: dict[str, list], **limits):
    """Import a made-up assignment into tmp_path/exercises; return the loaded exercise."""
    source = write_assignment(tmp_path / "source" / "hw", notebooks)
    target = import_assignment(source, tmp_path / "exercises")
    if limits:
        toml = target / "exercise.toml"
        text = toml.read_text()
        for key, value in limits.items():
            text = "\n".join(
                f"{key} = {value}" if line.startswith(f"{key} =") else line
                for line in text.splitlines()
            )
        toml.write_text(text + "\n")
    return load_notebook_exercise(target)


def released(exercise, name: str) -> nbformat.NotebookNode:
    """The student version of one notebook, as a student would start from it."""
    return nbformat.read(exercise.root / "release" / f"{name}.ipynb", as_version=4)


def cell_with(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """The cell of nb with this grade_id."""
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def scores(result) -> dict[str, dict[str, float | None]]:
    """{notebook: {grade_id: score}} of a NotebookResult."""
    return {p.name: {c.cell.grade_id: c.score for c in p.cells} for p in result.parts}


def submit(tmp_path: Path, notebooks: dict[str, nbformat.NotebookNode]) -> dict[str, Path]:
    """Write a submission folder; return it as grade_notebooks takes it."""
    folder = tmp_path / "submitted"
    folder.mkdir(exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    return {name: folder / f"{name}.ipynb" for name in notebooks}
