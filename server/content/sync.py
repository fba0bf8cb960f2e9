"""Load content files into the database: idempotent, versioned, never rewriting history."""

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from server.content.quizzes import ContentError, QuizSpec, load_quiz, quiz_files
from server.extensions import db
from server.models import Exercise, Question, Quiz


@dataclass
class SyncReport:
    """What a sync did, file by file."""

    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # one line per problem


def latest_quiz(slug: str) -> Quiz | None:
    """Return the newest stored version of a quiz."""
    return db.session.scalar(
        sa.select(Quiz).where(Quiz.slug == slug).order_by(Quiz.version.desc()).limit(1)
    )


def store_quiz(spec: QuizSpec) -> Quiz | None:
    """Store a quiz as a new version if it changed; return the new row, or None."""
    latest = latest_quiz(spec.slug)
    if latest is not None and latest.content_hash == spec.content_hash:
        return None
    quiz = Quiz(
        slug=spec.slug,
        version=(latest.version + 1) if latest else 1,
        title=spec.title,
        description=spec.description,
        content_hash=spec.content_hash,
    )
    quiz.questions = [
        Question(key=q.key, position=i, kind=q.kind, points=q.points, spec=q.spec)
        for i, q in enumerate(spec.questions)
    ]
    db.session.add(quiz)
    return quiz


def sync_quizzes(root: Path) -> SyncReport:
    """Store every valid changed quiz under root; an invalid file keeps its old version."""
    report = SyncReport()
    for path in quiz_files(root):
        try:
            spec = load_quiz(path)
        except ContentError as exc:
            report.refused += [str(p) for p in exc.problems]
            continue
        quiz = store_quiz(spec)
        target = report.created if quiz else report.unchanged
        target.append(f"{spec.slug} v{quiz.version}" if quiz else spec.slug)
    db.session.commit()
    return report


def exercise_folders(root: Path) -> list[Path]:
    """Return the exercise folders under a content root's exercises/ folder."""
    return sorted(p.parent for p in (root / "exercises").glob("*/exercise.toml"))


def latest_exercise(slug: str) -> Exercise | None:
    """Return the newest stored version of an exercise."""
    return db.session.scalar(
        sa.select(Exercise).where(Exercise.slug == slug).order_by(Exercise.version.desc()).limit(1)
    )


def store_exercise(folder: Path) -> Exercise | None:
    """Store an exercise folder as a new version if it changed; return the new row, or None.

    Raises ExerciseError, naming the file and field, when the folder is invalid.
    """
    from server.grading.exercise import bundle_hash, load_bundle, read_bundle
    from server.notebooks.exercise import is_notebook_exercise
    from server.notebooks.sync import notebook_version, public_view

    if is_notebook_exercise(folder):
        exercise, bundle, digest = notebook_version(folder)
        return _new_version(exercise, public_view(exercise), bundle, digest)
    bundle = read_bundle(folder)
    exercise = load_bundle(bundle, folder)
    return _new_version(exercise, exercise.public(), bundle, bundle_hash(bundle))


def _new_version(exercise, public: dict, bundle: dict, digest: str) -> Exercise | None:
    """Add the exercise as its next version, unless the newest has the same content."""
    latest = latest_exercise(exercise.slug)
    if latest is not None and latest.content_hash == digest:
        return None
    row = Exercise(
        slug=exercise.slug,
        version=(latest.version + 1) if latest else 1,
        title=exercise.title,
        content_hash=digest,
        max_score=float(exercise.points),
        public=public,
        bundle=bundle,
    )
    db.session.add(row)
    return row


def sync_exercises(root: Path) -> SyncReport:
    """Store every valid changed exercise under root; an invalid one keeps its old version."""
    from server.grading import ExerciseError

    report = SyncReport()
    for folder in exercise_folders(root):
        try:
            row = store_exercise(folder)
        except ExerciseError as exc:
            report.refused.append(str(exc))
            continue
        slug = row.slug if row else folder.name
        (report.created if row else report.unchanged).append(
            f"{slug} v{row.version}" if row else slug
        )
    db.session.commit()
    return report


def sync_content(root: Path) -> SyncReport:
    """Sync quizzes and exercises, returning one combined report."""
    quizzes, exercises = sync_quizzes(root), sync_exercises(root)
    return SyncReport(
        created=quizzes.created + exercises.created,
        unchanged=quizzes.unchanged + exercises.unchanged,
        refused=quizzes.refused + exercises.refused,
    )
