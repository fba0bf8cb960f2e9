"""`content check` of a notebook exercise: the source's solutions score full marks, and
the release, graded as submitted blank, scores 0 on every answer a person would grade."""

from __future__ import annotations

from pathlib import Path

from server.notebooks.exercise import MANUAL, TEST, NotebookError, load_notebook_exercise
from server.notebooks.grade import grade_notebooks
from server.notebooks.result import MISSING, PASSED


def check_notebook_exercise(folder: Path) -> list[str]:
    """Return one line per problem of a notebook exercise folder."""
    try:
        exercise = load_notebook_exercise(folder)
        solved = grade_notebooks(exercise, _notebooks(folder / "source", exercise))
        blank = grade_notebooks(exercise, _notebooks(folder / "release", exercise))
    except NotebookError as exc:
        return [str(exc)]
    problems = []
    for part in solved.parts:
        for cell in part.cells:
            if cell.cell.kind == TEST and cell.outcome != PASSED:
                problems.append(
                    f"{folder}: source/{part.name}.ipynb: test {cell.cell.grade_id} does not"
                    f" give the solution full points ({cell.outcome}: {cell.feedback[:200]})"
                )
    for part in blank.parts:
        for cell in part.cells:
            if cell.cell.kind == MANUAL and cell.outcome != MISSING:
                problems.append(
                    f"{folder}: release/{part.name}.ipynb: the released answer"
                    f" {cell.cell.grade_id} is not seen as blank; import it again"
                )
    return problems


def _notebooks(folder: Path, exercise) -> dict[str, Path]:
    return {n.name: folder / f"{n.name}.ipynb" for n in exercise.notebooks}
