"""Extensions: one student's own due date and late window for one assignment.

Knows nothing of HTTP. Granting, changing and revoking are audited, and the student's
counted score, recomputed on read under the new dates, is queued for the LMS in the
same transaction. The caller commits.
"""

from datetime import datetime

import sqlalchemy as sa

from server.courses import audit
from server.courses.assignments import parse_time, rescore
from server.courses.people import Refused
from server.extensions import db
from server.models import Assignment, Enrollment, Extension, Role, User
from server.scoring import late


def student_of(assignment: Assignment, email: str) -> User:
    """The enrolled student of the assignment's course with that e-mail; Refused otherwise."""
    email = (email or "").strip().lower()
    user = db.session.scalar(
        sa.select(User)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(
            User.email == email,
            Enrollment.course_id == assignment.course_id,
            Enrollment.role == Role.STUDENT,
        )
    )
    if user is None:
        raise Refused(f"{email[:254]!r} is not a student of the course", "email")
    return user


def grant(
    assignment: Assignment,
    email: str,
    due_at: datetime | str | None,
    late_until: datetime | str | None,
    actor: User | None,
) -> Extension:
    """Give a student their own due date (and late window), or change the one they have."""
    student = student_of(assignment, email)
    due, until = parse_time(due_at, "due_at"), parse_time(late_until, "late_until")
    _check(assignment, due, until)
    extension = late.extension_of(assignment.id, student.id)
    before = _shown(extension)
    if extension is None:
        extension = Extension(assignment_id=assignment.id, user_id=student.id, due_at=due)
        db.session.add(extension)
    extension.due_at, extension.late_until = due, until
    target = f"{assignment.slug} {student.email}"
    audit.record(assignment.course, actor, "extension.grant", target, before, _shown(extension))
    rescore(assignment, [student.id])
    return extension


def revoke(assignment: Assignment, email: str, actor: User | None) -> bool:
    """Take a student's extension back (the assignment's dates apply again); False if none."""
    student = student_of(assignment, email)
    extension = late.extension_of(assignment.id, student.id)
    if extension is None:
        return False
    target = f"{assignment.slug} {student.email}"
    audit.record(assignment.course, actor, "extension.revoke", target, _shown(extension), None)
    db.session.delete(extension)
    rescore(assignment, [student.id])
    return True


def _check(assignment: Assignment, due: datetime | None, until: datetime | None) -> None:
    """An extension needs a due date after the opening and a late window not before it."""
    if due is None:
        raise Refused("an extension needs due_at, an ISO 8601 time with its offset", "due_at")
    if assignment.opens_at is not None and due <= assignment.opens_at:
        raise Refused("the due date must be after the assignment opens", "due_at")
    if until is not None and until < due:
        raise Refused("late_until must not be before the due date", "late_until")


def _shown(extension: Extension | None) -> dict | None:
    """An extension's dates as the audit log keeps them."""
    if extension is None:
        return None
    until = extension.late_until
    return {"due_at": extension.due_at.isoformat(), "late_until": until and until.isoformat()}
