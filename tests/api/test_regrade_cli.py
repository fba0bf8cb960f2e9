"""`rubric regrade COURSE SLUG [--student] [--same-version] [--dry-run]`."""

import pytest

from server.extensions import db
from server.models import AuditEntry
from server.scoring import quizzes
from server.submissions.result_history import history_of
from tests.api.regrade_support import (
    QUIZ_SLUG,
    attempt,
    fix_quiz_key,
    graded_then_fixed,
    submission,
)


@pytest.fixture
def fixed(demo, tmp_path):
    return graded_then_fixed(tmp_path)


def test_a_dry_run_prints_each_student_and_records_nothing(fixed, runner):
    done = runner.invoke(args=["regrade", "demo", "l2-regularization", "--dry-run"])

    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith("student2@example.edu: ") and lines[0].endswith("(changes)")
    assert lines[1] == "student@example.edu: 10/10 -> 10/10"
    assert lines[2].startswith("1 of 2 counted score(s) change; 2 piece(s) of work graded again")
    assert lines[-1] == "dry run: nothing recorded"
    assert submission(fixed[1]).exercise.version == 1


def test_regrading_one_student_records_it_and_audits_the_command_line(fixed, runner):
    done = runner.invoke(
        args=["regrade", "demo", "l2-regularization", "--student", "Student2@example.edu"]
    )

    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1].startswith("recorded 1 result(s)")
    assert submission(fixed[1]).exercise.version == 2
    assert submission(fixed[0]).exercise.version == 1
    (past,) = history_of(submission_id=fixed[1])
    assert past.replaced_by == "command line"
    entry = db.session.scalars(db.select(AuditEntry).filter_by(action="regrade")).one()
    assert entry.actor == "command line"
    assert entry.target == "l2-regularization student2@example.edu"


def test_a_quiz_on_the_same_version(demo, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(quizzes, "_versions", {})
    attempt("student@example.edu", {"q1": "b"})
    fix_quiz_key(tmp_path)

    same = runner.invoke(args=["regrade", "demo", QUIZ_SLUG, "--same-version", "--dry-run"])
    newest = runner.invoke(args=["regrade", "demo", QUIZ_SLUG])

    assert "0 of 1 counted score(s) change" in same.output and "the same version" in same.output
    assert "student@example.edu: 1/5 -> 0/5  (changes)" in newest.output
    assert "on version 2" in newest.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "l2-regularization"], "no assignment 'l2-regularization' in course 'nope'"),
        (["demo", "nope"], "no assignment 'nope' in course 'demo'"),
        (["demo", "l2-regularization", "--student", "x@y.z"], "no user with e-mail 'x@y.z'"),
    ],
)
def test_unknown_names_exit_1_with_one_line(demo, runner, args, message):
    done = runner.invoke(args=["regrade", *args])

    assert done.exit_code == 1 and message in done.output
