"""The grading engine: exercise format, trusted grader and exercise checks.

Student code never runs here: grade_submission sends it to server.sandbox.
"""

from server.grading.exercise import Case, Exercise, ExerciseError, load_exercise
from server.grading.result import GradingResult, Outcome, PartResult, Status, TestResult

__all__ = [
    "Case",
    "Exercise",
    "ExerciseError",
    "GradingResult",
    "Outcome",
    "PartResult",
    "Status",
    "TestResult",
    "check_exercise",
    "grade_submission",
    "load_exercise",
]


def __getattr__(name: str):
    """Import the grader lazily: loading an exercise must not need the sandbox."""
    if name == "grade_submission":
        from server.grading.grader import grade_submission

        return grade_submission
    if name == "check_exercise":
        from server.grading.check import check_exercise

        return check_exercise
    raise AttributeError(name)
