"""A notebook exercise folder: exercise.toml (kind = "notebook"), source/ and release/.

source/ is the instructor's nbgrader source assignment as it was imported (solutions,
hidden tests; instructor-only); release/ is the student version and the files that come
with it. What is graded how comes from source/, never from a submission.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import nbformat
from pydantic import Field, ValidationError

from server.content.models import SLUG, NonEmptyText, Number, Strict
from server.notebooks import nbgrader
from server.notebooks.nbgrader import NbgraderError

TEST, MANUAL, TASK = "test", "manual", "task"
# The assignment's other files are written into each sandbox (a 16 MB /tmp) before the
# cells run, as nbgrader autograde copies them beside the notebooks.
MAX_FILES_BYTES = 8 * 1024 * 1024


class NotebookError(ValueError):
    """A notebook exercise folder (or a notebook in it) is invalid; the message says where."""


class NotebookLimits(Strict):
    """[limits]: resources of the sandbox run of one notebook."""

    # 30 s per cell, as nbgrader's Execute.timeout, so what nbgrader graded still fits.
    cell_seconds: Number = Field(30.0, gt=0, le=300, description="Wall seconds per cell.")
    wall_seconds: Number = Field(120.0, gt=0, le=600, description="Wall seconds per notebook.")
    memory_mb: Annotated[int, Field(strict=True)] = Field(512, gt=0, le=4096)
    output_bytes: Annotated[int, Field(strict=True)] = Field(
        64_000, gt=0, le=10_000_000, description="Characters of output kept per cell."
    )


class GradedCellFile(Strict):
    """[[notebooks.cells]]: one graded cell, as nbgrader marks it in the source."""

    grade_id: NonEmptyText
    kind: Literal["test", "manual", "task"]
    points: Number = Field(ge=0)


class NotebookFile(Strict):
    """[[notebooks]]: one notebook of the assignment."""

    name: NonEmptyText = Field(description="File name without .ipynb.")
    points: Number = Field(ge=0)
    cells: list[GradedCellFile] = Field(default_factory=list)


class NotebookExerciseFile(Strict):
    """exercise.toml of a notebook exercise."""

    kind: Literal["notebook"]
    slug: Annotated[str, Field(strict=True, pattern=SLUG)]
    title: NonEmptyText
    points: Number = Field(ge=0, description="Every graded cell's points, automatic or not.")
    limits: NotebookLimits = Field(default_factory=NotebookLimits)
    notebooks: list[NotebookFile] = Field(min_length=1)


@dataclass(frozen=True)
class GradedCell:
    """One graded cell: how it is scored, and for a test, the instructor's code."""

    grade_id: str
    kind: str  # TEST (auto), MANUAL (a person, 0 when left as released), TASK (a person)
    points: float
    cell_type: str
    checksum: str  # of the released cell: an answer equal to it is "no response"
    source: str  # the graded version's source (a test's code, hidden tests included)
    hidden: bool  # the test has hidden parts: its messages are not shown
    solution: bool  # nbgrader's solution flag (part of the checksum)


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook: its graded cells in order and the graded version of its cells."""

    name: str
    graded: nbformat.NotebookNode
    cells: tuple[GradedCell, ...]

    @property
    def points(self) -> float:
        return math.fsum(c.points for c in self.cells)

    def cell(self, grade_id: str) -> GradedCell | None:
        return next((c for c in self.cells if c.grade_id == grade_id), None)


@dataclass(frozen=True)
class NotebookExercise:
    """A loaded notebook exercise."""

    slug: str
    title: str
    root: Path
    limits: NotebookLimits
    notebooks: tuple[NotebookSpec, ...]
    files: tuple[tuple[str, bytes], ...] = ()  # (path in the folder, content), from source/

    @property
    def points(self) -> float:
        return math.fsum(n.points for n in self.notebooks)


def is_notebook_exercise(folder: Path) -> bool:
    """True when folder's exercise.toml says kind = "notebook"."""
    try:
        data = tomllib.loads((Path(folder) / "exercise.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return data.get("kind") == "notebook"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read an .ipynb as nbformat 4, or raise NotebookError saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"{path}: cannot read: {exc}") from None
    return parse_notebook(text, path)


def parse_notebook(text: str, where: Path | str) -> nbformat.NotebookNode:
    """Parse an .ipynb's text as nbformat 4, or raise NotebookError naming `where`."""
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises JSON, validation and version errors alike
        raise NotebookError(f"{where}: not a notebook: {type(exc).__name__}: {exc}") from None


def spec_of(name: str, source: nbformat.NotebookNode) -> NotebookSpec:
    """Derive a notebook's graded cells from its nbgrader source."""
    language = source.metadata.get("kernelspec", {}).get("language", "python")
    if language != "python":  # nbgrader's language default; the sandbox runs Python only
        raise NotebookError(f"{name}.ipynb: a {language} notebook; only Python is graded")
    try:
        student, graded = nbgrader.release(source)
    except NbgraderError as exc:
        raise NotebookError(f"{name}.ipynb: {exc}") from None
    released = {nbgrader.meta(c).get("grade_id"): c for c in student.cells}
    cells, seen = [], set()
    for cell in graded.cells:
        grade_id = nbgrader.meta(cell).get("grade_id")
        if not (nbgrader.is_grade(cell) or nbgrader.is_task(cell)):
            continue
        if not grade_id or grade_id in seen:
            raise NotebookError(f"{name}.ipynb: a graded cell without a unique grade_id")
        seen.add(grade_id)
        cells.append(_graded_cell(cell, released[grade_id]))
    return NotebookSpec(name, graded, tuple(cells))


def _graded_cell(cell: nbformat.NotebookNode, released: nbformat.NotebookNode) -> GradedCell:
    if nbgrader.is_task(cell):
        kind = TASK
    elif nbgrader.is_solution(cell) or cell.cell_type != "code":
        kind = MANUAL
    else:
        kind = TEST
    return GradedCell(
        grade_id=nbgrader.meta(cell)["grade_id"],
        kind=kind,
        points=nbgrader.points(cell),
        cell_type=cell.cell_type,
        checksum=nbgrader.meta(released)["checksum"],
        source=cell.source,
        hidden=cell.source != released.source and kind == TEST,
        solution=nbgrader.is_solution(cell),
    )


def load_notebook_exercise(folder: str | Path) -> NotebookExercise:
    """Load and check a notebook exercise folder."""
    folder = Path(folder)
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if not _ignored(name):
            files[name] = path.read_bytes()
    return load_notebook_files(files, folder)


def load_notebook_files(files: Mapping[str, bytes], root: Path) -> NotebookExercise:
    """Load and check a notebook exercise from its files ({path in the folder: content}).

    root names the folder in messages; a stored version is loaded this way from its
    bundle, by any process, without writing it out.
    """
    config = _read_config(root / "exercise.toml", files.get("exercise.toml"))
    specs = []
    for entry in config.notebooks:
        name = f"source/{entry.name}.ipynb"
        if name not in files:
            raise NotebookError(f"{root / name}: cannot read: no such file")
        spec = spec_of(entry.name, parse_notebook(_text(root / name, files[name]), root / name))
        _check_listed(root, entry, spec)
        specs.append(spec)
    exercise = NotebookExercise(
        config.slug, config.title, root, config.limits, tuple(specs), _files(root, files)
    )
    if not math.isclose(exercise.points, config.points):
        raise NotebookError(
            f"{root}/exercise.toml: points is {config.points:g}"
            f" but the graded cells add up to {exercise.points:g}"
        )
    return exercise


def _ignored(name: str) -> bool:
    """Jupyter's and Python's droppings are not part of an exercise."""
    return any(part.startswith(".") or part == "__pycache__" for part in name.split("/"))


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path}: cannot read: {exc}") from None


def _files(root: Path, files: Mapping[str, bytes]) -> tuple[tuple[str, bytes], ...]:
    """The source folder's files other than notebooks (nbgrader's master versions)."""
    found = tuple(
        (name.removeprefix("source/"), data)
        for name, data in sorted(files.items())
        if name.startswith("source/") and not name.endswith(".ipynb") and not _ignored(name)
    )
    if sum(len(data) for _, data in found) > MAX_FILES_BYTES:
        raise NotebookError(f"{root / 'source'}: the files beside the notebooks exceed 8 MB")
    return found


def _read_config(path: Path, data: bytes | None) -> NotebookExerciseFile:
    if data is None:
        raise NotebookError(f"{path}: cannot read: no such file")
    try:
        return NotebookExerciseFile.model_validate(tomllib.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotebookError(f"{path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise NotebookError(f"{path}: {where}: {first['msg']}") from None


def _check_listed(folder: Path, entry: NotebookFile, spec: NotebookSpec) -> None:
    """exercise.toml's list of graded cells must say what the source says."""
    listed = [(c.grade_id, c.kind, c.points) for c in entry.cells]
    actual = [(c.grade_id, c.kind, c.points) for c in spec.cells]
    if listed != actual or not math.isclose(entry.points, spec.points):
        raise NotebookError(
            f"{folder}/exercise.toml: notebook {entry.name!r} lists other graded cells or"
            f" points than source/{entry.name}.ipynb has; import it again"
        )
