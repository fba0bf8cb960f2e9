"""When a student sees an assignment's feedback: hidden-test names, quiz explanations and keys.

Knows nothing of HTTP. `after_due` waits for the student's own due date, so an
extension or an accommodation keeps the answers from them until their work is due.
"""

from datetime import datetime

from server.models import Assignment, FeedbackRelease
from server.scoring import late


def feedback_released(assignment: Assignment, user_id: int, now: datetime) -> bool:
    """Whether this student may see the assignment's full feedback at this moment."""
    setting = FeedbackRelease(assignment.feedback_release or FeedbackRelease.IMMEDIATELY)
    if setting == FeedbackRelease.IMMEDIATELY:
        return True
    if setting == FeedbackRelease.NEVER:
        return False
    due = late.dates_for(assignment, user_id).due_at
    return due is None or now >= due
