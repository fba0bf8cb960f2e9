"""A previewed regrade of a notebook exercise, applied here rather than by the workers,
keeps the grades a person gave the cells it leaves as they were, as the queued one does."""

import sqlalchemy as sa

from server.accounts import find_user
from server.content.sync import sync_exercises
from server.extensions import db
from server.models import Assignment, Submission
from server.models.manual import ManualGrade
from server.notebooks import manual
from server.notebooks.importer import import_assignment
from server.submissions import regrade
from server.submissions.result_history import history_of
from tests.notebooks.manual_support import INSTRUCTOR, STUDENT, WAITING, make_ps1
from tests.notebooks.test_manual_regrade import _with_part_a_worth


def test_applying_a_preview_keeps_the_grades_of_unchanged_cells(demo, tmp_path):
    assignment = make_ps1(demo, tmp_path)
    submission = db.session.scalar(
        sa.select(Submission).where(Submission.user_id == find_user(STUDENT[0]).id)
    )
    given = [manual.GradeInput(n, g, m, "ok") for (n, g), m in WAITING.items()]
    manual.save(submission, find_user(INSTRUCTOR[0]), given)
    content = tmp_path / "v2"
    import_assignment(_with_part_a_worth(2, tmp_path), content / "exercises")
    assert sync_exercises(content).created == ["ps1 v2"]
    scope = regrade.scope_of(db.session.get(Assignment, assignment.id), STUDENT[0])
    shown = regrade.preview(scope)
    assert [w.failed for w in shown.work] == [""]  # the notebook was graded in the preview

    done = regrade.apply(scope, shown.token, find_user(INSTRUCTOR[0]), None)

    assert done.regraded == 1
    db.session.remove()
    kept = {(g.notebook, g.grade_id) for g in db.session.scalars(sa.select(ManualGrade))}
    assert kept == set(WAITING) - {("problem2", "part-a")}
    regraded = db.session.get(Submission, submission.id)
    assert regraded.exercise.version == 2 and regraded.max_score == 14
    assert [p.version for p in history_of(submission_id=submission.id)] == [1]
