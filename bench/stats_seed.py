"""Graded work for the class statistics' tests and bench: real code, really graded.

Each distinct piece of code is graded once, in the sandbox, exactly as a worker
would (server/grading/demo.py grade_with_demo); its result is then stored for as many
submissions as use it. A known mistake's code is the reference with the mistake's
functions defined after it, as `rubric content check` builds it.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa

from server.extensions import db
from server.grading.demo import grade_with_demo
from server.models import Assignment, Submission, SubmissionStatus
from server.models.types import utcnow
from server.submissions.exercises import current_exercise, loaded

# Wrong answers no known mistake describes: each gives its own visible outputs.
UNKNOWN = {
    "cubed": ("return lam * np.sum(w**2)", "return lam * np.sum(np.abs(w) ** 3)"),
    "halved": ("return lam * np.sum(w**2)", "return 0.5 * lam * np.sum(w**2)"),
    "crashes": ("return lam * np.sum(w**2)", "return lam * np.sum(w**2) + penalty_scale"),
}


def engine(assignment: Assignment):
    """The grading engine's newest version of the assignment's exercise."""
    return loaded(current_exercise(assignment))


def reference_code(assignment: Assignment) -> str:
    """The exercise's reference: full marks."""
    return engine(assignment).reference_source


def mistake_code(assignment: Assignment, name: str) -> str:
    """The reference with a known mistake's functions defined after it."""
    exercise = engine(assignment)
    mistake = next(m for m in exercise.mistakes if m.name == name)
    return f"{exercise.reference_source}\n\n# ---- mistake {name} ----\n{mistake.source}\n"


def unknown_code(assignment: Assignment, name: str) -> str:
    """The reference with one line made wrong in a way no known mistake is."""
    old, new = UNKNOWN[name]
    source = reference_code(assignment)
    assert old in source, f"the reference no longer has {old!r}"
    return source.replace(old, new)


# Grading is the slow part: each (version, code) once per process.
_results: dict[tuple[str, str], dict] = {}


def graded(assignment: Assignment, code: str) -> dict:
    """The result of grading `code` against the newest version (graded once per code)."""
    exercise = engine(assignment)
    key = (exercise.content_hash, code)
    if key not in _results:
        _results[key] = grade_with_demo(exercise, code)
    return _results[key]


def store(
    assignment: Assignment, user_id: int, codes: list[str], start: datetime | None = None
) -> list[int]:
    """Store one student's graded submissions, one per code in order, a minute apart."""
    exercise_id = current_exercise(assignment).id
    first = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(Submission.number), 0)).where(
            Submission.assignment_id == assignment.id, Submission.user_id == user_id
        )
    )
    at = start or utcnow() - timedelta(hours=1)
    rows = []
    for offset, code in enumerate(codes):
        result = graded(assignment, code)
        when = at + timedelta(minutes=offset)
        rows.append(
            {
                "assignment_id": assignment.id,
                "user_id": user_id,
                "exercise_id": exercise_id,
                "number": first + offset + 1,
                "code": code,
                "status": SubmissionStatus.GRADED,
                "submitted_at": when,
                "graded_at": when,
                "score": result["score"],
                "max_score": result["max_score"],
                "result": result,
            }
        )
    ids = db.session.scalars(sa.insert(Submission).returning(Submission.id), rows).all()
    db.session.commit()
    return list(ids)
