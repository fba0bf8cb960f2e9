"""A submission's life: stored, claimed by one grader, recorded exactly once."""

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.lti import passback
from server.models import Assignment, Exercise, Submission, SubmissionStatus, User
from server.models.types import utcnow
from server.notebooks.manual import keep_matching
from server.notebooks.submission import is_notebook_version, is_stored_notebooks
from server.scoring.policy import AttemptRefused, attempt_status
from server.submissions.exercises import current_exercise

NUMBER_RETRIES = 5
# Backoff after the grader itself failed: 5 s, 20 s, 80 s, 320 s; then it stays in error.
MAX_TRIES = 5


class SubmissionRefused(AttemptRefused):
    """A submission we will not store, with the HTTP-agnostic reason."""

    def __init__(self, code: str, message: str, retry_after: int | None = None):
        super().__init__(code, message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Claim:
    """The right to grade one submission until the lease ends."""

    submission_id: int
    token: str  # "PID-RANDOM": the grading process, and this claim
    tries: int  # including this one
    # What grading needs, read by the claim's own UPDATE ... RETURNING (no second query).
    code: str = ""
    exercise_id: int = 0
    exercise_key: tuple[str, str] = ("", "")  # the version's (slug, content hash)


def claim_holder_pid(token: str) -> int:
    """Return the process id of the grader named in a claim token."""
    return int(token.split("-", 1)[0])


def setting(name: str) -> Any:
    """Return a grading setting from the app's config."""
    return current_app.config[name]


def submit(assignment: Assignment, user: User, code: str, key: str | None = None) -> Submission:
    """Store a submission (committed) or raise SubmissionRefused / AttemptRefused.

    With an idempotency key, a retried request returns the first submission. It is
    looked up only when storing fails or is refused, not before every first request:
    the key is unique per user, so a repeated one cannot be stored twice. The same key
    with another assignment or other code is refused (422), as Stripe does: returning
    the first submission would silently drop the new code.
    """
    try:
        exercise = current_exercise(assignment)
        _check_code(code, exercise)
        _check_course_queue(assignment)
        for _ in range(NUMBER_RETRIES):
            status = attempt_status(assignment, user)
            if status.refusal:
                raise status.refusal
            try:
                return _store(assignment, user, exercise, status.used + 1, code, key)
            except IntegrityError:  # the number was taken meanwhile, or the key is known
                db.session.rollback()
                if key and (earlier := _by_key(user, key)):
                    return _same_request(earlier, assignment, code)
    except AttemptRefused:
        if key and (earlier := _by_key(user, key)):
            return _same_request(earlier, assignment, code)
        raise
    raise SubmissionRefused("conflict", "too many simultaneous submissions; try again")


_INSERT = sa.insert(Submission).returning(Submission)
_BY_KEY = sa.select(Submission).where(
    Submission.user_id == sa.bindparam("user_id"),
    Submission.idempotency_key == sa.bindparam("key"),
)


def _store(
    assignment: Assignment, user: User, exercise: Exercise, number: int, code: str, key: str | None
) -> Submission:
    """INSERT the submission and commit; the row comes back by RETURNING, not a flush."""
    submission = db.session.scalar(
        _INSERT,
        [
            {
                "assignment_id": assignment.id,
                "user_id": user.id,
                "exercise_id": exercise.id,
                "number": number,
                "code": code,
                "idempotency_key": key,
                "max_score": exercise.max_score,
            }
        ],
    )
    db.session.commit()
    return submission


def _by_key(user: User, key: str) -> Submission | None:
    return db.session.scalar(_BY_KEY, {"user_id": user.id, "key": key})


def _same_request(earlier: Submission, assignment: Assignment, code: str) -> Submission:
    """Return the submission first stored under a key, if this request is the same one."""
    if earlier.assignment_id != assignment.id or earlier.code != code:
        raise SubmissionRefused(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request (another assignment "
            "or other code); use a new key for a new submission",
        )
    return earlier


def _check_code(code: str, exercise: Exercise) -> None:
    # A notebook exercise takes notebooks, checked and capped by server/notebooks/submission.
    if is_notebook_version(exercise):
        if not is_stored_notebooks(code):
            raise SubmissionRefused("notebooks_expected", "this exercise takes notebooks, not code")
        return
    limit = setting("RUBRIC_MAX_CODE_BYTES")
    if len(code.encode("utf-8")) > limit:
        raise SubmissionRefused("code_too_large", f"the code is larger than {limit} bytes")


_WAITING_IN_COURSE = (
    sa.select(sa.func.count(Submission.id))
    .join(Assignment)
    .where(
        Assignment.course_id == sa.bindparam("course_id"),
        Submission.status.in_([SubmissionStatus.QUEUED, SubmissionStatus.RUNNING]),
        # A regrade waits for an idle queue (see regrade.py): it must not make the
        # course's students wait for a place.
        Submission.regraded_at.is_(None),
    )
)


def _check_course_queue(assignment: Assignment) -> None:
    waiting = db.session.scalar(_WAITING_IN_COURSE, {"course_id": assignment.course_id})
    cap = setting("RUBRIC_COURSE_QUEUE_CAP")
    if waiting >= cap:
        raise SubmissionRefused(
            "course_queue_full", f"this course already has {cap} submissions waiting", 5
        )


SUBMISSION, EXERCISE = Submission.__table__, Exercise.__table__
# Run for every message sent (each POST with workers, each re-send): built once, like
# the claim and the record below.
_SENT = (
    sa.update(SUBMISSION)
    .where(SUBMISSION.c.id == sa.bindparam("submission_id"))
    .values(enqueued_at=sa.bindparam("sent_at", type_=SUBMISSION.c.enqueued_at.type))
)


def mark_enqueued(submission_id: int) -> None:
    """Note that a grading message was sent, so the sweep waits before sending another."""
    db.session.execute(_SENT, {"submission_id": submission_id, "sent_at": utcnow()})
    db.session.commit()


def _of_exercise(column: sa.Column) -> sa.ScalarSelect:
    """A column of the claimed submission's exercise version, for the claim's RETURNING."""
    return sa.select(column).where(EXERCISE.c.id == SUBMISSION.c.exercise_id).scalar_subquery()


def _claimable(table: sa.TableClause) -> sa.ColumnElement[bool]:
    """Queued, held by a grader whose lease ran out, or failed and due for a retry."""
    now = sa.bindparam("now", type_=table.c.lease_until.type)
    return sa.or_(
        table.c.status == SubmissionStatus.QUEUED,
        sa.and_(table.c.status == SubmissionStatus.RUNNING, table.c.lease_until < now),
        sa.and_(table.c.status == SubmissionStatus.ERROR, table.c.retry_at <= now),
    )


def _fair_pick(skip_locked: bool) -> sa.ScalarSelect:
    """The id of the claimable submission that comes next in fair order, locked.

    Round-robin by student: a submission's place is how many of its student's
    submissions are being graded now plus how many of theirs wait before it, so a
    student with 16 waiting is served once per turn like one with a single one.
    Regrades (regrade.py) come after all live work. On PostgreSQL the row is taken
    with FOR UPDATE SKIP LOCKED, so concurrent workers each take a different one
    (or, skip_locked False, waiting for each row's lock in turn); SQLite serialises
    writers and needs no lock.
    """
    active, candidate = SUBMISSION.alias("active"), SUBMISSION.alias("candidate")
    now = sa.bindparam("now", type_=SUBMISSION.c.lease_until.type)
    held = sa.and_(active.c.status == SubmissionStatus.RUNNING, active.c.lease_until >= now)
    # Within a student, the ones being graded count first, then live work, then regrades.
    rank = sa.case((held, 0), (active.c.regraded_at.is_not(None), 2), else_=1)
    places = (
        sa.select(
            active.c.id,
            sa.func.row_number()
            .over(partition_by=active.c.user_id, order_by=(rank, active.c.id))
            .label("place"),
        )
        .where(sa.or_(held, _claimable(active)))
        .subquery("places")
    )
    return (
        sa.select(candidate.c.id)
        .join(places, places.c.id == candidate.c.id)
        .where(_claimable(candidate))
        .order_by(candidate.c.regraded_at.is_not(None), places.c.place, candidate.c.id)
        .limit(1)
        .with_for_update(of=candidate, skip_locked=skip_locked)
        .scalar_subquery()
    )


def _claim_statement(which: sa.ColumnElement) -> sa.Update:
    """Take the submission `which` names, if it is still claimable, with a new lease."""
    return (
        sa.update(SUBMISSION)
        .where(SUBMISSION.c.id == which, _claimable(SUBMISSION))
        .values(
            status=SubmissionStatus.RUNNING,
            claim=sa.bindparam("token"),
            lease_until=sa.bindparam("lease_until", type_=SUBMISSION.c.lease_until.type),
            started_at=sa.bindparam("now"),
            tries=SUBMISSION.c.tries + 1,
            retry_at=None,
        )
        .returning(
            SUBMISSION.c.id,
            SUBMISSION.c.tries,
            SUBMISSION.c.code,
            SUBMISSION.c.exercise_id,
            _of_exercise(EXERCISE.c.slug),
            _of_exercise(EXERCISE.c.content_hash),
        )
    )


# The claim and the record run once per submission each: their statements are built
# once, on the table rather than the mapped class, and only values are bound per call.
# Built per call, or run through the ORM (which copies a statement on every execution),
# each was re-keyed for SQLAlchemy's compiled cache: ~0.3 ms per grading, more than
# SQLite takes to run it. A grader holds no Submission object, so the ORM has nothing
# to synchronise.
_CLAIM = _claim_statement(sa.bindparam("submission_id"))
_CLAIM_NEXT = _claim_statement(_fair_pick(skip_locked=True))
_CLAIM_NEXT_WAITING = _claim_statement(_fair_pick(skip_locked=False))
# Only the current holder of the claim may write: a grader whose lease ran out and
# was re-claimed elsewhere finds no row here, so a result lands exactly once.
_HELD = (
    sa.update(SUBMISSION)
    .where(
        SUBMISSION.c.id == sa.bindparam("submission_id"),
        SUBMISSION.c.claim == sa.bindparam("token"),
        SUBMISSION.c.status == SubmissionStatus.RUNNING,
    )
    .values(claim=None, lease_until=None)
)
_EXTEND = (
    sa.update(SUBMISSION)
    .where(
        SUBMISSION.c.id == sa.bindparam("submission_id"),
        SUBMISSION.c.claim == sa.bindparam("token"),
        SUBMISSION.c.status == SubmissionStatus.RUNNING,
    )
    .values(lease_until=sa.bindparam("new_lease_until", type_=SUBMISSION.c.lease_until.type))
)
# What each outcome sets besides that; its values are bound as new_<column>
# (a bound parameter may not take a column's own name).
_RECORD = _HELD.values(
    status=SubmissionStatus.GRADED,
    error="",
    **{name: sa.bindparam(f"new_{name}") for name in ("result", "score", "max_score", "graded_at")},
)
_FAIL = _HELD.values(
    status=SubmissionStatus.ERROR,
    **{name: sa.bindparam(f"new_{name}") for name in ("error", "retry_at")},
)


def claim(submission_id: int) -> Claim | None:
    """Take the submission for grading if nobody holds it; None when someone does."""
    return _take(_CLAIM, {"submission_id": submission_id})


def claim_next() -> Claim | None:
    """Take the submission that comes next in fair order (see _fair_pick); None when none waits.

    SKIP LOCKED also passes over a row that a short transaction holds, such as the
    POST noting its message as sent just after sending it. Finding nothing else, the
    turn would be lost, and a submission left without a message until the sweep; so
    it looks again, this time waiting for each lock.
    """
    return _take(_CLAIM_NEXT, {}) or _take(_CLAIM_NEXT_WAITING, {})


def _take(statement: sa.Update, params: dict[str, Any]) -> Claim | None:
    now = utcnow()
    # The token names the process holding the claim, so an operator (or a fault test)
    # can tell which grader has a submission; the random part keeps it unique.
    token = f"{os.getpid()}-{secrets.token_hex(8)}"
    lease = timedelta(seconds=setting("RUBRIC_GRADING_LEASE_SECONDS"))
    params = params | {"now": now, "token": token, "lease_until": now + lease}
    row = db.session.execute(statement, params).first()
    db.session.commit()
    if row is None:
        return None
    submission_id, tries, code, exercise_id, slug, content_hash = row
    return Claim(submission_id, token, tries, code, exercise_id, (slug, content_hash))


def hold_for(claim: Claim, seconds: float) -> bool:
    """Make the claim's lease end `seconds` from now; False when the claim was lost."""
    until = utcnow() + timedelta(seconds=seconds)
    return _finish(_EXTEND, claim, lease_until=until)


def record_result(claim: Claim, result: dict[str, Any]) -> bool:
    """Store the grading result; False when the claim was lost (someone else records)."""
    # The maximum comes with the result too: a regrade may be against a version whose
    # points differ from the one the submission was stored with.
    return _finish(
        _RECORD,
        claim,
        on_change=_score_changed,
        result=result,
        score=result["score"],
        max_score=result["max_score"],
        graded_at=utcnow(),
    )


def record_failure(claim: Claim, message: str) -> bool:
    """Keep the submission in `error` and schedule a retry, until MAX_TRIES."""
    tries = claim.tries
    retry_at = utcnow() + timedelta(seconds=5 * 4 ** (tries - 1)) if tries < MAX_TRIES else None
    return _finish(_FAIL, claim, error=message[:2000], retry_at=retry_at)


def _finish(statement: sa.Update, claim: Claim, on_change=None, **values: Any) -> bool:
    params = {f"new_{name}": value for name, value in values.items()}
    result = db.session.execute(
        statement, params | {"submission_id": claim.submission_id, "token": claim.token}
    )
    if on_change is not None and result.rowcount == 1:
        on_change(claim.submission_id)  # in the same transaction as the change itself
    db.session.commit()
    return result.rowcount == 1


def _score_changed(submission_id: int) -> None:
    """Queue the student's counted score for the LMS (grade passback).

    A new result of a notebook (a regrade) first drops the grades a person gave cells it
    no longer has waiting for one: the counted score then holds only the ones that stand.
    """
    keep_matching(submission_id)
    assignment, user = db.session.execute(
        sa.select(Assignment, User)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .join(User, User.id == Submission.user_id)
        .where(Submission.id == submission_id)
    ).one()
    passback.score_changed(assignment, user)
