"""Two graders saving the same cell at once: the later save runs again over the other's
row (the unique (submission, notebook, grade_id)) instead of failing with a 500."""

from __future__ import annotations

import sqlalchemy as sa

from server.accounts import find_user
from server.extensions import db
from server.models import Submission
from server.models.manual import ManualGrade
from server.notebooks import manual
from tests.notebooks.manual_support import INSTRUCTOR, STUDENT, TA, make_ps1


def test_a_save_that_loses_the_race_on_a_cell_runs_again_over_the_winners_grade(
    demo, tmp_path, monkeypatch
):
    make_ps1(demo, tmp_path)
    submission = db.session.scalar(
        sa.select(Submission).where(Submission.user_id == find_user(STUDENT[0]).id)
    )
    cell = [manual.GradeInput("problem2", "part-a", 1, "first")]
    manual.save(submission, find_user(TA[0]), cell)
    # The second grader read the grades before the first one's commit: none yet.
    reads = []
    real = manual.grades_of

    def before_the_other_commit(submission_id):
        reads.append(submission_id)
        return {} if len(reads) == 1 else real(submission_id)

    monkeypatch.setattr(manual, "grades_of", before_the_other_commit)
    second = [manual.GradeInput("problem2", "part-a", 0.5, "second")]
    state = manual.save(submission, find_user(INSTRUCTOR[0]), second)
    assert len(reads) >= 2  # the insert failed on the unique row and ran again
    db.session.remove()
    (grade,) = db.session.scalars(sa.select(ManualGrade))
    assert (grade.points, grade.comment, grade.graded_by) == (0.5, "second", INSTRUCTOR[0])
    assert state.manual == 0.5
