"""A regrade of the automatic part keeps the grades a person gave the cells it leaves as
they were, and drops those of a cell whose points changed."""

from __future__ import annotations

import json
import shutil

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.content.sync import sync_exercises
from server.extensions import db
from server.models import Assignment, Submission, SubmissionStatus
from server.models.manual import ManualGrade
from server.notebooks import manual
from server.notebooks.exercise import load_notebook_exercise
from server.notebooks.grade import grade_notebooks
from server.notebooks.importer import import_assignment
from server.scoring.gradebook import counted_entry
from server.submissions import service
from server.submissions.regrade import regrade
from tests.notebooks.manual_support import INSTRUCTOR, STUDENT, WAITING, make_ps1, wait_graded
from tests.notebooks.support import EXAMPLE


def _with_part_a_worth(points: float, folder):
    """A copy of the example's source whose problem2 part-a is worth `points`."""
    source = folder / "source2" / "ps1"
    shutil.copytree(EXAMPLE / "source" / "ps1", source)
    path = source / "problem2.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "part-a":
            cell["metadata"]["nbgrader"]["points"] = points
    path.write_text(json.dumps(nb))
    return source


def test_a_regrade_keeps_the_grades_of_unchanged_cells(demo, tmp_path):
    assignment = make_ps1(demo, tmp_path)
    submission = db.session.scalar(
        sa.select(Submission).where(Submission.user_id == find_user(STUDENT[0]).id)
    )
    given = [manual.GradeInput(n, g, m, "ok") for (n, g), m in WAITING.items()]
    manual.save(submission, find_user(INSTRUCTOR[0]), given)
    auto = submission.score
    assert counted_entry(assignment, submission.user_id).score == pytest.approx(auto + 10)
    # The instructor makes part-a worth 2 points, syncs, and grades everyone again.
    content = tmp_path / "v2"
    import_assignment(_with_part_a_worth(2, tmp_path), content / "exercises")
    assert sync_exercises(content).created == ["ps1 v2"]
    assert regrade(db.session.get(Assignment, assignment.id)).submissions == 2
    claim = service.claim(submission.id)
    if claim is None:  # scale-out: a worker took it, and grades it on version 2 the same way
        wait_graded(submission.id)
    else:
        exercise = load_notebook_exercise(content / "exercises" / "ps1")
        paths = {p.stem: p for p in (EXAMPLE / "submitted" / "hacker" / "ps1").glob("*.ipynb")}
        assert service.record_result(claim, grade_notebooks(exercise, paths).to_dict())
    db.session.remove()
    kept = {(g.notebook, g.grade_id) for g in db.session.scalars(sa.select(ManualGrade))}
    assert kept == set(WAITING) - {("problem2", "part-a")}
    regraded = db.session.get(Submission, submission.id)
    assert regraded.status == SubmissionStatus.GRADED and regraded.max_score == 14
    state = manual.progress(regraded)
    assert (state.graded, state.waiting, state.manual) == (4, 1, 9)
    entry = counted_entry(db.session.get(Assignment, assignment.id), regraded.user_id)
    assert entry.score == pytest.approx(regraded.score + 9)
