"""`rubric nbgrader import` and the notebook path of `rubric grade`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from server.notebooks.exercise import NotebookError, load_notebook_exercise


@click.group()
def nbgrader() -> None:
    """Bring nbgrader assignments (docs/notebooks.md)."""


@nbgrader.command("import")
@click.argument("source_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--into", type=click.Path(path_type=Path, file_okay=False), default=Path("exercises"))
@click.option("--slug", default=None, help="The exercise's slug (default: the folder's name).")
def import_command(source_dir: Path, into: Path, slug: str | None) -> None:
    """Turn an nbgrader source assignment folder into a notebook exercise (INTO/SLUG)."""
    from server.notebooks.importer import import_assignment

    try:
        target = import_assignment(source_dir, into, slug)
        exercise = load_notebook_exercise(target)
    except NotebookError as exc:
        _fail(str(exc), 2)
    cells = sum(len(n.cells) for n in exercise.notebooks)
    click.echo(
        f"{target}: {len(exercise.notebooks)} notebook(s), {cells} graded cell(s),"
        f" {exercise.points:g} points"
    )


@nbgrader.command("feedback")
@click.argument("course")
@click.argument("slug")
@click.option(
    "--into", type=click.Path(path_type=Path, file_okay=False), required=True, help="Folder."
)
@with_appcontext
def feedback_command(course: str, slug: str, into: Path) -> None:
    """Write each student's graded notebooks with feedback as HTML, as nbgrader's
    generate_feedback: INTO/feedback/STUDENT/SLUG/NOTEBOOK.html."""
    from server.courses import NotFound, assignment_by_slugs
    from server.notebooks.feedback import feedback_files
    from server.notebooks.manual import GradeRefused

    try:
        files = feedback_files(assignment_by_slugs(course, slug))
    except (NotFound, GradeRefused) as exc:
        _fail(str(exc), 2)
    for path, html in files.items():
        target = into / "feedback" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
    students = len({path.split("/")[0] for path in files})
    click.echo(f"{into / 'feedback'}: {len(files)} notebook(s) of {students} student(s)")


def grade_notebook_submission(exercise_dir: Path, submission: Path, as_json: bool) -> None:
    """Grade a folder of notebooks (or one .ipynb) and print the result."""
    from server.notebooks.grade import grade_notebooks, read_submission

    try:
        exercise = load_notebook_exercise(exercise_dir)
    except NotebookError as exc:
        _fail(f"invalid exercise: {exc}", 2)
    try:
        notebooks = read_submission(submission)
    except NotebookError as exc:
        _fail(f"{exc}", 2)
    try:
        result = grade_notebooks(exercise, notebooks)
    except NotebookError as exc:
        _fail(f"grader error: {exc}", 1)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.render())


def _fail(message: str, code: int) -> None:
    click.echo(" ".join(message.split()), err=True)
    sys.exit(code)
