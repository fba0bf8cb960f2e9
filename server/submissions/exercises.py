"""The exact exercise version a submission was made against, rebuilt from its stored files."""

from pathlib import Path

import sqlalchemy as sa

from server.extensions import db
from server.grading import Exercise as GradingExercise
from server.grading.exercise import bundle_hash, cached_bundle
from server.models import Assignment, Exercise


def current_exercise(assignment: Assignment) -> Exercise:
    """Return the newest synced version of the assignment's exercise."""
    row = db.session.scalar(
        sa.select(Exercise)
        .where(Exercise.slug == assignment.content_slug)
        .order_by(Exercise.version.desc())
        .limit(1)
    )
    if row is None:
        raise LookupError(f"exercise {assignment.content_slug!r} has not been synced")
    return row


def loaded(row: Exercise) -> GradingExercise:
    """Return the grading engine's exercise for a stored version (loaded once per process)."""
    if bundle_hash(row.bundle) != row.content_hash:
        raise ValueError(f"exercise {row.slug} v{row.version}: stored files do not match hash")
    return cached_bundle(row.bundle, Path(row.slug))
