"""Publishing a quiz or exercise into a course, and changing its dates and policies.

Knows nothing of HTTP. Every change is audited and, since counted scores are computed
on read from the stored submission times, is in effect at once: each student whose
counted score it changes gets their new score queued for the LMS (grade passback) in
the same transaction. The caller commits.
"""

import math
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from server.courses import audit
from server.courses.people import SLUG, TITLE_MAX, Refused
from server.extensions import db
from server.lti import passback
from server.models import (
    Assignment,
    AssignmentKind,
    Course,
    Exercise,
    FeedbackRelease,
    Quiz,
    QuizAttempt,
    ScoreOverride,
    ScorePolicy,
    Submission,
    User,
)

TIMES = ("opens_at", "due_at", "late_until")
FRACTIONS = ("late_penalty_per_day", "late_penalty_per_hour", "late_penalty_cap")
# What `update` may change, besides the title.
SETTINGS = (*TIMES, *FRACTIONS, "attempt_limit", "score_policy", "feedback_release", "weight")
MAX_ATTEMPTS = 10_000
MAX_WEIGHT = 1000
# Outside these, a student's shift or a time zone's offset leaves Python's dates (a 500).
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


def parse_time(text: Any, field: str) -> datetime | None:
    """An ISO 8601 time with its offset (e.g. 2026-12-01T23:59:00+01:00); None for null/blank.

    A time without an offset is refused: it would mean a different moment on the
    server, in the course's zone and on the student's computer.
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, datetime):  # already read, e.g. by a page in the course's zone
        moment, text = text, text.isoformat()
    elif not isinstance(text, str):
        raise Refused(f"{field} is an ISO 8601 time, e.g. 2026-12-01T23:59:00+01:00", field)
    else:
        moment = _from_iso(text, field)
    if moment.tzinfo is None or moment.utcoffset() is None:
        message = f"{field} needs its UTC offset, e.g. {text[:19]}+01:00 or {text[:19]}Z"
        raise Refused(message, field)
    try:
        return _within_range(moment.astimezone(UTC), field)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last UTC date
        raise Refused(f"{field} is out of range", field) from None


def _from_iso(text: str, field: str) -> datetime:
    """An ISO 8601 text read as a datetime, else Refused."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        message = f"{field}: {text[:40]!r} is not an ISO 8601 time (2026-12-01T23:59:00+01:00)"
        raise Refused(message, field) from None


def _within_range(moment: datetime, field: str) -> datetime:
    """A time from EARLIEST to before LATEST (the years 1900 to 8999), else Refused."""
    if not EARLIEST <= moment < LATEST:
        raise Refused(f"{field} is a date from {EARLIEST.year} to {LATEST.year - 1}", field)
    return moment


def content_kind(content_slug: str) -> AssignmentKind:
    """Whether synced content of that slug is a quiz or an exercise; Refused if neither."""
    if db.session.scalar(sa.select(Quiz.id).where(Quiz.slug == content_slug).limit(1)):
        return AssignmentKind.QUIZ
    if db.session.scalar(sa.select(Exercise.id).where(Exercise.slug == content_slug).limit(1)):
        return AssignmentKind.EXERCISE
    message = f"no quiz or exercise {content_slug[:64]!r} in the content (rubric content sync?)"
    raise Refused(message, "content")


def settings_of(assignment: Assignment) -> dict[str, Any]:
    """An assignment's settings as the audit log and the API show them."""
    shown: dict[str, Any] = {"title": assignment.title, "content": assignment.content_slug}
    for name in SETTINGS:
        value = getattr(assignment, name)
        shown[name] = value.isoformat() if isinstance(value, datetime) else value
    shown["score_policy"] = ScorePolicy(assignment.score_policy).value
    release = assignment.feedback_release or FeedbackRelease.IMMEDIATELY
    shown["feedback_release"] = FeedbackRelease(release).value
    return shown


def publish(
    course: Course,
    content_slug: str,
    actor: User | None,
    slug: str = "",
    title: str = "",
    **settings: Any,
) -> Assignment:
    """Publish a quiz or exercise of the content into a course, with its dates and policies."""
    content_slug = (content_slug or "").strip()
    kind = content_kind(content_slug)
    slug = (slug or content_slug).strip()
    if not SLUG.fullmatch(slug):
        raise Refused("the slug is 1 to 64 lower-case letters, digits and '-'", "slug")
    if _find(course, slug) is not None:
        raise Refused(f"the course already has an assignment {slug!r}", "slug")
    assignment = Assignment(
        course=course,
        slug=slug,
        title=_title(title or content_slug),
        kind=kind,
        content_slug=content_slug,
        score_policy=ScorePolicy.BEST,
        feedback_release=FeedbackRelease.IMMEDIATELY,
    )
    _apply(assignment, settings)
    db.session.add(assignment)
    db.session.flush()
    audit.record(course, actor, "assignment.publish", slug, None, settings_of(assignment))
    return assignment


def update(assignment: Assignment, actor: User | None, **changes: Any) -> int:
    """Change an assignment's title, dates or policies; returns the scores queued for the LMS.

    Only the settings given change; None clears a date, a penalty or the attempt limit.
    """
    before = settings_of(assignment)
    if "title" in changes:
        assignment.title = _title(changes.pop("title") or "")
    _apply(assignment, changes)
    after = settings_of(assignment)
    if after == before:
        return 0
    audit.record(assignment.course, actor, "assignment.update", assignment.slug, before, after)
    return rescore(assignment)


def rescore(assignment: Assignment, user_ids: list[int] | None = None) -> int:
    """Queue for the LMS the counted score of everyone with work on the assignment.

    passback.score_changed writes a row only for a score that differs from the one
    already queued or sent, so students whose score did not change get nothing.
    """
    db.session.flush()
    ids = user_ids if user_ids is not None else _students_with_work(assignment)
    return sum(passback.score_changed(assignment, db.session.get(User, i)) for i in ids)


def _students_with_work(assignment: Assignment) -> list[int]:
    """The students with graded work or an override on the assignment."""
    found: set[int] = set()
    for model in (QuizAttempt, Submission, ScoreOverride):
        query = sa.select(model.user_id).where(model.assignment_id == assignment.id).distinct()
        found.update(db.session.scalars(query))
    return sorted(found)


def _apply(assignment: Assignment, settings: dict[str, Any]) -> None:
    """Check and set the given settings; the whole result must make sense."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise Refused(f"unknown setting {sorted(unknown)[0]!r}", sorted(unknown)[0])
    for name, value in settings.items():
        setattr(assignment, name, _checked(name, value))
    _check_dates(assignment)


def _checked(name: str, value: Any) -> Any:
    """One setting, parsed and checked on its own."""
    if name in TIMES:
        return parse_time(value, name)
    if name in FRACTIONS:
        return _fraction(name, value)
    if name == "attempt_limit":
        return _attempts(value)
    if name == "feedback_release":
        return _release(value)
    if name == "weight":
        return _weight(value)
    try:
        return ScorePolicy(value or ScorePolicy.BEST)
    except (TypeError, ValueError):
        raise Refused("score_policy is best or last", "score_policy") from None


def _fraction(name: str, value: Any) -> float | None:
    """A fraction of the maximum from 0 to 1 (0.1 is 10%), or None."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0 <= number <= 1:
        message = f"{name} is a fraction of the maximum from 0 to 1 (0.1 is 10%), not {value!r}"
        raise Refused(message[:200], name)
    return number


def _release(value: Any) -> FeedbackRelease:
    """When students see hidden-test names, quiz explanations and keys."""
    try:
        return FeedbackRelease(value or FeedbackRelease.IMMEDIATELY)
    except (TypeError, ValueError):
        message = "feedback_release is immediately, after_due or never"
        raise Refused(message, "feedback_release") from None


def _weight(value: Any) -> float:
    """How much an assignment counts in the weighted percentage: 0 (not at all) to MAX_WEIGHT."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0 <= number <= MAX_WEIGHT:
        message = f"weight is a number from 0 to {MAX_WEIGHT} (1: counts as much as the others)"
        raise Refused(message, "weight")
    return number


def _attempts(value: Any) -> int | None:
    """An attempt limit from 1 to MAX_ATTEMPTS, or None for no limit."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPTS:
        message = f"attempt_limit is a whole number from 1 to {MAX_ATTEMPTS}, or null for none"
        raise Refused(message, "attempt_limit")
    return value


def _check_dates(assignment: Assignment) -> None:
    """Refuse dates out of order and a penalty without a late window to apply in."""
    opens, due, until = assignment.opens_at, assignment.due_at, assignment.late_until
    if opens and due and due <= opens:
        raise Refused("the due date must be after the opening date", "due_at")
    if until and not due:
        raise Refused("late_until needs a due date to be late after", "late_until")
    if until and due and until < due:
        raise Refused("late_until must not be before the due date", "late_until")
    if assignment.late_penalty_per_day and assignment.late_penalty_per_hour:
        raise Refused("give a penalty per day or per hour, not both", "late_penalty_per_hour")


def _title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > TITLE_MAX:
        raise Refused(f"the title is 1 to {TITLE_MAX} characters", "title")
    return title


def _find(course: Course, slug: str) -> Assignment | None:
    query = sa.select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug)
    return db.session.scalar(query)
