"""Drafts: a student's unsubmitted code, saved by the editor as they type.

One row per student and assignment, overwritten on each save; the page opens on the
newer of the draft and the latest submission, on any computer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, Draft, Submission, User
from server.models.types import utcnow


@dataclass(frozen=True)
class Opening:
    """The code an exercise page opens with, and where it came from."""

    code: str
    source: str  # "draft", "submission" or "starter"
    saved_at: datetime | None = None


def save_draft(assignment: Assignment, user: User, code: str) -> Draft:
    """Keep the student's latest editor contents (one row; a concurrent first save is fine)."""
    draft = _draft(assignment, user)
    if draft is None:
        draft = Draft(assignment_id=assignment.id, user_id=user.id, code=code, saved_at=utcnow())
        try:
            with db.session.begin_nested():
                db.session.add(draft)
        except sa.exc.IntegrityError:  # another tab saved first: update its row instead
            draft = _draft(assignment, user)
    draft.code, draft.saved_at = code, utcnow()
    db.session.commit()
    return draft


def opening_code(assignment: Assignment, user: User, starter: str) -> Opening:
    """Return the newer of the student's draft and latest submission, else the starter."""
    draft = _draft(assignment, user)
    latest = db.session.execute(
        sa.select(Submission.code, Submission.submitted_at)
        .where(Submission.assignment_id == assignment.id, Submission.user_id == user.id)
        .order_by(Submission.number.desc())
        .limit(1)
    ).first()
    if draft is not None and (latest is None or draft.saved_at > latest.submitted_at):
        return Opening(draft.code, "draft", draft.saved_at)
    if latest is not None:
        return Opening(latest.code, "submission", latest.submitted_at)
    return Opening(starter, "starter")


def _draft(assignment: Assignment, user: User) -> Draft | None:
    return db.session.scalar(
        sa.select(Draft).where(Draft.assignment_id == assignment.id, Draft.user_id == user.id)
    )
