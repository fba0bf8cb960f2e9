"""A course's own settings: its title, term and time zone. Knows nothing of HTTP.

Checked as when the course was created, audited with what they were before; the
caller commits.
"""

import sqlalchemy as sa

from server.courses import audit
from server.courses.people import _check_course
from server.extensions import db
from server.models import Course, Exercise, Quiz, User


def update_course(course: Course, actor: User | None, title: str, term: str, timezone: str) -> bool:
    """Change a course's title, term and time zone; False when nothing changed."""
    title, term, timezone = title.strip(), term.strip(), timezone.strip()
    _check_course(course.slug, title, term, timezone)
    before = settings_of(course)
    course.title, course.term, course.timezone = title, term, timezone
    after = settings_of(course)
    if after == before:
        return False
    audit.record(course, actor, "course.update", course.slug, before, after)
    return True


def settings_of(course: Course) -> dict[str, str]:
    """A course's settings as the audit log keeps them."""
    return {"title": course.title, "term": course.term, "timezone": course.timezone}


def content_choices() -> list[tuple[str, str, str]]:
    """Every synced quiz and exercise as (slug, kind, title of its newest version), by slug."""
    found: dict[str, tuple[str, str, str]] = {}
    for model, kind in ((Quiz, "quiz"), (Exercise, "exercise")):
        query = sa.select(model.slug, model.title).order_by(model.slug, model.version)
        for slug, title in db.session.execute(query):
            found[f"{kind}:{slug}"] = (slug, kind, title)  # by version: the newest title wins
    return sorted(found.values())
