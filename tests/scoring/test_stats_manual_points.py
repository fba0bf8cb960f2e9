"""Class statistics count a notebook's points given by a grader, as the gradebook does."""

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.analytics.assignment import assignment_stats
from server.analytics.counted import counted_work
from server.extensions import db
from server.models import Submission
from server.notebooks import manual
from server.scoring.gradebook import counted_entry
from tests.notebooks.manual_support import INSTRUCTOR, STUDENT, WAITING, make_ps1


def test_a_graders_points_count_in_the_statistics(demo, tmp_path):
    assignment = make_ps1(demo, tmp_path)
    submission = db.session.scalar(
        sa.select(Submission).where(Submission.user_id == find_user(STUDENT[0]).id)
    )
    given = [manual.GradeInput(n, g, m, "ok") for (n, g), m in WAITING.items()]
    manual.save(submission, find_user(INSTRUCTOR[0]), given)
    counted = {w.user_id: w.score for w in counted_work(assignment)}
    student = submission.user_id
    assert counted[student] == pytest.approx(counted_entry(assignment, student).score)
    assert counted[student] == pytest.approx(submission.score + sum(WAITING.values()))
    scores = assignment_stats(assignment)["score"]
    entries = [counted_entry(assignment, user_id) for user_id in counted]
    expected = [e.score for e in entries if e is not None and e.score is not None]
    assert scores["mean"] == pytest.approx(sum(expected) / len(expected))
