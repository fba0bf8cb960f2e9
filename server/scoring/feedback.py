"""What a student is shown of their feedback before the assignment releases it.

An assignment's feedback_release (immediately, after the student's due date, never)
decides when students see hidden-test names and the hints that name a mistake on them,
and a quiz's explanations and right choices. Staff of the course always see everything.
Before release a hidden test is "hidden test N" with its outcome and score, in the
grader's fixed words: nothing the exercise's author wrote about it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.courses import is_staff
from server.courses.release import feedback_released
from server.grading.grader import HIDDEN_FEEDBACK
from server.models import Assignment, User
from server.models.types import utcnow

# The grader's own words for a hidden test (see grader.HIDDEN_FEEDBACK): kept when the
# rest of its feedback (a known mistake's hint, the test's hint) is withheld.
FIXED = frozenset(HIDDEN_FEEDBACK.values()) | {"Failed a hidden test."}
NOT_RUN = ("Not run", "not run:")


def feedback_shown(
    viewer: User, assignment: Assignment, owner_id: int, now: datetime | None = None
) -> bool:
    """Tell whether the viewer sees the full feedback on the owner's work in the assignment."""
    # The release first: "immediately" (the default) answers without a query, on every poll.
    released = feedback_released(assignment, owner_id, now or utcnow())
    return released or is_staff(viewer, assignment.course)


def withheld(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return a code result as a student sees it before release (a copy; None stays None)."""
    if not result or not result.get("parts"):
        return result
    return {**result, "parts": [_part(part) for part in result["parts"]]}


def _part(part: dict[str, Any]) -> dict[str, Any]:
    """Rename a function's hidden tests 'hidden test N' and keep only the grader's words."""
    tests, number = [], 0
    for test in part.get("tests", []):
        if test.get("visible", True):
            tests.append(test)
            continue
        number += 1
        lines = test.get("feedback", "").splitlines()
        kept = [line for line in lines if line in FIXED or line.startswith(NOT_RUN)]
        tests.append({**test, "name": f"hidden test {number}", "feedback": "\n".join(kept)})
    return {**part, "tests": tests}
