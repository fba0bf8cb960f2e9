"""Grade an assignment's work again after a content fix: preview the change, then apply it.

An instructor fixes an exercise (an expected value, a tolerance too tight) or a quiz's
answer key and syncs it, which makes a new version. A regrade grades the work done on
an older version again on the newest one, or, asked for the same version, every piece
of work again on its own version (the grader changed, not the content).

- preview(): grades the affected submissions synchronously in the sandbox (about 10 ms
  each) and rescores quiz attempts, records nothing, and says per student what the
  gradebook counts before and after, with a token naming exactly that state of the work.
- apply(): given the token back (still matching), records the new results, each old one
  kept in the result history first, queues the changed counted scores for the LMS, and
  writes an audit entry with the counts.
- requeue(): the large-course path, and the API's original one: the submissions are
  queued again and graded by the workers. Nothing is lost meanwhile: the old score keeps
  counting until the new result is recorded, and a grader holding one of them loses its
  claim, so only the new grading records. Regrades give way to live work: each is noted
  as sent, so the sweep sends it once the queue is idle and RUBRIC_REQUEUE_AFTER_SECONDS
  have passed, a few per round (sweep.REGRADE_BATCH); they do not count toward the
  course's queue cap.
"""

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.accounts import find_user
from server.courses import NotFound, audit
from server.extensions import db
from server.lti import passback
from server.models import (
    Assignment,
    AssignmentKind,
    Exercise,
    QuizAnswer,
    QuizAttempt,
    Submission,
    SubmissionStatus,
    User,
)
from server.models.types import utcnow
from server.notebooks.manual import keep_matching
from server.scoring import gradebook
from server.scoring.questions import kind_of
from server.scoring.quizzes import current_quiz, question_params, quiz_version
from server.submissions.exercises import current_exercise, loaded
from server.submissions.result_history import archive_attempts, archive_submissions
from server.submissions.runner import grade_stored_work

# Submissions a preview grades at once: the sandbox runs each in its own process.
GRADING_THREADS = max(2, os.cpu_count() or 2)
# Up to this many students, counted scores are read one by one rather than course-wide.
FEW_STUDENTS = 10


class NotAnExercise(ValueError):
    """Only code exercises have submissions to queue again."""


class StalePreview(ValueError):
    """The work changed since the preview (new submissions, a new version): preview again."""


@dataclass(frozen=True)
class Scope:
    """What to grade again: an assignment's work, one student's, on the newest or same version."""

    assignment: Assignment
    student: User | None = None
    same_version: bool = False

    @property
    def is_quiz(self) -> bool:
        """Tell a quiz's attempts from an exercise's submissions."""
        return self.assignment.kind == AssignmentKind.QUIZ


def scope_of(assignment: Assignment, email: str = "", same_version: bool = False) -> Scope:
    """Build a scope; an unknown e-mail is NotFound."""
    student = None
    if email:
        student = find_user(email)
        if student is None:
            raise NotFound(f"no user with e-mail {email!r}")
    return Scope(assignment, student, same_version)


@dataclass(frozen=True)
class Regrade:
    """How many submissions were queued again, and the exercise version they go to."""

    submissions: int
    version: int


def requeue(scope: Scope, actor: User | str | None = None) -> Regrade:
    """Queue again every submission in scope, its graded result archived first."""
    if scope.is_quiz:
        raise NotAnExercise(
            f"{scope.assignment.slug!r} is a quiz: its attempts are rescored (rubric regrade), "
            "not queued"
        )
    exercise = current_exercise(scope.assignment)
    which = _submissions_in(scope, exercise.id)
    archive_submissions(which, actor)
    now = utcnow()
    waiting = Submission.status == SubmissionStatus.QUEUED
    requeued = (
        sa.update(Submission)
        .where(which)
        .values(
            exercise_id=Submission.exercise_id if scope.same_version else exercise.id,
            status=SubmissionStatus.QUEUED,
            claim=None,
            lease_until=None,
            tries=0,
            retry_at=None,
            error="",
            regraded_at=now,
            # One still waiting for its first grading keeps its place; the others are
            # noted as sent now, so that the sweep sends them only when the queue is idle.
            enqueued_at=sa.case((waiting, Submission.enqueued_at), else_=now),
        )
    )
    result = db.session.execute(requeued, execution_options={"synchronize_session": False})
    if result.rowcount:
        _audit(scope, actor, {"queued": result.rowcount, "version": exercise.version})
    db.session.commit()
    return Regrade(result.rowcount, exercise.version)


def regrade(assignment: Assignment, email: str = "", actor: User | str | None = None) -> Regrade:
    """Queue again every submission (one student's, given an email) of an older version."""
    return requeue(scope_of(assignment, email), actor)


def _submissions_in(scope: Scope, newest_id: int) -> sa.ColumnElement[bool]:
    """The submissions a scope covers: older-version ones, or every graded one on the same."""
    which = Submission.assignment_id == scope.assignment.id
    if scope.same_version:  # only graded work: one still waiting is graded on it anyway
        which = sa.and_(which, Submission.status == SubmissionStatus.GRADED)
    else:
        which = sa.and_(which, Submission.exercise_id != newest_id)
    if scope.student is not None:
        which = sa.and_(which, Submission.user_id == scope.student.id)
    return which


@dataclass
class Work:
    """One submission or attempt graded again: its score before and after, and the new result."""

    id: int
    user_id: int
    number: int
    submitted_at: datetime
    version_before: int
    score_before: float | None
    max_before: float
    graded_at: datetime | None = None  # a submission's, to record only over that result
    version_after: int = 0
    score_after: float | None = None
    max_after: float = 0.0
    result: dict | None = None  # the new result (a submission's JSON, an attempt's answers)
    target_id: int = 0  # the exercise or quiz version row graded against
    failed: str = ""  # the grader failed on it: nothing is recorded for it

    @property
    def changed(self) -> bool:
        """Tell whether the score or its maximum moved."""
        return not self.failed and (self.score_after, self.max_after) != (
            self.score_before,
            self.max_before,
        )


@dataclass
class StudentChange:
    """One student's counted score before and after, as the gradebook counts it."""

    student: User
    before: gradebook.Entry | None
    after: gradebook.Entry | None
    work: list[Work] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Tell whether the counted score (or its maximum) changes."""
        return _counted(self.before) != _counted(self.after)


def _counted(entry: gradebook.Entry | None) -> tuple[float | None, float | None]:
    return (None, None) if entry is None else (entry.score, entry.max_score)


@dataclass
class Preview:
    """What a regrade would change, student by student, and the token that confirms it."""

    scope: Scope
    version: int | None  # the newest version work goes to; None when on the same version
    students: list[StudentChange]
    token: str
    seconds: float  # grading time, to tell the instructor what a large course costs

    @property
    def changed(self) -> int:
        """How many students' counted scores change."""
        return sum(s.changed for s in self.students)

    @property
    def work(self) -> list[Work]:
        """Every piece of work graded again."""
        return [w for s in self.students for w in s.work]


def affected(scope: Scope) -> list[Work]:
    """The work a regrade covers, its scores as they stand (nothing graded yet)."""
    return _attempts_in(scope) if scope.is_quiz else _graded_submissions_in(scope)


def _graded_submissions_in(scope: Scope) -> list[Work]:
    newest = current_exercise(scope.assignment)
    which = sa.and_(_submissions_in(scope, newest.id), Submission.score.is_not(None))
    query = (
        sa.select(Submission, Exercise.version)
        .join(Exercise, Exercise.id == Submission.exercise_id)
        .where(which, Submission.status == SubmissionStatus.GRADED)
        .order_by(Submission.user_id, Submission.number)
    )
    return [
        Work(
            s.id,
            s.user_id,
            s.number,
            s.submitted_at,
            v,
            s.score,
            s.max_score,
            s.graded_at,
            target_id=s.exercise_id if scope.same_version else newest.id,
        )  # fmt: skip
        for s, v in db.session.execute(query)
    ]


def _attempts_in(scope: Scope) -> list[Work]:
    newest = current_quiz(scope.assignment)
    which = QuizAttempt.assignment_id == scope.assignment.id
    if not scope.same_version:
        which = sa.and_(which, QuizAttempt.quiz_id != newest.id)
    if scope.student is not None:
        which = sa.and_(which, QuizAttempt.user_id == scope.student.id)
    query = sa.select(QuizAttempt).where(which).order_by(QuizAttempt.user_id, QuizAttempt.number)
    return [
        Work(
            a.id,
            a.user_id,
            a.number,
            a.submitted_at,
            quiz_version(a.quiz_id).version,
            a.score,
            a.max_score,
            target_id=a.quiz_id if scope.same_version else newest.id,
        )  # fmt: skip
        for a in db.session.scalars(query)
    ]


def token_of(scope: Scope, work: list[Work]) -> str:
    """A digest of what a preview covered: any new grading, submission or version changes it."""
    state = {
        "assignment": scope.assignment.id,
        "student": scope.student.id if scope.student else None,
        "same_version": scope.same_version,
        "work": [[w.id, w.score_before, w.max_before, w.target_id, str(w.graded_at)] for w in work],
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:32]


def preview(scope: Scope) -> Preview:
    """Grade the work in scope again without recording anything; say what would change."""
    work = affected(scope)
    token = token_of(scope, work)
    started = time.perf_counter()
    if scope.is_quiz:
        # With their answers, in two queries; kept here, as the session holds them weakly.
        attempts = {a.id: a for a in _load_attempts([item.id for item in work])}
        for item in work:
            _rescore_attempt(attempts[item.id], item)
    else:
        _grade_submissions(work)
    seconds = time.perf_counter() - started
    students = _per_student(scope, work)
    newest = None if scope.same_version else _newest_version(scope)
    return Preview(scope, newest, students, token, seconds)


def _newest_version(scope: Scope) -> int:
    if scope.is_quiz:
        return current_quiz(scope.assignment).version
    return current_exercise(scope.assignment).version


def _grade_submissions(work: list[Work]) -> None:
    """Grade submissions on their target versions in the sandbox, as the workers do.

    A few at a time (the sandbox takes runs from several threads): the code and the
    versions are read here first, so the threads only grade.
    """
    codes = dict(
        db.session.execute(
            sa.select(Submission.id, Submission.code).where(
                Submission.id.in_([item.id for item in work])
            )
        ).all()
    )
    rows = {i: db.session.get(Exercise, i) for i in {item.target_id for item in work}}
    versions = {i: (row.version, _engine(row)) for i, row in rows.items()}
    with ThreadPoolExecutor(max_workers=GRADING_THREADS) as pool:
        grading = pool.map(lambda w: _graded(versions[w.target_id], codes[w.id]), work)
        for item, graded in zip(work, grading, strict=True):
            item.version_after, item.result, item.failed = graded
            if item.result is not None:
                item.score_after, item.max_after = item.result["score"], item.result["max_score"]


def _engine(row: Exercise):
    """The grading engine's exercise of a stored version, or the reason it cannot load."""
    try:
        return loaded(row)
    except Exception as exc:  # a broken stored version fails its submissions, not the preview
        return f"{type(exc).__name__}: {exc}"


def _graded(version: tuple, code: str) -> tuple[int, dict | None, str]:
    """(version, result, '') of one grading, or (0, None, why) when the grader failed."""
    number, engine = version
    if isinstance(engine, str):
        return 0, None, engine
    try:
        return number, grade_stored_work(engine, code), ""
    except Exception as exc:  # the grader failed, not the student: that one stays as it is
        return 0, None, f"{type(exc).__name__}: {exc}"


def _load_attempts(ids: list[int]) -> list[QuizAttempt]:
    """Load attempts and their answers into the session at once."""
    query = (
        sa.select(QuizAttempt)
        .where(QuizAttempt.id.in_(ids))
        .options(so.selectinload(QuizAttempt.answers))
    )
    return list(db.session.scalars(query))


def _rescore_attempt(attempt: QuizAttempt, item: Work) -> None:
    """Score a quiz attempt's stored responses against the target version's answer key.

    Each answer is matched to the new version's question by its id (key); the numbers
    the student was shown (stored params) are kept. A question new in this version was
    not answered, so it scores nothing.
    """
    old, quiz = quiz_version(attempt.quiz_id), quiz_version(item.target_id)
    given = {old.question(a.question_id).key: a for a in attempt.answers}
    rows = [_marked(attempt, question, given.get(question.key)) for question in quiz.questions]
    item.version_after, item.result = quiz.version, {"answers": rows}
    item.score_after = round(sum(row["score"] for row in rows), 6)
    item.max_after = sum(row["max_score"] for row in rows)


def _marked(attempt: QuizAttempt, question, answer: QuizAnswer | None) -> dict:
    """One answer row scored against a question of the target version."""
    if answer is not None and answer.params:
        params = answer.params  # the numbers the student was shown
    elif question.spec.get("params"):  # a question drawn anew: the student's own numbers
        params = question_params(attempt.assignment, attempt.user, question, attempt.number)
    else:
        params = {}
    response = answer.response if answer is not None else None
    marking = kind_of(question.kind).mark(question.spec, params, response, question.points)
    return {
        "question_id": question.id,
        "response": response,
        "params": params or None,
        "outcome": marking.outcome,
        "score": marking.score,
        "max_score": question.points,
    }


def _per_student(scope: Scope, work: list[Work]) -> list[StudentChange]:
    """Group the work by student and count each one's score before and after."""
    by_student: dict[int, list[Work]] = {}
    for item in work:
        by_student.setdefault(item.user_id, []).append(item)
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(by_student)))}
    assignment = scope.assignment
    before = _counted_entries(assignment, list(by_student))
    after = _counted_with(assignment, [w for w in work if not w.failed], list(by_student))
    changes = [
        StudentChange(users[uid], before[uid], after[uid], mine) for uid, mine in by_student.items()
    ]
    return sorted(changes, key=lambda c: c.student.email)


def _counted_with(
    assignment: Assignment, work: list[Work], user_ids: list[int]
) -> dict[int, gradebook.Entry | None]:
    """Each student's counted entry with the new scores in, as the gradebook counts it.

    The new scores are written inside a savepoint that is always rolled back: the
    gradebook's own counting (policy, late penalty, override, anything it adds) reads
    them, and nothing is recorded.
    """
    model = QuizAttempt if assignment.kind == AssignmentKind.QUIZ else Submission
    savepoint = db.session.begin_nested()
    try:
        for item in work:
            db.session.execute(
                sa.update(model)
                .where(model.id == item.id)
                .values(score=item.score_after, max_score=item.max_after),
                execution_options={"synchronize_session": False},
            )
        return _counted_entries(assignment, user_ids)
    finally:
        savepoint.rollback()


def _counted_entries(
    assignment: Assignment, user_ids: list[int]
) -> dict[int, gradebook.Entry | None]:
    """The students' counted entries: one by one for a few, from the gradebook for many.

    counted_entry costs a handful of queries per student; the gradebook counts the
    whole course in one query per table.
    """
    if len(user_ids) <= FEW_STUDENTS:
        return {uid: gradebook.counted_entry(assignment, uid) for uid in user_ids}
    entries = gradebook.build_gradebook(assignment.course).entries
    return {uid: entries.get((uid, assignment.id)) for uid in user_ids}


@dataclass(frozen=True)
class Applied:
    """What applying a regrade did."""

    regraded: int  # pieces of work recorded again
    students: int  # students whose work was graded again
    changed: int  # students whose counted score changed
    queued: int = 0  # submissions left to the workers (the large-course path)
    version: int | None = None
    preview: Preview | None = None  # what was recorded, student by student


def apply(scope: Scope, token: str, actor: User | str | None, sync_limit: int | None) -> Applied:
    """Apply a previewed regrade if the work is still as previewed, else raise StalePreview.

    Up to sync_limit submissions (None: any number) are graded again here and recorded;
    more are queued for the workers. Quiz attempts are always rescored here (no sandbox).
    """
    work = affected(scope)
    if token_of(scope, work) != token:
        raise StalePreview(
            "the work changed since the preview (new grading, submissions or version); "
            "preview the regrade again"
        )
    if not scope.is_quiz and sync_limit is not None and len(work) > sync_limit:
        done = requeue(scope, actor)
        return Applied(0, 0, 0, done.submissions, done.version)
    return apply_previewed(preview(scope), actor)


def apply_previewed(previewed: Preview, actor: User | str | None) -> Applied:
    """Record a fresh preview's results; older work it could not grade goes to the workers."""
    applied = record(previewed, actor)
    scope = previewed.scope
    if not scope.is_quiz and not scope.same_version:
        # What was not graded here (waiting, or the grader failed on it) goes to the workers.
        requeue(scope, actor)
    return applied


def record(previewed: Preview, actor: User | str | None) -> Applied:
    """Record a preview's new results, the old ones archived, and queue changed scores."""
    scope = previewed.scope
    done = [item for item in previewed.work if not item.failed]
    regraded = (_record_attempts if scope.is_quiz else _record_submissions)(done, actor)
    changed = [s for s in previewed.students if s.changed]
    for student in changed:
        passback.score_changed(scope.assignment, student.student)
    applied = Applied(
        regraded, len(previewed.students), len(changed), 0, previewed.version, previewed
    )
    _audit(
        scope,
        actor,
        {"regraded": regraded, "students": applied.students, "changed": applied.changed}
        | {"version": previewed.version},
    )
    db.session.commit()
    return applied


SUBMISSION = Submission.__table__
# One statement for every submission of a regrade (an executemany): a result is replaced
# only if it is still the one graded before the preview.
_REPLACE = (
    sa.update(SUBMISSION)
    .where(
        SUBMISSION.c.id == sa.bindparam("b_id"),
        SUBMISSION.c.status == SubmissionStatus.GRADED,
        SUBMISSION.c.graded_at == sa.bindparam("b_graded_at", type_=SUBMISSION.c.graded_at.type),
    )
    .values(
        exercise_id=sa.bindparam("b_exercise_id"),
        result=sa.bindparam("b_result", type_=SUBMISSION.c.result.type),
        score=sa.bindparam("b_score"),
        max_score=sa.bindparam("b_max_score"),
        graded_at=sa.bindparam("b_now", type_=SUBMISSION.c.graded_at.type),
        regraded_at=sa.bindparam("b_now", type_=SUBMISSION.c.regraded_at.type),
    )
)


def _record_submissions(work: list[Work], actor: User | str | None) -> int:
    """Replace the submissions' results, each old one archived first; return how many."""
    if not work:
        return 0
    archive_submissions(
        sa.and_(
            Submission.id.in_([item.id for item in work]),
            Submission.status == SubmissionStatus.GRADED,
        ),
        actor,
    )
    now = utcnow()
    rows = [
        {
            "b_id": item.id,
            "b_graded_at": item.graded_at,
            "b_exercise_id": item.target_id,
            "b_result": item.result,
            "b_score": item.score_after,
            "b_max_score": item.max_after,
            "b_now": now,
        }
        for item in work
    ]
    replaced = db.session.execute(_REPLACE, rows).rowcount
    for item in work:  # a notebook's grades by hand stand only where the new result waits for one
        keep_matching(item.id)
    return replaced


ATTEMPT = QuizAttempt.__table__
_RESCORE = (
    sa.update(ATTEMPT)
    .where(ATTEMPT.c.id == sa.bindparam("b_id"))
    .values(
        quiz_id=sa.bindparam("b_quiz_id"),
        score=sa.bindparam("b_score"),
        max_score=sa.bindparam("b_max_score"),
    )
)


def _record_attempts(work: list[Work], actor: User | str | None) -> int:
    """Replace quiz attempts' answers and scores with the rescored ones, the old archived."""
    if not work:
        return 0
    ids = [item.id for item in work]
    attempts = _load_attempts(ids)
    archive_attempts(attempts, actor)
    db.session.execute(sa.delete(QuizAnswer).where(QuizAnswer.attempt_id.in_(ids)))
    answers = [row | {"attempt_id": item.id} for item in work for row in item.result["answers"]]
    db.session.execute(sa.insert(QuizAnswer), answers)
    rescored = [
        {
            "b_id": w.id,
            "b_quiz_id": w.target_id,
            "b_score": w.score_after,
            "b_max_score": w.max_after,
        }
        for w in work
    ]
    db.session.execute(_RESCORE, rescored)
    for attempt in attempts:
        db.session.expire(attempt)
    return len(work)


def _audit(scope: Scope, actor: User | str | None, counts: dict) -> None:
    """Log the regrade in the course's audit log."""
    target = scope.assignment.slug + (f" {scope.student.email}" if scope.student else "")
    audit.record(
        scope.assignment.course,
        actor,
        "regrade",
        target,
        None,
        counts | {"same_version": scope.same_version},
    )
