"""The audit log: who changed what in a course, when, and what it was before and after.

`record` adds the entry to the session of the change it describes, so both are
committed, or rolled back, together. Entries are only ever added: nothing in Rubric
updates or deletes them.
"""

from typing import Any

import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEntry, Course, User
from server.models.types import json_text, json_value

# The actor of changes made with the `rubric` command, on the server itself.
COMMAND_LINE = "command line"
# A page or an answer shows at most this many entries, the newest first.
SHOWN = 1000


def record(
    course: Course, actor: User | str | None, action: str, target: str, before: Any, after: Any
) -> AuditEntry:
    """Log a change in the current transaction; actor None is the command line, a text
    another system (an LMS)."""
    by_user = isinstance(actor, User)
    entry = AuditEntry(
        course_id=course.id,
        actor_id=actor.id if by_user else None,
        actor=actor.email if by_user else (actor or COMMAND_LINE)[:200],
        action=action,
        target=target[:300],
        before=None if before is None else json_text(before),
        after=None if after is None else json_text(after),
    )
    db.session.add(entry)
    return entry


def entries(course: Course, limit: int = SHOWN) -> list[AuditEntry]:
    """Return a course's latest entries, the newest first."""
    query = sa.select(AuditEntry).where(AuditEntry.course_id == course.id)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def page(
    course: Course, limit: int, before: int | None = None
) -> tuple[list[AuditEntry], int | None]:
    """One page of a course's entries, the newest first, and the cursor of the next (or None).

    The cursor is an entry's id: entries are only ever added, so a page never shifts
    while someone reads the ones after it.
    """
    query = sa.select(AuditEntry).where(AuditEntry.course_id == course.id)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    found = list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    more = len(found) > limit
    return found[:limit], (found[limit - 1].id if more else None)


def as_dict(entry: AuditEntry) -> dict:
    """An entry as the API shows it: times ISO 8601 with their offset."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "before": None if entry.before is None else json_value(entry.before),
        "after": None if entry.after is None else json_value(entry.after),
    }
