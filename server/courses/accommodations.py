"""Accommodations: a course-wide shift of every due date and late window of one student.

Knows nothing of HTTP. An accommodation moves the student's dates on every assignment
of the course (server/scoring/late.py), except where an extension of their own for an
assignment says otherwise. Granting, changing and revoking are audited, and the
student's counted scores, recomputed on read under the new dates, are queued for the
LMS in the same transaction. The caller commits.
"""

import math
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.courses import audit
from server.courses.assignments import rescore
from server.courses.people import Refused, _enrollment
from server.extensions import db
from server.models import Accommodation, Course, Role, User

MAX_HOURS = 24 * 365  # a year: more is surely a typing error
REASON_MAX = 2000


def grant(course: Course, email: str, hours: Any, reason: Any, actor: User | None) -> Accommodation:
    """Shift every due date of a student by some hours, or change the shift they have."""
    student = student_in(course, email)
    seconds = _seconds(hours)
    reason = _reason(reason)
    found = accommodation_of(course, student)
    before = shown(found)
    if found is None:
        found = Accommodation(course_id=course.id, user_id=student.id)
        db.session.add(found)
    found.shift_seconds, found.reason = seconds, reason
    found.granted_by = actor.email if actor is not None else audit.COMMAND_LINE
    audit.record(course, actor, "accommodation.grant", student.email, before, shown(found))
    _rescore(course, student)
    return found


def revoke(course: Course, email: str, actor: User | None) -> bool:
    """Take a student's accommodation back (the assignments' dates apply); False if none."""
    student = student_in(course, email)
    found = accommodation_of(course, student)
    if found is None:
        return False
    audit.record(course, actor, "accommodation.revoke", student.email, shown(found), None)
    db.session.delete(found)
    _rescore(course, student)
    return True


def accommodations(course: Course) -> list[Accommodation]:
    """Every accommodation of a course, by the student's e-mail."""
    query = (
        sa.select(Accommodation)
        .join(Accommodation.user)
        .options(so.contains_eager(Accommodation.user))  # the page shows each one's e-mail
        .where(Accommodation.course_id == course.id)
        .order_by(User.email)
    )
    return list(db.session.scalars(query))


def accommodation_of(course: Course, student: User) -> Accommodation | None:
    """The student's accommodation in the course, or None."""
    query = sa.select(Accommodation).where(
        Accommodation.course_id == course.id, Accommodation.user_id == student.id
    )
    return db.session.scalar(query)


def student_in(course: Course, email: Any) -> User:
    """The enrolled student of the course with that e-mail; Refused otherwise."""
    email = email.strip().lower() if isinstance(email, str) else ""
    enrollment = _enrollment(course, email)
    if enrollment is None or enrollment.role != Role.STUDENT:
        raise Refused(f"{email[:254]!r} is not a student of the course", "email")
    return enrollment.user


def shown(found: Accommodation | None) -> dict | None:
    """An accommodation as the audit log and the API show it."""
    if found is None:
        return None
    return {"shift_hours": round(found.shift_seconds / 3600, 4), "reason": found.reason}


def _rescore(course: Course, student: User) -> None:
    """Queue the student's new counted score on every assignment for the LMS."""
    db.session.flush()
    for assignment in course.assignments:
        rescore(assignment, [student.id])


def _seconds(hours: Any) -> int:
    """A shift from a few minutes to MAX_HOURS, in whole seconds."""
    try:
        number = float(hours) if not isinstance(hours, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not 0 < number <= MAX_HOURS or round(number * 3600) < 60:
        message = f"the shift is a number of hours above 0 and at most {MAX_HOURS}"
        raise Refused(message, "shift_hours")
    return round(number * 3600)


def _reason(reason: Any) -> str:
    """An optional reason, kept in the audit log."""
    if reason is None:
        return ""
    if not isinstance(reason, str) or len(reason) > REASON_MAX or "\x00" in reason:
        raise Refused(f"the reason is text of at most {REASON_MAX} characters", "reason")
    return reason.strip()
