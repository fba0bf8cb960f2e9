"""Check an exercise: it loads, the reference scores full, the starter does not, and
every known mistake is caught by a hidden test (graded through the real sandbox)."""

from __future__ import annotations

from pathlib import Path

from server.grading.exercise import Exercise, ExerciseError, Mistake, load_exercise
from server.grading.grader import GraderError, grade_submission
from server.grading.result import GradingResult, Outcome


def check_exercise(path: str | Path) -> list[str]:
    """Return one line per problem with the exercise folder at path (empty: all good)."""
    root = Path(path)
    try:
        exercise = load_exercise(root)
    except ExerciseError as exc:
        return [str(exc)]
    try:
        problems = _check_reference(exercise) + _check_starter(exercise)
        # Mistakes are graded on top of the reference: meaningless if the reference fails.
        return problems if problems else _check_mistakes(exercise)
    except GraderError as exc:
        return [f"{root}: could not grade: {exc}"]


def _check_reference(exercise: Exercise) -> list[str]:
    """The reference, run in the sandbox like a submission, must score full marks."""
    result = grade_submission(exercise, exercise.reference_source)
    if result.score == result.max_score:
        return []
    failed = [
        f"{p.name}/{t.name} ({t.outcome.value})"
        for p in result.parts
        for t in p.tests
        if t.outcome is not Outcome.PASSED
    ]
    detail = ", ".join(failed[:5]) or result.feedback
    return [
        f"{exercise.path / 'reference.py'}: scores {result.score:g}/{result.max_score:g}"
        f" in the sandbox: {detail}"
    ]


def _check_starter(exercise: Exercise) -> list[str]:
    """The starter students get must not already score full marks."""
    result = grade_submission(exercise, exercise.starter)
    if result.score < result.max_score:
        return []
    return [f"{exercise.path / 'starter.py'}: scores full marks; give students work to do"]


def _check_mistakes(exercise: Exercise) -> list[str]:
    """Each mistake must lose points on a hidden test and show its hint there."""
    problems = []
    for mistake in exercise.mistakes:
        result = grade_submission(exercise, _with_mistake(exercise, mistake))
        problems += _mistake_problems(exercise, mistake, result)
    return problems


def _with_mistake(exercise: Exercise, mistake: Mistake) -> str:
    """Build a submission: the reference, with the mistake's functions defined after it."""
    return f"{exercise.reference_source}\n\n# ---- mistake {mistake.name} ----\n{mistake.source}\n"


def _mistake_problems(exercise: Exercise, mistake: Mistake, result: GradingResult) -> list[str]:
    """Say whether a graded mistake was caught by a hidden test and recognised."""
    file = exercise.path / "mistakes" / f"{mistake.name}.py"
    tests = [t for p in result.parts if p.name in mistake.functions for t in p.tests]
    caught = [t for t in tests if not t.visible and t.outcome is not Outcome.PASSED]
    if not caught:
        return [f"{file}: mistake {mistake.name!r} is not caught by any hidden test"]
    if not any(t.mistake == mistake.name for t in tests):
        return [
            f"{file}: mistake {mistake.name!r} is caught but its hint is never shown "
            "(another mistake gives the same outputs, or its outputs differ in the sandbox)"
        ]
    return []
