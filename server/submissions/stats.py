"""Queue depth and grading latency, read from the database so every process agrees."""

from dataclasses import dataclass

import sqlalchemy as sa

from server.extensions import db
from server.models import Submission, SubmissionStatus

RECENT = 1000  # latency quantiles over the latest graded submissions


@dataclass(frozen=True)
class GradingStats:
    """How many submissions are in each state, and how long the recent ones took."""

    by_status: dict[str, int]
    latency_quantiles: dict[str, float]  # submit-to-graded seconds, by quantile
    latency_count: int


def grading_stats() -> GradingStats:
    """Count submissions by status and take latency quantiles of the recent ones."""
    counts = dict(
        db.session.execute(
            sa.select(Submission.status, sa.func.count(Submission.id)).group_by(Submission.status)
        ).all()
    )
    by_status = {status.value: counts.get(status, 0) for status in SubmissionStatus}
    recent = db.session.execute(
        sa.select(Submission.submitted_at, Submission.graded_at)
        # A regrade's submit-to-graded time says nothing of the service's latency.
        .where(Submission.status == SubmissionStatus.GRADED, Submission.regraded_at.is_(None))
        .order_by(Submission.id.desc())
        .limit(RECENT)
    ).all()
    seconds = sorted((graded - submitted).total_seconds() for submitted, graded in recent)
    quantiles = (
        {str(q): seconds[min(len(seconds) - 1, int(q * len(seconds)))] for q in (0.5, 0.9, 0.99)}
        if seconds
        else {}
    )
    return GradingStats(by_status, quantiles, len(seconds))
