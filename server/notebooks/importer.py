"""`rubric nbgrader import`: an nbgrader source assignment folder into a notebook exercise."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from server.notebooks import nbgrader
from server.notebooks.exercise import NotebookError, NotebookSpec, read_notebook, spec_of

# Left behind by Jupyter and Python; nbgrader's default ignore list has the same.
IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store")


def slug_of(name: str) -> str:
    """A Rubric slug from an nbgrader assignment name (lowercase, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise NotebookError(f"cannot make a slug of {name!r}; give --slug")
    return slug


def import_assignment(source_dir: Path, into: Path, slug: str | None = None) -> Path:
    """Write the exercise folder into/SLUG from an nbgrader source folder; return it."""
    source_dir = Path(source_dir)
    notebooks = sorted(source_dir.glob("*.ipynb"))
    if not notebooks:
        raise NotebookError(f"{source_dir}: no .ipynb notebooks here")
    slug = slug or slug_of(source_dir.resolve().name)
    specs = [(path, spec_of(path.stem, read_notebook(path))) for path in notebooks]
    target = Path(into) / slug
    if target.exists():
        shutil.rmtree(target)
    for copy in (target / "source", target / "release"):
        _copy_writable(source_dir, copy)
    for path, _ in specs:
        student, _ = nbgrader.release(read_notebook(path))
        nbformat.write(student, target / "release" / path.name)
    (target / "exercise.toml").write_text(
        config_text(slug, source_dir.resolve().name, [s for _, s in specs]), encoding="utf-8"
    )
    return target


def _copy_writable(source: Path, target: Path) -> None:
    """Copy a folder's files, not their modes: a read-only source gives a writable copy."""
    shutil.copytree(source, target, ignore=IGNORED, copy_function=shutil.copyfile)
    for folder in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)


def config_text(slug: str, title: str, specs: list[NotebookSpec]) -> str:
    """exercise.toml for the imported notebooks, graded cells listed for readers."""
    total = sum(s.points for s in specs)
    lines = [
        'kind = "notebook"',
        f'slug = "{slug}"',
        f"title = {_quoted(title)}",
        f"points = {total:g}",
        "",
        "# Per notebook: each cell's wall clock (nbgrader's default), and the whole run's.",
        "[limits]",
        "cell_seconds = 30.0",
        "wall_seconds = 120.0",
        "memory_mb = 512",
        "output_bytes = 64000",
    ]
    for spec in specs:
        lines += ["", "[[notebooks]]", f"name = {_quoted(spec.name)}", f"points = {spec.points:g}"]
        for cell in spec.cells:
            lines += [
                "[[notebooks.cells]]",
                f"grade_id = {_quoted(cell.grade_id)}",
                f'kind = "{cell.kind}"',
                f"points = {cell.points:g}",
            ]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    """A TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
