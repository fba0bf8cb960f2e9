"""`rubric content check`: validate quiz files and exercise folders."""

from pathlib import Path

from server.content.quizzes import ContentError, load_quiz


def check_paths(paths: list[Path]) -> tuple[list[str], int]:
    """Return (problems, items checked) for quiz files, exercise folders or folders of them."""
    problems: list[str] = []
    checked = 0
    for path in paths:
        if not path.exists():
            problems.append(f"{path}: no such file or folder")
        for quiz in _quiz_files(path):
            checked += 1
            problems += _check_quiz(quiz)
        exercises = _exercise_dirs(path)
        checked += len(exercises)
        problems += _check_exercises(exercises)
    return problems, checked


def _quiz_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".toml" and path.name != "exercise.toml" else []
    if not path.is_dir() or (path / "exercise.toml").is_file():
        return []  # an exercise folder's TOML is not a quiz
    return sorted(path.glob("*.toml"))


def _exercise_dirs(path: Path) -> list[Path]:
    if (path / "exercise.toml").is_file():
        return [path]
    if path.is_file() and path.name == "exercise.toml":
        return [path.parent]
    return sorted(p.parent for p in path.glob("*/exercise.toml")) if path.is_dir() else []


def _check_quiz(path: Path) -> list[str]:
    try:
        load_quiz(path)
    except ContentError as exc:
        return [str(problem) for problem in exc.problems]
    return []


def _check_exercises(folders: list[Path]) -> list[str]:
    from server.grading.cli import check_paths as check_exercises

    return check_exercises(folders) if folders else []
