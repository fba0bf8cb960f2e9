"""nbgrader's cell metadata, checksums and release transformation, on nbformat notebooks.

Written here rather than imported: nbgrader as a library pulls in Jupyter server,
JupyterLab and its own database layer, and the parts needed are a few short functions.
Each mirrors the nbgrader 0.9 function it names (nbgrader/utils.py and the
preprocessors of `generate_assignment`); tests/notebooks checks the checksums and the
release against what nbgrader itself writes.
"""

from __future__ import annotations

import copy
import hashlib
import re

from nbformat import NotebookNode

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
MARK_SCHEME = ("BEGIN MARK SCHEME", "END MARK SCHEME")


class NbgraderError(ValueError):
    """A notebook's nbgrader markup is broken (e.g. a solution region never ends)."""


def meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata ({} for an ordinary cell)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_grade(cell: NotebookNode) -> bool:
    """nbgrader's utils.is_grade: the cell carries points."""
    return bool(meta(cell).get("grade", False))


def is_solution(cell: NotebookNode) -> bool:
    """nbgrader's utils.is_solution: the student writes in this cell."""
    return bool(meta(cell).get("solution", False))


def is_task(cell: NotebookNode) -> bool:
    """nbgrader's utils.is_task: a task graded by a person across cells."""
    return bool(meta(cell).get("task", False))


def is_locked(cell: NotebookNode) -> bool:
    """nbgrader's utils.is_locked: the source is overwritten from the source when grading."""
    if not meta(cell) or is_solution(cell):
        return False
    return True if is_grade(cell) else bool(meta(cell).get("locked", False))


def points(cell: NotebookNode) -> float:
    """The cell's points as nbgrader reads them."""
    return float(meta(cell).get("points", 0))


def checksum(cell: NotebookNode) -> str:
    """nbgrader's utils.compute_checksum: MD5 of source, type, flags, id and points."""
    digest = hashlib.md5(usedforsecurity=False)
    for part in (cell.source, cell.cell_type, str(is_grade(cell)), str(is_solution(cell))):
        digest.update(part.encode("utf-8"))
    digest.update(str(is_locked(cell)).encode("utf-8"))
    digest.update(meta(cell)["grade_id"].encode("utf-8"))
    if is_grade(cell):
        digest.update(str(points(cell)).encode("utf-8"))
    return digest.hexdigest()


def _cut_regions(source: str, delimiters: tuple[str, str], stub: list[str] | None) -> str | None:
    """Remove (or replace by stub, indented) each delimited region; None when there is none."""
    begin, end = delimiters
    lines, inside, found = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise NbgraderError(f"nested {begin!r} regions")
            inside = found = True
            indent = re.match(r"\s*", line).group(0)
            lines += [indent + s for s in stub or []]
        elif end in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise NbgraderError(f"{begin!r} without {end!r}")
    return "\n".join(lines) if found else None


def clear_solution(cell: NotebookNode) -> None:
    """nbgrader's ClearSolutions on one cell: stub the solution regions, or the whole cell."""
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    cleared = _cut_regions(cell.source, SOLUTION, stub.split("\n"))
    if cleared is not None and not is_solution(cell):
        raise NbgraderError(f"a solution region outside a solution cell: {cell.source[:60]!r}")
    if cleared is not None:
        cell.source = cleared
    elif is_solution(cell):
        cell.source = stub


def clear_regions(cell: NotebookNode, delimiters: tuple[str, str], allowed: bool) -> None:
    """nbgrader's ClearHiddenTests / ClearMarkScheme on one cell."""
    cleared = _cut_regions(cell.source, delimiters, None)
    if cleared is not None and not allowed:
        raise NbgraderError(f"a {delimiters[0]!r} region in a cell that may not hold one")
    if cleared is not None:
        cell.source = cleared


def lock(cell: NotebookNode) -> None:
    """nbgrader's LockCells with its defaults."""
    if is_solution(cell):
        cell.metadata["deletable"] = False
    elif is_grade(cell) or is_locked(cell):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def clear_output(cell: NotebookNode) -> None:
    """nbconvert's ClearOutputPreprocessor on one cell."""
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
        for key in ("collapsed", "scrolled"):
            cell.metadata.pop(key, None)


def stamp(cell: NotebookNode) -> None:
    """nbgrader's ComputeChecksums on one cell."""
    if is_grade(cell) or is_solution(cell) or is_locked(cell):
        cell.metadata.nbgrader["checksum"] = checksum(cell)
        cell.metadata.nbgrader["cell_type"] = cell.cell_type


def release(source: NotebookNode) -> tuple[NotebookNode, NotebookNode]:
    """Return (student version, graded version) of a source notebook.

    The graded version is what nbgrader's SaveCells stores: solutions stubbed, hidden
    tests still in. Autograding overwrites locked cells with it.
    """
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        lock(cell)
        clear_solution(cell)
        clear_output(cell)
        if meta(cell):
            stamp(cell)
    graded = copy.deepcopy(nb)
    for cell in nb.cells:
        clear_regions(cell, HIDDEN_TESTS, is_grade(cell))
        clear_regions(cell, MARK_SCHEME, is_task(cell) or is_grade(cell))
        if meta(cell):
            stamp(cell)
    nb.metadata.pop("celltoolbar", None)
    return nb, graded
