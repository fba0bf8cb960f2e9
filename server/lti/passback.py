"""Grade passback: every counted score goes to the LMS line item (LTI AGS), never lost.

score_changed() writes the student's newest counted score into the outbox
(lti_passback, one row per resource link and student) inside the caller's transaction,
so a score and its passback commit or roll back together. A Sender (threads of the web
process in embedded mode, of each `rubric worker` in scale-out) claims due rows, posts
them to `{lineitem}/scores`, and marks a row sent only if it did not change meanwhile;
a failure is retried with backoff, a refusal or too many tries stays failed, shown to
the instructor and resendable.
"""

import logging
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app
from sqlalchemy.dialects import postgresql, sqlite

from server.extensions import db
from server.lti import platforms, services
from server.models import (
    Assignment,
    LtiContext,
    LtiPassback,
    LtiResourceLink,
    LtiUser,
    PassbackStatus,
    QuizAttempt,
    Submission,
    User,
)
from server.models.types import utcnow
from server.scoring.gradebook import counted_score, students_of
from server.submissions.sessions import first_line, release_session

log = logging.getLogger("rubric.lti")

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCORE_SCOPE = AGS + "score"
# Finding and creating line items; some platforms ask the read-only scope for a GET.
LINEITEM_SCOPES = (AGS + "lineitem", AGS + "lineitem.readonly")
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
# Per row, AGS timestamps must increase: a change within the same clock tick (or on a
# machine whose clock is behind) still gets a later one.
TICK = timedelta(milliseconds=1)
SENDER = "rubric_lti_sender"  # app.extensions key
_WAKE = "rubric_lti_passback"  # session.info flag: rows were written, wake after commit

DEFAULTS = {
    "RUBRIC_LTI_PASSBACK_THREADS": 8,  # scores posted at once (the LMS may be slow)
    "RUBRIC_LTI_PASSBACK_POLL_SECONDS": 5.0,  # look for due rows at least this often
    "RUBRIC_LTI_PASSBACK_BACKOFF_SECONDS": 10.0,  # first retry; doubles each time
    "RUBRIC_LTI_PASSBACK_BACKOFF_MAX_SECONDS": 900.0,  # ... up to 15 minutes
    "RUBRIC_LTI_PASSBACK_MAX_TRIES": 20,  # then failed (about 3.5 hours of retries)
}


def setting(name: str):
    """A passback setting of the current app; its default when unset or not a number."""
    default = DEFAULTS[name]
    try:
        return type(default)(current_app.config.get(name, default))
    except (TypeError, ValueError):  # a typo in the environment must not stop grading
        log.warning("%s is not a number, using %s", name, default)
        return default


# -- the outbox, written with the score ---------------------------------------------


def score_changed(assignment: Assignment, user, *, resend: bool = False) -> int:
    """Queue the student's counted score for every LMS link of the assignment.

    The one entry point for a changed score; call it before the commit that stores
    the change. Writes nothing when the assignment has no link the student has an LMS
    identity for, or when the score is the one already queued or sent (unless resend).
    Returns the rows queued.
    """
    links = _links_of(assignment.id, user.id)
    if not links:
        return 0
    score = counted_score(assignment.id, user.id)
    if score is None:
        return 0
    queued = sum(_upsert(link, assignment.id, user.id, score, resend) for link in links)
    if queued:
        db.session.info[_WAKE] = True
    return queued


def _links_of(assignment_id: int, user_id: int) -> list[int]:
    """The assignment's resource links on the platforms where the student has an identity."""
    query = (
        sa.select(LtiResourceLink.id)
        .join(
            LtiUser,
            sa.and_(LtiUser.issuer == LtiResourceLink.issuer, LtiUser.user_id == user_id),
        )
        .where(LtiResourceLink.assignment_id == assignment_id)
        .order_by(LtiResourceLink.id)
    )
    return list(db.session.scalars(query))


def _insert_statement():
    """INSERT ... ON CONFLICT DO NOTHING in the database's dialect."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(LtiPassback).on_conflict_do_nothing(
        index_elements=["resource_link_id", "user_id"]
    )


def _upsert(link_id: int, assignment_id: int, user_id: int, score, resend: bool) -> bool:
    """Insert the row or, if it exists, make it send this score; False when nothing changed."""
    given, maximum = score
    now = _millisecond(utcnow())  # as sent: AGS timestamps carry milliseconds
    values = {
        "resource_link_id": link_id,
        "user_id": user_id,
        "assignment_id": assignment_id,
        "score_given": given,
        "score_maximum": maximum,
        "changed_at": now,
        "version": 1,
        "status": PassbackStatus.PENDING,
        "tries": 0,
        "next_try_at": now,
        "last_error": "",
    }
    # RETURNING, not rowcount: an ORM-enabled INSERT on PostgreSQL reports no rowcount.
    inserted = db.session.execute(_insert_statement().values(**values).returning(LtiPassback.id))
    if inserted.first() is not None:
        return True
    # The row exists: lock it (PostgreSQL) so two changes cannot both read its version.
    row = db.session.execute(
        sa.select(LtiPassback.id, LtiPassback.score_given, LtiPassback.score_maximum,
                  LtiPassback.status, LtiPassback.changed_at)
        .where(LtiPassback.resource_link_id == link_id, LtiPassback.user_id == user_id)
        .with_for_update()
    ).one()  # fmt: skip
    same = (row.score_given, row.score_maximum) == (given, maximum)
    if same and row.status != PassbackStatus.FAILED and not resend:
        return False
    db.session.execute(
        sa.update(LtiPassback)
        .where(LtiPassback.id == row.id)
        .values(
            score_given=given,
            score_maximum=maximum,
            changed_at=max(now, row.changed_at + TICK),
            version=LtiPassback.version + 1,
            status=PassbackStatus.PENDING,
            tries=0,
            next_try_at=now,
            last_error="",
        )
    )
    return True


def _millisecond(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@sa.event.listens_for(so.Session, "after_commit")
def _wake_after_commit(session: so.Session) -> None:
    """Rows were committed: wake this process's sender (never before: it would not see them)."""
    if session.info.pop(_WAKE, False) and current_app:
        try:
            sender = _sender_for(current_app._get_current_object())
            if sender is not None:
                sender.wake()
        except Exception:  # the score is committed: the next look (or a restart) sends it
            log.exception("could not wake the passback sender")


def resend(assignment: Assignment, user_ids: list[int] | None = None, wake: bool = True) -> int:
    """Queue again the counted score of every graded student (or of these); commit.

    wake=False leaves the rows to whoever sends them (the CLI delivers them itself).
    """
    students = user_ids if user_ids is not None else graded_students(assignment.id)
    queued = 0
    for user_id in students:
        queued += score_changed(assignment, _Id(user_id), resend=True)
    if not wake:
        db.session.info.pop(_WAKE, None)
    db.session.commit()
    return queued


@dataclass(frozen=True)
class _Id:
    id: int


def graded_students(assignment_id: int) -> list[int]:
    """Students with a graded attempt or submission on the assignment."""
    found: set[int] = set()
    for model in (QuizAttempt, Submission):
        query = sa.select(model.user_id).where(
            model.assignment_id == assignment_id, model.score.is_not(None)
        )
        found.update(db.session.scalars(query.distinct()))
    return sorted(found)


# -- sending ----------------------------------------------------------------------------


def claim_due(limit: int, assignment_id: int | None = None) -> list[int]:
    """Lease up to `limit` due rows to this sender; their ids.

    The UPDATE re-checks that each row is still free, so two senders (threads,
    processes) never hold one row; PostgreSQL's SKIP LOCKED lets them pass each other.
    """
    now = utcnow()
    free = sa.or_(LtiPassback.lease_until.is_(None), LtiPassback.lease_until < now)
    due = sa.and_(
        LtiPassback.status == PassbackStatus.PENDING,
        sa.or_(LtiPassback.next_try_at.is_(None), LtiPassback.next_try_at <= now),
        free,
    )
    if assignment_id is not None:
        due = sa.and_(due, LtiPassback.assignment_id == assignment_id)
    query = sa.select(LtiPassback.id).where(due).order_by(LtiPassback.next_try_at).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if not ids:
        db.session.commit()
        return []
    lease = now + _lease()
    claimed = db.session.scalars(
        sa.update(LtiPassback)
        .where(LtiPassback.id.in_(ids), free)
        .values(lease_until=lease)
        .returning(LtiPassback.id)
    ).all()
    db.session.commit()
    return list(claimed)


def _lease() -> timedelta:
    """How long a sender holds a row: its token, line item and score calls, twice over."""
    timeout = float(current_app.config.get("RUBRIC_LTI_HTTP_TIMEOUT", 5.0))
    return timedelta(seconds=max(60.0, 8 * timeout))


@dataclass(frozen=True)
class _Job:
    """What one delivery sends, read before any HTTP call (no transaction held open)."""

    row_id: int
    version: int
    link_id: int
    issuer: str
    sub: str | None
    payload: dict


def deliver(row_id: int) -> PassbackStatus | None:
    """Send one claimed row; return its status afterwards (None if it was gone)."""
    job = _job(row_id)
    if job is None:
        return None
    try:
        lineitem = _lineitem_of(job)
        platform = _platform_of(job.issuer)
        if job.sub is None:
            raise services.ServiceError("the student has no identity on this LMS")
        payload = job.payload | {"userId": job.sub}
        services.call(
            platform, "POST", scores_url(lineitem), [SCORE_SCOPE],
            json=payload, content_type=SCORE_TYPE,
        )  # fmt: skip
    except services.ServiceError as error:
        return _failed(job, error)
    except Exception as error:  # a bug must not leave the row leased and silent
        log.exception("passback failed", extra={"passback_id": row_id})
        return _failed(job, services.ServiceError(f"internal error: {error}", retryable=True))
    return _sent(job)


def _job(row_id: int) -> _Job | None:
    row = db.session.get(LtiPassback, row_id)
    if row is None or row.status != PassbackStatus.PENDING:
        if row is not None:
            row.lease_until = None
        db.session.commit()
        return None
    link = row.resource_link
    sub = db.session.scalar(
        sa.select(LtiUser.sub).filter_by(issuer=link.issuer, user_id=row.user_id)
    )
    job = _Job(row.id, row.version, link.id, link.issuer, sub, score_payload(row))
    db.session.commit()  # end the read: HTTP calls follow, and may take seconds
    return job


def score_payload(row: LtiPassback) -> dict:
    """The AGS score of a row (without userId): a final grade of finished work."""
    return {
        "scoreGiven": row.score_given,
        "scoreMaximum": row.score_maximum,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": row.changed_at.isoformat(timespec="milliseconds"),
    }


def scores_url(lineitem: str) -> str:
    """The line item's scores endpoint: '/scores' after its path, keeping any query."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _platform_of(issuer: str):
    platform = platforms.find_platform(issuer) or platforms.find_platform_any(issuer)
    if platform is None:
        raise services.ServiceError(f"no platform registered for {issuer}")
    return platform


_lineitem_locks: dict[int, threading.Lock] = {}
_lineitem_locks_lock = threading.Lock()


def _lineitem_of(job: _Job) -> str:
    """The link's line item URL: from the launch, else found or created once per link."""
    link = db.session.get(LtiResourceLink, job.link_id)
    if link.lineitem_url:
        url = link.lineitem_url
        db.session.commit()
        return url
    with _lineitem_locks_lock:
        lock = _lineitem_locks.setdefault(job.link_id, threading.Lock())
    with lock:  # a thousand rows of one new link must not create a thousand line items
        db.session.expire_all()
        link = db.session.get(LtiResourceLink, job.link_id)
        if not link.lineitem_url:
            link.lineitem_url = _find_or_create_lineitem(link, job)
        url = link.lineitem_url
        db.session.commit()
        return url


def _find_or_create_lineitem(link: LtiResourceLink, job: _Job) -> str:
    """Find the link's line item in the context's container, else create it (AGS 3.2)."""
    context = db.session.get(LtiContext, link.context_id) if link.context_id else None
    if context is None or not context.lineitems_url:
        raise services.ServiceError("the LMS offered no line item for this link (no AGS)")
    platform = _platform_of(link.issuer)
    assignment = link.assignment
    items = services.call(
        platform, "GET", context.lineitems_url, LINEITEM_SCOPES,
        accept=LINEITEMS_TYPE, params={"resource_link_id": link.resource_link_id},
    ).json()  # fmt: skip
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("resourceLinkId") == link.resource_link_id:
            return item["id"]
    body = {
        "label": (assignment.title if assignment else link.title) or link.resource_link_id,
        "scoreMaximum": job.payload["scoreMaximum"],
        "resourceLinkId": link.resource_link_id,
        "resourceId": assignment.slug if assignment else link.resource_link_id,
    }
    created = services.call(
        platform, "POST", context.lineitems_url, LINEITEM_SCOPES,
        json=body, content_type=LINEITEM_TYPE, accept=LINEITEM_TYPE,
    ).json()  # fmt: skip
    return created["id"]


def _sent(job: _Job) -> PassbackStatus:
    """Mark the row sent, unless its score changed meanwhile (then the newer one goes next)."""
    now = utcnow()
    done = db.session.execute(
        sa.update(LtiPassback)
        .where(LtiPassback.id == job.row_id, LtiPassback.version == job.version)
        .values(status=PassbackStatus.SENT, sent_at=now, lease_until=None, last_error="")
    ).rowcount
    if not done:
        _release(job.row_id)
    db.session.commit()
    return PassbackStatus.SENT if done else PassbackStatus.PENDING


def _failed(job: _Job, error: services.ServiceError) -> PassbackStatus:
    """Schedule a retry with backoff, or fail for good: refused, or tried too often."""
    row = db.session.get(LtiPassback, job.row_id)
    if row is None:
        return None
    if row.version != job.version:  # a newer score is waiting: it gets fresh tries
        _release(job.row_id)
        db.session.commit()
        return row.status
    row.tries += 1
    row.last_error = str(error)[:2000]
    row.lease_until = None
    if error.retryable and row.tries < setting("RUBRIC_LTI_PASSBACK_MAX_TRIES"):
        row.next_try_at = utcnow() + backoff(row.tries)
    else:
        row.status = PassbackStatus.FAILED
        log.warning("passback failed for good: %s", row.last_error, extra={"passback_id": row.id})
    status = row.status
    db.session.commit()
    return status


def _release(row_id: int) -> None:
    db.session.execute(
        sa.update(LtiPassback).where(LtiPassback.id == row_id).values(lease_until=None)
    )


def backoff(tries: int) -> timedelta:
    """The wait after the n-th failed try: base × 2^(n-1), capped."""
    base = setting("RUBRIC_LTI_PASSBACK_BACKOFF_SECONDS")
    cap = setting("RUBRIC_LTI_PASSBACK_BACKOFF_MAX_SECONDS")
    return timedelta(seconds=min(cap, base * 2 ** min(tries - 1, 30)))


def deliver_due(assignment_id: int | None = None, limit: int = 100) -> dict[str, int]:
    """Claim and send due rows here, one by one (the CLI); counts by resulting status."""
    counts: dict[str, int] = {}
    while ids := claim_due(limit, assignment_id):
        for row_id in ids:
            status = deliver(row_id)
            if status is not None:
                counts[status.value] = counts.get(status.value, 0) + 1
        if len(ids) < limit:
            break
    return counts


class Sender:
    """Threads that deliver due rows, woken when rows are committed and every few seconds.

    One loop claims rows for the free delivery threads, so a slow LMS (each call taking
    long) is worked on by a bounded pool, off the request and grading threads.
    """

    def __init__(self, app: Flask):
        self.app_ref = weakref.ref(app)  # a test's app going away ends the thread
        with app.app_context():
            self.slots = setting("RUBRIC_LTI_PASSBACK_THREADS")
            self.poll = setting("RUBRIC_LTI_PASSBACK_POLL_SECONDS")
        self.pool = ThreadPoolExecutor(self.slots, thread_name_prefix="rubric-passback")
        self.busy = 0
        self.lock = threading.Lock()
        self.woken = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="rubric-passback", daemon=True)
        self.thread.start()

    def wake(self) -> None:
        """Look for due rows now."""
        self.woken.set()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            self.woken.wait(self.poll)
            self.woken.clear()
            app = self.app_ref()
            if app is None:
                break
            try:
                while not self.stopped.is_set() and self._fill(app):
                    pass
            except Exception:  # never let the thread die: scores would stay unsent
                log.exception("passback round failed")
            del app

    def _fill(self, app: Flask) -> bool:
        """Claim rows for the free threads and hand them out; False when none were claimed."""
        with self.lock:
            free = self.slots - self.busy
        if free <= 0:
            return False  # a finishing delivery wakes the loop
        with app.app_context():
            try:
                ids = claim_due(free)
            except sa.exc.DBAPIError as exc:
                log.warning("passback skipped, database unavailable: %s", first_line(exc.orig))
                return False
            finally:
                release_session()
        for row_id in ids:
            with self.lock:
                self.busy += 1
            self.pool.submit(self._deliver, app, row_id)
        return bool(ids)

    def _deliver(self, app: Flask, row_id: int) -> None:
        with app.app_context():
            try:
                deliver(row_id)
            except sa.exc.DBAPIError as exc:  # the lease expires; another round retries
                log.warning("passback not recorded, database unavailable: %s", first_line(exc.orig))
            except Exception:
                log.exception("passback delivery failed", extra={"passback_id": row_id})
            finally:
                release_session()
                with self.lock:
                    self.busy -= 1
                self.wake()

    def stop(self, timeout: float = 10) -> None:
        """Stop claiming, and let deliveries under way finish."""
        self.stopped.set()
        self.woken.set()
        self.thread.join(timeout)
        self.pool.shutdown(wait=True)


_senders_lock = threading.Lock()


def start_sender(app: Flask) -> "Sender":
    """This process's sender for the app, started on first use."""
    with _senders_lock:
        sender = app.extensions.get(SENDER)
        if sender is None:
            sender = app.extensions[SENDER] = Sender(app)
        return sender


def stop_sender(app: Flask) -> None:
    """Stop this process's sender, if any (tests, shutdown)."""
    with _senders_lock:
        sender = app.extensions.pop(SENDER, None)
    if sender is not None:
        sender.stop()


def _sender_for(app: Flask) -> "Sender | None":
    """The sender to wake: this process's, or a new one in embedded mode.

    In scale-out the workers send (each starts one when ready); a web process that
    writes rows leaves them to the workers' next look.
    """
    sender = app.extensions.get(SENDER)
    if sender is None and not app.config.get("RUBRIC_BROKER_URL"):
        sender = start_sender(app)
    return sender


# -- what the instructor sees -------------------------------------------------------------


@dataclass(frozen=True)
class StudentStatus:
    """Where one student's score stands on one LMS link."""

    student: User
    link: LtiResourceLink
    state: str  # sent, pending, failed, or why nothing is sent: no-identity, no-score, unqueued
    row: LtiPassback | None


def has_links(assignment: Assignment) -> bool:
    """Whether any LMS link points at the assignment (so its scores go back)."""
    query = sa.select(LtiResourceLink.id).where(LtiResourceLink.assignment_id == assignment.id)
    return db.session.scalar(query.limit(1)) is not None


def linked_in(course_id: int) -> set[int]:
    """The ids of a course's assignments that an LMS link points at: one query for all."""
    query = (
        sa.select(LtiResourceLink.assignment_id)
        .join(Assignment, Assignment.id == LtiResourceLink.assignment_id)
        .where(Assignment.course_id == course_id)
        .distinct()
    )
    return set(db.session.scalars(query))


def status_of(assignment: Assignment) -> tuple[list[LtiResourceLink], list[StudentStatus]]:
    """The assignment's LMS links, and every enrolled student's passback state on each."""
    links = list(
        db.session.scalars(
            sa.select(LtiResourceLink)
            .where(LtiResourceLink.assignment_id == assignment.id)
            .order_by(LtiResourceLink.id)
        )
    )
    students = students_of(assignment.course_id)
    rows = {
        (row.resource_link_id, row.user_id): row
        for row in db.session.scalars(
            sa.select(LtiPassback).where(LtiPassback.assignment_id == assignment.id)
        )
    }
    identities = sa.select(LtiUser.issuer, LtiUser.user_id).where(
        LtiUser.user_id.in_([s.id for s in students])
    )
    known = {(issuer, user_id) for issuer, user_id in db.session.execute(identities)}
    graded = set(graded_students(assignment.id))
    statuses = []
    for student in students:
        for link in links:
            row = rows.get((link.id, student.id))
            if row is not None:
                state = row.status.value
            elif (link.issuer, student.id) not in known:
                state = "no-identity"
            else:
                state = "unqueued" if student.id in graded else "no-score"
            statuses.append(StudentStatus(student, link, state, row))
    return links, statuses
