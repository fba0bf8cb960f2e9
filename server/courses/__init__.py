"""Courses and assignments as a user may see them. Knows nothing of HTTP.

Who may do what in a course: a student sees their own work; the course's staff (its
TAs and instructors, and site admins) see and grade everyone's; only instructors and
admins configure it (roster, roles, assignments, the audit log). The roster, the audit
log and creating courses live beside this module (roster.py, audit.py, people.py).
"""

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, Course, Enrollment, Role, Submission, User

# The course roles that see and grade everyone's work.
STAFF = frozenset({Role.TA, Role.INSTRUCTOR})


class NotFound(LookupError):
    """The course or assignment does not exist, or the user may not see it."""


class Forbidden(PermissionError):
    """The user may see the course but not this part of it."""


def course_role(user: User, course: Course) -> Role | None:
    """Return the user's role in a course (admins count as instructors), or None."""
    return _role_in(user, course.id)


def _role_in(user: User, course_id: int) -> Role | None:
    """course_role by the course's id."""
    if user.role == Role.ADMIN:
        return Role.INSTRUCTOR
    return db.session.scalar(
        sa.select(Enrollment.role).where(
            Enrollment.course_id == course_id, Enrollment.user_id == user.id
        )
    )


def courses_for(user: User) -> list[Course]:
    """Return the courses a user is enrolled in (all of them for an admin)."""
    query = sa.select(Course).order_by(Course.title)
    if user.role != Role.ADMIN:
        query = query.join(Enrollment).where(Enrollment.user_id == user.id)
    return list(db.session.scalars(query))


def get_course(user: User, slug: str) -> Course:
    """Return a course the user belongs to; unknown and foreign courses look the same."""
    course = db.session.scalar(sa.select(Course).where(Course.slug == slug))
    if course is None or course_role(user, course) is None:
        raise NotFound(f"no course {slug!r}")
    return course


# One query for the course, the assignment and the user's enrollment: this sits on
# the path of every attempt and submission, so it is built once and only bound.
_ASSIGNMENT_FOR = (
    sa.select(Course, Assignment, Enrollment.role)
    .outerjoin(
        Assignment, (Assignment.course_id == Course.id) & (Assignment.slug == sa.bindparam("slug"))
    )
    .outerjoin(
        Enrollment,
        (Enrollment.course_id == Course.id) & (Enrollment.user_id == sa.bindparam("user_id")),
    )
    .where(Course.slug == sa.bindparam("course_slug"))
)


def get_assignment(user: User, course_slug: str, slug: str) -> Assignment:
    """Return an assignment of a course the user belongs to."""
    params = {"slug": slug, "user_id": user.id, "course_slug": course_slug}
    row = db.session.execute(_ASSIGNMENT_FOR, params).first()
    if row is None or (row.role is None and user.role != Role.ADMIN):
        raise NotFound(f"no course {course_slug!r}")
    if row.Assignment is None:
        raise NotFound(f"no assignment {slug!r} in course {course_slug!r}")
    return row.Assignment


def assignment_by_slugs(course_slug: str, slug: str) -> Assignment:
    """Return an assignment by its course's slug and its own, for operators (no user)."""
    query = sa.select(Assignment).join(Course)
    assignment = db.session.scalar(query.where(Course.slug == course_slug, Assignment.slug == slug))
    if assignment is None:
        raise NotFound(f"no assignment {slug!r} in course {course_slug!r}")
    return assignment


def require_instructor(user: User, course: Course) -> None:
    """Raise Forbidden unless the user teaches the course (configuring it: not a TA)."""
    if course_role(user, course) != Role.INSTRUCTOR:
        raise Forbidden("only the course's instructors may do this")


def is_staff(user: User, course: Course) -> bool:
    """Tell whether the user sees and grades everyone's work in the course (TA or instructor)."""
    return course_role(user, course) in STAFF


def require_staff(user: User, course: Course) -> None:
    """Raise Forbidden unless the user is a TA or an instructor of the course."""
    if not is_staff(user, course):
        raise Forbidden("only the course's instructors and TAs may do this")


def enroll(user: User, course: Course, role: Role = Role.STUDENT) -> Enrollment:
    """Enroll a user in a course, keeping an existing enrollment."""
    enrollment = db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.course_id == course.id, Enrollment.user_id == user.id
        )
    )
    if enrollment is None:
        enrollment = Enrollment(course_id=course.id, user_id=user.id, role=role)
        db.session.add(enrollment)
    return enrollment


def can_see_submission(user: User, submission: Submission) -> bool:
    """A student sees their own submissions; an instructor those of their course."""
    return can_see_work_of(user, submission.user_id, submission.assignment.course_id)


def can_see_work_of(user: User, owner_id: int, course_id: int) -> bool:
    """A student sees their own work; a TA or an instructor that of their course."""
    return owner_id == user.id or _role_in(user, course_id) in STAFF
