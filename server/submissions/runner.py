"""Grade one submission: claim it, run the engine, record the result once."""

import logging
import time

from server.extensions import db
from server.grading.demo import grade_with_demo
from server.grading.exercise import Exercise
from server.grading.grader import BUDGET_WALL_LIMITS
from server.notebooks.exercise import NotebookExercise
from server.notebooks.submission import grade_stored
from server.submissions import service
from server.submissions.exercises import loaded_version

log = logging.getLogger("rubric.grading")
# Beyond the sandbox time a submission may spend: starting its runs, judging the results,
# recording them.
LEASE_MARGIN_SECONDS = 5.0


def process(submission_id: int) -> str:
    """Grade a submission if nobody else holds it; return what happened, for logs and tests."""
    claim = service.claim(submission_id)
    if claim is None:
        log.info("not claimed", extra={"submission_id": submission_id})
        return "not_claimed"
    return grade(claim)


def process_next(hint: int | None = None) -> tuple[str, int | None]:
    """Grade whichever submission comes next in fair order; return what happened, and its id.

    hint: the submission the message was sent for, only logged when nothing is left.
    """
    claim = service.claim_next()
    if claim is None:
        log.info("nothing to claim", extra={"submission_id": hint})
        return "not_claimed", None
    return grade(claim), claim.submission_id


def grade(claim: service.Claim) -> str:
    """Grade a claimed submission and record the result (or the grader's failure)."""
    submission_id = claim.submission_id
    started = time.perf_counter()
    try:
        # The claim brought the code and the exercise version; the version's files are
        # read (and checked) once per process.
        exercise = loaded_version(claim.exercise_id, claim.exercise_key)
        _hold_long_enough(claim, exercise)
        db.session.rollback()  # hold no transaction open while the sandbox runs
        result = grade_stored_work(exercise, claim.code)
    except Exception as exc:  # the grader failed, not the student: keep it and retry
        log.exception("grader failed", extra={"submission_id": submission_id})
        db.session.rollback()
        service.record_failure(claim, f"{type(exc).__name__}: {exc}")
        return "error"
    recorded = service.record_result(claim, result)
    log.info(
        "graded" if recorded else "claim lost",
        extra={
            "submission_id": submission_id,
            "score": result["score"],
            "grading_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return "graded" if recorded else "claim_lost"


def grade_stored_work(exercise: Exercise | NotebookExercise, code: str) -> dict:
    """Grade a submission's stored code, or its notebooks, against an exercise version."""
    if isinstance(exercise, NotebookExercise):
        return grade_stored(exercise, code)
    # The exercise page's weight-decay chart comes from the same sandbox run.
    return grade_with_demo(exercise, code)


def _hold_long_enough(claim: service.Claim, exercise: Exercise | NotebookExercise) -> None:
    """Extend the claim's lease to what grading this exercise may take, if that is longer.

    A lease that ends mid-grading has the submission taken back and graded again, and
    that grading too loses its claim, for ever: an exercise whose wall limit is 20 s
    may take 40 s (the grader's budget), past the 30 s default lease.
    """
    if isinstance(exercise, NotebookExercise):  # one sandbox run per notebook, in turn
        needed = exercise.limits.wall_seconds * len(exercise.notebooks) + LEASE_MARGIN_SECONDS
    else:
        needed = BUDGET_WALL_LIMITS * exercise.limits.wall_seconds + LEASE_MARGIN_SECONDS
    if needed > service.setting("RUBRIC_GRADING_LEASE_SECONDS"):
        service.hold_for(claim, needed)
