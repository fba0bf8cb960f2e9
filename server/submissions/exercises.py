"""The exact exercise version a submission was made against, rebuilt from its stored files."""

import threading
from pathlib import Path

import sqlalchemy as sa

from server.extensions import db
from server.grading import Exercise as GradingExercise
from server.grading.exercise import bundle_hash, cached_bundle
from server.models import Assignment, Exercise

# Exercise rows are never changed once synced (a change is a new version, a new row),
# so each process loads and checks a version once and never reads its bundle again:
# grading a submission then costs no query for the exercise. Keyed by slug and content
# hash, not by id alone: a long-lived worker may outlive a database and see ids reused.
_checked: dict[tuple[str, str], GradingExercise] = {}
_checked_lock = threading.Lock()
CHECKED_VERSIONS = 256


_NEWEST = (
    sa.select(Exercise)
    .where(Exercise.slug == sa.bindparam("slug"))
    .order_by(Exercise.version.desc())
    .limit(1)
)


def current_exercise(assignment: Assignment) -> Exercise:
    """Return the newest synced version of the assignment's exercise."""
    row = db.session.scalar(_NEWEST, {"slug": assignment.content_slug})
    if row is None:
        raise LookupError(f"exercise {assignment.content_slug!r} has not been synced")
    return row


def loaded(row: Exercise) -> GradingExercise:
    """Return the grading engine's exercise for a stored version (loaded once per process).

    A notebook exercise's version comes back as a NotebookExercise (server/notebooks).
    """
    from server.notebooks.sync import is_notebook_bundle, load_stored

    if bundle_hash(row.bundle) != row.content_hash:
        raise ValueError(f"exercise {row.slug} v{row.version}: stored files do not match hash")
    if is_notebook_bundle(row.bundle):
        return load_stored(row.bundle, row.slug)
    return cached_bundle(row.bundle, Path(row.slug))


def loaded_version(exercise_id: int, key: tuple[str, str]) -> GradingExercise:
    """Return the engine's exercise for version `exercise_id`, whose (slug, hash) is `key`.

    Its stored files are read and checked against the hash the first time only.
    """
    exercise = _checked.get(key)
    if exercise is None:
        row = db.session.get(Exercise, exercise_id)
        if row is None or (row.slug, row.content_hash) != key:
            raise LookupError(f"exercise version {exercise_id} is not {key[0]} {key[1][:12]}")
        exercise = loaded(row)
        with _checked_lock:
            if len(_checked) >= CHECKED_VERSIONS:
                _checked.clear()  # versions in use are checked again on their next grading
            _checked[key] = exercise
    return exercise
