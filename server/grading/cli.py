"""Command-line pieces of the grading engine: `rubric grade` and exercise checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from server.grading.check import check_exercise
from server.grading.exercise import ExerciseError, load_exercise
from server.grading.grader import GraderError, grade_submission
from server.grading.result import GradingResult, Outcome


@click.command("grade")
@click.argument("exercise_dir", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (SPEC format).")
def grade(exercise_dir: Path, file: Path, as_json: bool) -> None:
    """Grade one submission FILE offline, exactly as the service would.

    For a notebook exercise FILE is a folder of notebooks or one .ipynb.
    """
    from server.notebooks.exercise import is_notebook_exercise

    if is_notebook_exercise(exercise_dir):
        from server.notebooks.cli import grade_notebook_submission

        grade_notebook_submission(exercise_dir, file, as_json)
        return
    try:
        code = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{file}: cannot read submission: {getattr(exc, 'strerror', None) or exc}", 2)
    try:
        exercise = load_exercise(exercise_dir)
    except ExerciseError as exc:
        _fail(f"invalid exercise: {exc}", 2)
    try:
        result = grade_submission(exercise, code)
    except GraderError as exc:
        _fail(f"grader error: {exc}", 1)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else render(result))


def _fail(message: str, code: int) -> None:
    """Print one line on stderr and exit."""
    click.echo(" ".join(message.split()), err=True)
    sys.exit(code)


def render(result: GradingResult) -> str:
    """Format a result for a terminal."""
    lines = [
        f"{result.exercise}: {result.score:g}/{result.max_score:g}  ({result.status.value},"
        f" {result.duration_ms:.0f} ms)",
        result.feedback,
    ]
    for part in result.parts:
        lines.append(f"\n{part.name}: {part.score:g}/{part.max_score:g}")
        for test in part.tests:
            mark = "ok  " if test.outcome is Outcome.PASSED else "FAIL"
            where = "visible" if test.visible else "hidden"
            lines.append(
                f"  {mark} {test.name} [{where}] {test.outcome.value}"
                f" {test.score:g}/{test.max_score:g}"
            )
            lines += [f"       {line}" for line in test.feedback.splitlines()]
    return "\n".join(lines)


def check_paths(paths: list[Path]) -> list[str]:
    """Check exercise folders (or folders of them); return one line per problem."""
    problems = []
    for path in paths:
        folders = _exercise_folders(Path(path))
        if not folders:
            problems.append(f"{path}: no exercise.toml here")
        for folder in folders:
            problems += _check_folder(folder)
    return problems


def _check_folder(folder: Path) -> list[str]:
    """Check a code exercise, or a notebook exercise (kind = "notebook")."""
    from server.notebooks.exercise import is_notebook_exercise

    if is_notebook_exercise(folder):
        from server.notebooks.check import check_notebook_exercise

        return check_notebook_exercise(folder)
    return check_exercise(folder)


def _exercise_folders(path: Path) -> list[Path]:
    """Find exercise folders: path itself, or its children holding exercise.toml."""
    if (path / "exercise.toml").is_file():
        return [path]
    return sorted(p.parent for p in path.glob("*/exercise.toml"))
