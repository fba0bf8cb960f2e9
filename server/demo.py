"""The demo course: users, enrollments and one assignment per bundled content item."""

import secrets
from datetime import timedelta

import sqlalchemy as sa

from server.accounts import create_token, ensure_user, hash_password
from server.courses import enroll
from server.extensions import db
from server.models import Assignment, AssignmentKind, Course, Exercise, Quiz, Role, User
from server.models.types import utcnow

INSTRUCTOR = ("instructor@example.edu", "Ada Instructor", "instructor")
STUDENTS = [("student@example.edu", "Sam Student", "student")] + [
    (f"student{n}@example.edu", f"Student {n}", "student") for n in range(2, 10)
]
COURSE_SLUG = "demo"


def seed_demo() -> Course:
    """Create (or keep) the demo course, its users and its assignments."""
    course = db.session.scalar(sa.select(Course).where(Course.slug == COURSE_SLUG))
    if course is None:
        course = Course(slug=COURSE_SLUG, title="Machine Learning 101 (demo)")
        db.session.add(course)
        db.session.flush()
    instructor = ensure_user(*INSTRUCTOR, role=Role.INSTRUCTOR)
    enroll(instructor, course, Role.INSTRUCTOR)
    for email, name, password in STUDENTS:
        enroll(ensure_user(email, name, password), course, Role.STUDENT)
    for slug, title, kind in content_items():
        _ensure_assignment(course, slug, title, kind)
    db.session.commit()
    return course


def enroll_load_students(course: Course, prefix: str, count: int) -> list[str]:
    """Enroll `count` students who only use the API (benchmarks, load tests); return tokens.

    They share one unusable password hash: hashing is slow on purpose, and these
    accounts never log in on the web.
    """
    password_hash = hash_password(secrets.token_hex(16))
    users = [
        User(email=f"{prefix}{n}@example.edu", name=f"{prefix.title()} {n}", role=Role.STUDENT)
        for n in range(count)
    ]
    for user in users:
        user.password_hash = password_hash
    db.session.add_all(users)
    db.session.flush()
    for user in users:
        enroll(user, course, Role.STUDENT)
    tokens = [create_token(user) for user in users]
    db.session.commit()
    return tokens


def content_items() -> list[tuple[str, str, AssignmentKind]]:
    """Return (slug, title, kind) of every synced exercise and quiz, newest titles."""
    items = []
    for model, kind in ((Exercise, AssignmentKind.EXERCISE), (Quiz, AssignmentKind.QUIZ)):
        rows = db.session.execute(
            sa.select(model.slug, model.title).order_by(model.slug, model.version)
        )
        latest = dict(list(rows))  # later versions overwrite earlier ones
        items += [(slug, title, kind) for slug, title in sorted(latest.items())]
    return items


def _ensure_assignment(course: Course, slug: str, title: str, kind: AssignmentKind) -> None:
    exists = db.session.scalar(
        sa.select(Assignment.id).where(Assignment.course_id == course.id, Assignment.slug == slug)
    )
    if exists is None:
        db.session.add(
            Assignment(
                course_id=course.id,
                slug=slug,
                title=title,
                kind=kind,
                content_slug=slug,
                due_at=utcnow().replace(microsecond=0) + timedelta(days=14),
                attempt_limit=None,
            )
        )
