"""Who submitted what to an assignment, and which submission counts in the gradebook.

A notebook submission's score in a listing is its automatic score plus the points people
gave its answers (server/notebooks/manual.py), as the gradebook counts it.
"""

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so

from server.courses import Forbidden, is_staff
from server.extensions import db
from server.models import Assignment, ScorePolicy, Submission, SubmissionStatus, User
from server.notebooks.manual import Tally, tallies
from server.scoring import late


def submissions_of(assignment: Assignment, user: User) -> list[Submission]:
    """Return a student's submissions to an assignment, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Submission)
            .where(Submission.assignment_id == assignment.id, Submission.user_id == user.id)
            .order_by(Submission.number)
        )
    )


def all_submissions(assignment: Assignment, email: str = "") -> list[Submission]:
    """Return every submission to an assignment (one student's, given an email), newest first."""
    query = (
        sa.select(Submission)
        .where(Submission.assignment_id == assignment.id)
        # One query, not one per student; the version's big columns stay deferred.
        .options(so.joinedload(Submission.user), so.joinedload(Submission.exercise))
        .order_by(Submission.id.desc())
    )
    if email:
        query = query.join(User, User.id == Submission.user_id).where(User.email == email)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Listed:
    """A submission in a listing, and whether it is the one its student's grade counts."""

    submission: Submission
    counts: bool
    manual: Tally | None = None  # a notebook submission's points given by people so far


def visible_submissions(
    user: User, assignment: Assignment, email: str = "", status: SubmissionStatus | None = None
) -> list[Listed]:
    """List, newest first, a student's own submissions, or everyone's for a TA or instructor.

    email narrows an instructor's listing to one student; a student may name only
    themselves. status keeps the submissions in that state.
    """
    email = email.strip().lower()
    if is_staff(user, assignment.course):  # a TA grades, so sees everyone's too
        found = all_submissions(assignment, email)
    elif email and email != user.email:
        raise Forbidden("a student sees only their own submissions")
    else:
        found = submissions_of(assignment, user)[::-1]
    manual = tallies(s.id for s in found)
    counting = counting_ids(assignment.score_policy, found, manual)
    return [
        Listed(s, s.id in counting, manual.get(s.id)) for s in found if status in (None, s.status)
    ]


def counting_submission(
    policy: ScorePolicy, submissions: list[Submission], manual: dict[int, Tally] | None = None
) -> Submission | None:
    """Return the submission that counts in the gradebook (oldest first in, as it counts them).

    manual: the points people gave notebook submissions (read here when not given).
    """
    graded = [s for s in submissions if s.score is not None]
    if not graded:
        return None
    if policy == ScorePolicy.LAST:
        return graded[-1]
    manual = tallies(s.id for s in graded) if manual is None else manual
    # The best counted score, late penalty and people's points included, as the gradebook.
    assignment = graded[0].assignment
    dates, rule = late.dates_for(assignment, graded[0].user_id), late.rule_of(assignment)
    marked = [
        late.mark(total(s, manual), s.max_score, s.submitted_at, dates, rule).score for s in graded
    ]
    return graded[marked.index(max(marked))]


def total(submission: Submission, manual: dict[int, Tally]) -> float | None:
    """A submission's score with the points people gave it (None before it is graded)."""
    if submission.score is None:
        return None
    tally = manual.get(submission.id)
    return submission.score + (tally.points if tally else 0.0)


def counting_ids(
    policy: ScorePolicy, submissions: list[Submission], manual: dict[int, Tally] | None = None
) -> set[int]:
    """Return the ids of the submissions that count, one per student at most."""
    manual = tallies(s.id for s in submissions) if manual is None else manual
    by_student: dict[int, list[Submission]] = defaultdict(list)
    for submission in sorted(submissions, key=lambda s: s.number):
        by_student[submission.user_id].append(submission)
    counting = (counting_submission(policy, mine, manual) for mine in by_student.values())
    return {submission.id for submission in counting if submission is not None}
