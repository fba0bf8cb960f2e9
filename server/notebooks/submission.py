"""Notebooks handed in for a notebook exercise: checked, stripped, stored, graded, released.

A notebook submission is stored like a code submission (Submission.code), as the JSON
text of its notebooks by file name, outputs stripped: {"notebooks": {"NAME.ipynb": {...}}}.
What the student may download comes from the stored version's release/ folder only.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

import nbformat
import nbformat.v4
import orjson
import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, Exercise
from server.notebooks import nbgrader
from server.notebooks.exercise import NotebookExercise, NotebookSpec
from server.notebooks.grade import grade_notebooks
from server.notebooks.sync import bundle_files

# A request's body (the web form's files, or the API's JSON): more is refused with 413
# before it is read, whatever the notebooks' outputs hold.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# One notebook once its outputs are stripped (pasted images stay, as cell attachments).
MAX_NOTEBOOK_BYTES = 2 * 1024 * 1024
STORED_PREFIX = '{"notebooks": '
SUFFIX = ".ipynb"
CONVERT = "jupyter nbconvert --to notebook --nbformat 4"


class NotebookRefused(ValueError):
    """Handed-in notebooks we will not store: an HTTP status, a stable code and why."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Checked:
    """Notebooks ready to store, and the assignment's notebooks that were not handed in."""

    notebooks: dict[str, nbformat.NotebookNode]  # by file name, outputs stripped
    missing: tuple[str, ...]

    def stored(self) -> str:
        """The text stored as the submission (canonical: the same notebooks, the same text)."""
        return json.dumps({"notebooks": self.notebooks}, sort_keys=True)

    @property
    def warning(self) -> str:
        """What to tell the student about notebooks they did not hand in (nbgrader scores 0)."""
        if not self.missing:
            return ""
        names = ", ".join(self.missing)
        return f"not handed in: {names}; its graded cells score 0 unless you submit again"


# Whether a stored version is a notebook exercise, by (id, content hash): versions never
# change, and the answer is asked for on every submission and page of an exercise.
_kinds: dict[tuple[int, str], bool] = {}
_kinds_lock = threading.Lock()


def is_notebook_version(row: Exercise) -> bool:
    """True when a stored exercise version is a notebook exercise."""
    key = (row.id, row.content_hash)
    if key not in _kinds:
        kind = db.session.scalar(
            sa.select(Exercise.public["kind"].as_string()).where(Exercise.id == row.id)
        )
        with _kinds_lock:
            _kinds[key] = kind == "notebook"
    return _kinds[key]


def notebook_version(assignment: Assignment) -> Exercise | None:
    """The newest version of the assignment's exercise if it is a notebook exercise, else None."""
    from server.submissions.exercises import current_exercise

    if assignment.kind != "exercise":
        return None
    try:
        row = current_exercise(assignment)
    except LookupError:
        return None
    return row if is_notebook_version(row) else None


def notebook_detail(row: Exercise) -> dict:
    """What the API shows of a notebook exercise: its version, points and graded cells."""
    public = row.public
    return {"version": row.version, "max_score": row.max_score, "notebooks": public["notebooks"]}


def check_notebooks(exercise: NotebookExercise, files: Mapping[str, object]) -> Checked:
    """Check handed-in notebooks ({file name: bytes, text or parsed JSON}) against the exercise.

    Refuses (NotebookRefused) what cannot be graded as this assignment's: no notebook, a
    name it does not have, not JSON, not a notebook, nbformat 3, cells of another
    assignment, too large once its outputs are stripped.
    """
    if not files:
        raise NotebookRefused(422, "no_notebooks", "no notebook was handed in")
    specs = {f"{spec.name}{SUFFIX}": spec for spec in exercise.notebooks}
    notebooks = {}
    for name, content in files.items():
        spec = specs.get(name)
        if spec is None:
            raise NotebookRefused(422, "unknown_notebook", _unknown(name, specs))
        notebooks[name] = _capped(name, _matching(name, _notebook(name, content), spec))
    missing = tuple(name for name in specs if name not in notebooks)
    return Checked(dict(sorted(notebooks.items())), missing)


def _unknown(name: str, specs: Mapping[str, NotebookSpec]) -> str:
    theirs = ", ".join(specs)
    if not name.endswith(SUFFIX):
        return f"{name!r} is not a notebook (.ipynb); this assignment's notebooks: {theirs}"
    return f"{name!r} is not a notebook of this assignment; its notebooks: {theirs}"


def _notebook(name: str, content: object) -> nbformat.NotebookNode:
    """Parse one notebook as nbformat 4 and validate it with nbformat."""
    data = _json(name, content)
    cells = data.get("cells", data.get("worksheets")) if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise NotebookRefused(422, "not_a_notebook", f"{name} is JSON but not a Jupyter notebook")
    version = data.get("nbformat")
    if not isinstance(version, int) or isinstance(version, bool):
        raise NotebookRefused(422, "not_a_notebook", f"{name} does not say its nbformat version")
    if version < 4:
        raise NotebookRefused(
            422,
            "old_nbformat",
            f"{name} is an nbformat {version} notebook; Rubric reads nbformat 4:"
            f" convert it with `{CONVERT} {name}` and hand in the converted file",
        )
    if version > 4:
        raise NotebookRefused(422, "not_a_notebook", f"{name}: nbformat {version} is not known")
    if not isinstance(data.get("cells"), list):
        raise NotebookRefused(422, "not_a_notebook", f"{name} is nbformat 4 but has no cells")
    _strip_outputs(data)  # first: validating megabytes of outputs would take seconds
    try:
        nbformat.validate(nbformat.from_dict(data))  # before anything reads its cells
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        detail = f"{where}: {exc.message}" if where else exc.message
        raise NotebookRefused(
            422, "invalid_notebook", f"{name} is not a valid notebook ({detail[:300]})"
        ) from None
    return nbformat.v4.to_notebook(data)  # as nbformat.reads gives it: sources joined


def _json(name: str, content: object) -> object:
    """JSON from bytes or text (orjson: lone surrogates and 1,024-deep nesting are errors)."""
    if not isinstance(content, (bytes, str)):
        return content  # parsed already (the API's body)
    if isinstance(content, bytes) and content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]  # a byte-order mark, as some editors write
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise NotebookRefused(422, "not_json", f"{name} is not JSON ({exc})") from None


def _matching(name: str, notebook: nbformat.NotebookNode, spec: NotebookSpec):
    """Refuse a notebook whose nbgrader cells are another assignment's (or not there at all)."""
    ours = {nbgrader.meta(c).get("grade_id") for c in spec.graded.cells} - {None}
    theirs = {nbgrader.meta(c).get("grade_id") for c in notebook.cells} - {None}
    foreign = sorted(theirs - ours)
    if foreign:
        raise NotebookRefused(
            422,
            "wrong_assignment",
            f"{name} holds cells of another assignment (grade_id {foreign[0]!r} is not in"
            f" this one's {name}); answer in the notebook downloaded from this assignment",
        )
    if ours and not theirs & ours:
        raise NotebookRefused(
            422,
            "wrong_assignment",
            f"{name} holds none of this assignment's graded cells (their nbgrader metadata is"
            " gone); answer in the notebook downloaded from this assignment",
        )
    return notebook


def _strip_outputs(data: dict) -> None:
    """Drop every code cell's outputs: never graded (the cells run again), often megabytes."""
    for cell in data["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None


def _capped(name: str, notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Refuse a notebook that is still too large without its outputs."""
    size = len(json.dumps(notebook))
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookRefused(
            413,
            "notebook_too_large",
            f"{name} is {size / 2**20:.1f} MB even without its outputs (at most"
            f" {MAX_NOTEBOOK_BYTES / 2**20:g} MB): remove large pasted images or data from it",
        )
    return notebook


def uploaded_files(uploads: Iterable[tuple[str, bytes]]) -> dict[str, bytes]:
    """The notebooks of a web upload by file name: .ipynb files, and those inside .zip files."""
    found: dict[str, bytes] = {}
    for filename, data in uploads:
        name = PurePosixPath(filename.replace("\\", "/")).name
        zipped = name.lower().endswith(".zip")
        entries = _zip_entries(name, data) if zipped else [(name, data)]
        for entry, content in entries:
            if entry in found:
                raise NotebookRefused(422, "duplicate_notebook", f"{entry} was handed in twice")
            found[entry] = content
    return found


def _zip_entries(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """The .ipynb files in a zip, at any depth (a zipped folder), checkpoints left out."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir() and _wanted(i.filename)]
        # Sizes from the archive's directory, checked before inflating (a zip bomb).
        if sum(i.file_size for i in infos) > MAX_UPLOAD_BYTES:
            raise NotebookRefused(
                413, "upload_too_large", f"{name} holds more than {MAX_UPLOAD_BYTES >> 20} MB"
            )
        entries = [(PurePosixPath(i.filename).name, archive.read(i)) for i in infos]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError) as exc:
        raise NotebookRefused(422, "invalid_zip", f"{name} is not a readable zip ({exc})") from None
    if not entries:
        raise NotebookRefused(422, "no_notebooks", f"{name} holds no .ipynb notebook")
    return entries


def _wanted(path: str) -> bool:
    parts = PurePosixPath(path).parts
    hidden = any(p.startswith(".") or p == "__MACOSX" for p in parts)
    return path.endswith(SUFFIX) and not hidden


def stored_notebooks(code: str) -> dict[str, nbformat.NotebookNode]:
    """A stored notebook submission's notebooks by file name."""
    data = json.loads(code)["notebooks"]
    return {name: nbformat.from_dict(notebook) for name, notebook in data.items()}


def is_stored_notebooks(code: str) -> bool:
    """True when a submission's stored text is notebooks (Checked.stored), not Python."""
    return code.startswith(STORED_PREFIX)


def grade_stored(exercise: NotebookExercise, code: str) -> dict:
    """Grade a stored notebook submission; the result in SPEC's format."""
    notebooks = {
        name.removesuffix(SUFFIX): notebook for name, notebook in stored_notebooks(code).items()
    }
    return grade_notebooks(exercise, notebooks).to_dict()


def release_files(bundle: dict[str, str]) -> dict[str, bytes]:
    """What students may download of a stored version: its release/ folder, nothing else."""
    return {
        name.removeprefix("release/"): data
        for name, data in sorted(bundle_files(bundle).items())
        if name.startswith("release/")
    }


def release_zip(bundle: dict[str, str], slug: str) -> bytes:
    """The release as a zip of one folder named after the assignment, as nbgrader hands it out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in release_files(bundle).items():
            archive.writestr(f"{slug}/{name}", data)
    return buffer.getvalue()
