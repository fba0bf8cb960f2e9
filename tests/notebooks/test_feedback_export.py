"""Feedback export, as nbgrader's generate_feedback: per student one HTML page per
notebook with each graded cell's score and comment and the totals, zipped per assignment
(staff download) or written into a folder (`rubric nbgrader feedback`)."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.extensions import db
from server.models import Submission
from server.notebooks import manual
from tests.notebooks.manual_support import (
    INSTRUCTOR,
    STUDENT,
    STUDENT2,
    TA,
    WAITING,
    logged_in,
    make_ps1,
)

ZIP = "/courses/demo/assignments/ps1/feedback.zip"


@pytest.fixture
def graded(demo, tmp_path):
    """ps1 with both students' answers graded: student gets full points, student2 none."""
    assignment = make_ps1(demo, tmp_path)
    grader = find_user(INSTRUCTOR[0])
    for email in (STUDENT[0], STUDENT2[0]):
        submission = db.session.scalar(
            sa.select(Submission).where(Submission.user_id == find_user(email).id)
        )
        waiting = manual.waiting_cells(submission.result)
        full = email == STUDENT[0]
        given = [
            manual.GradeInput(
                w.notebook, w.grade_id, w.max_points if full else 0, f"On {w.grade_id}."
            )
            for w in waiting
        ]
        manual.save(submission, grader, given)
    return assignment


def pages(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def test_staff_download_every_students_feedback_as_a_zip(app, graded):
    answer = logged_in(app, TA).get(ZIP)
    assert answer.status_code == 200
    assert answer.mimetype == "application/zip"
    assert "demo-ps1-feedback.zip" in answer.headers["Content-Disposition"]
    files = pages(answer.data)
    assert sorted(files) == sorted(
        f"feedback/{email}/ps1/{name}.html"
        for email in (STUDENT[0], STUDENT2[0])
        for name in ("problem1", "problem2")
    )
    mine = files[f"feedback/{STUDENT[0]}/ps1/problem2.html"]
    hacker = db.session.scalar(
        sa.select(Submission).where(Submission.user_id == find_user(STUDENT[0]).id)
    )
    total = hacker.score + sum(WAITING.values())
    assert f"Total: <strong>{total:g} / 13</strong>" in mine
    assert "On part-a." in mine and "On part-b." in mine
    # Each graded cell's score beside it: part-b got its full 2 points.
    assert re.search(r"<code>part-b</code>:\s*2 / 2 points", mine)
    # What the student wrote is there, the source's solutions and hidden tests are not.
    assert "It computes the fibonacci sequence using recursion" in mine
    assert "This function computes the fibonnaci sequence" not in mine  # the source's answer
    problem1 = files[f"feedback/{STUDENT[0]}/ps1/problem1.html"]
    assert "def hypotenuse" in problem1
    assert "def pyramidal_number" not in problem1
    assert "BEGIN HIDDEN TESTS" not in problem1 and "BEGIN SOLUTION" not in problem1
    theirs = files[f"feedback/{STUDENT2[0]}/ps1/problem2.html"]
    assert re.search(r"<code>part-b</code>:\s*0 / 2 points", theirs)


def test_students_may_not_download_the_zip(app, graded):
    assert logged_in(app, STUDENT).get(ZIP).status_code == 403


def test_the_cli_writes_the_same_files_into_a_folder(app, graded, runner, tmp_path):
    out = tmp_path / "out"
    done = runner.invoke(args=["nbgrader", "feedback", "demo", "ps1", "--into", str(out)])
    assert done.exit_code == 0, done.output
    assert "4 notebook(s) of 2 student(s)" in done.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert written == sorted(pages(logged_in(app, INSTRUCTOR).get(ZIP).data))
    page = (out / "feedback" / STUDENT2[0] / "ps1" / "problem1.html").read_text()
    assert "On sum_of_squares_equation." in page


def test_the_cli_refuses_an_unknown_or_code_assignment(app, graded, runner, tmp_path):
    unknown = runner.invoke(args=["nbgrader", "feedback", "demo", "nope", "--into", str(tmp_path)])
    assert unknown.exit_code == 2 and "no assignment 'nope'" in unknown.output
    code = runner.invoke(
        args=["nbgrader", "feedback", "demo", "l2-regularization", "--into", str(tmp_path)]
    )
    assert code.exit_code == 2 and "not a notebook assignment" in code.output
