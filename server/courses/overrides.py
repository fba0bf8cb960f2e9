"""Overrides: a student's score on an assignment set by hand, with a reason, or excused.

Knows nothing of HTTP. The override replaces what the student's work would count
(server/scoring/gradebook.py), is marked in the gradebook, and can be cleared, which
brings the computed score back. Every change is audited with the counted score before
and after, and the new counted score is queued for the LMS in the same transaction.
An excused student has no score to send: the LMS keeps what it had. The caller commits.
"""

import math
from typing import Any

import sqlalchemy as sa

from server.courses import audit
from server.courses.assignments import rescore
from server.courses.extensions import student_of
from server.courses.people import Refused
from server.extensions import db
from server.models import Assignment, ScoreOverride, User
from server.scoring.gradebook import counted_entry, entry_json, points_possible

REASON_MAX = 2000


def override(
    assignment: Assignment,
    email: str,
    score: Any,
    excused: bool,
    reason: str,
    actor: User | None,
) -> ScoreOverride:
    """Set a student's counted score by hand, or excuse them; replaces an earlier override."""
    student = student_of(assignment, email)
    reason = _reason(reason)
    maximum = _maximum(assignment, student)
    value = None if excused else _score(score, maximum)
    before = _counted(assignment, student)
    found = _override_of(assignment, student)
    if found is None:
        found = ScoreOverride(assignment_id=assignment.id, user_id=student.id)
        db.session.add(found)
    found.score, found.max_score, found.excused, found.reason = value, maximum, excused, reason
    found.set_by = actor.email if actor is not None else audit.COMMAND_LINE
    db.session.flush()
    after = _counted(assignment, student) | {"reason": reason}
    target = f"{assignment.slug} {student.email}"
    audit.record(assignment.course, actor, "score.override", target, before, after)
    rescore(assignment, [student.id])
    return found


def clear(assignment: Assignment, email: str, actor: User | None) -> bool:
    """Undo a student's override: their work counts again. False when there was none."""
    student = student_of(assignment, email)
    found = _override_of(assignment, student)
    if found is None:
        return False
    before = _counted(assignment, student) | {"reason": found.reason}
    db.session.delete(found)
    db.session.flush()
    after = _counted(assignment, student)
    target = f"{assignment.slug} {student.email}"
    audit.record(assignment.course, actor, "score.clear", target, before, after)
    rescore(assignment, [student.id])
    return True


def _counted(assignment: Assignment, student: User) -> dict:
    """The student's entry as the gradebook shows it, for the audit log."""
    entry = counted_entry(assignment, student.id)
    if entry is None:
        return {"score": None, "overridden": False, "excused": False}
    shown = entry_json(entry)
    return {key: shown[key] for key in ("score", "max_score", "overridden", "excused")}


def _override_of(assignment: Assignment, student: User) -> ScoreOverride | None:
    query = sa.select(ScoreOverride).where(
        ScoreOverride.assignment_id == assignment.id, ScoreOverride.user_id == student.id
    )
    return db.session.scalar(query)


def _maximum(assignment: Assignment, student: User) -> float:
    """The points possible: the content's newest version, else the student's own work."""
    found = points_possible(assignment)
    if found is None:
        entry = counted_entry(assignment, student.id)
        found = entry.max_score if entry is not None else None
    if found is None:
        raise Refused("the assignment's content is not synced: its maximum is unknown", "score")
    return found


def _score(score: Any, maximum: float) -> float:
    """A score from 0 to the maximum."""
    if score is None or isinstance(score, bool):
        raise Refused("give a score, or excuse the student", "score")
    try:
        value = float(score)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 <= value <= maximum:
        raise Refused(f"the score is a number from 0 to {maximum:g}", "score")
    return value


def _reason(reason: Any) -> str:
    """A reason is required: the audit log and the student's questions need it."""
    if not isinstance(reason, str) or not reason.strip():
        raise Refused("give a reason for the override", "reason")
    if len(reason) > REASON_MAX:
        raise Refused(f"the reason is at most {REASON_MAX} characters", "reason")
    return reason.strip()
