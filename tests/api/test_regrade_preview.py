"""Regrading with a preview: what changes per student, applied only when confirmed, history kept.

The content fixes (tests/api/regrade_support.py) are stored as `rubric content sync`
stores them: a reweighed exercise (the maximum stays 10, so only imperfect work moves)
and a quiz whose q1 key was wrong.
"""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.extensions import db
from server.models import AuditEntry, QuizAttempt, Submission, SubmissionStatus
from server.models.history import GradedBecause, ResultHistory
from server.models.types import utcnow
from server.scoring import gradebook, quizzes
from server.scoring.questions import kind_of
from server.submissions import regrade
from server.submissions.result_history import current_origin, history_of
from tests.api.regrade_support import (
    FORGOT_TWO,
    QUIZ_SLUG,
    REFERENCE,
    assignment,
    attempt,
    fix_quiz_key,
    graded_submission,
    reweigh_exercise,
    submission,
)

S1, S2, S3 = "student@example.edu", "student2@example.edu", "student3@example.edu"


@pytest.fixture
def exercise_work(demo, tmp_path):
    """Three students' graded work on version 1, then the fix synced as version 2."""
    ids = {
        "right": graded_submission(S1, REFERENCE),
        "wrong": graded_submission(S2, FORGOT_TWO),
        "right_too": graded_submission(S3, REFERENCE),
    }
    reweigh_exercise(tmp_path)
    return ids


def counted(email: str, slug: str = "l2-regularization"):
    entry = gradebook.counted_entry(assignment(slug), find_user(email).id)
    return entry.score, entry.max_score


def test_the_preview_lists_exactly_the_changed_students_and_records_nothing(exercise_work):
    wrong_before = submission(exercise_work["wrong"]).score

    shown = regrade.preview(regrade.scope_of(assignment()))

    assert [s.student.email for s in shown.students] == sorted([S1, S2, S3])  # by e-mail
    assert [s.student.email for s in shown.students if s.changed] == [S2]
    assert shown.changed == 1 and shown.version == 2
    wrong = next(s for s in shown.students if s.changed)
    assert wrong.before.score == wrong_before and wrong.after.score != wrong_before
    assert [(w.version_before, w.version_after) for w in shown.work] == [(1, 2)] * 3
    assert submission(exercise_work["wrong"]).score == wrong_before  # nothing recorded
    assert submission(exercise_work["wrong"]).exercise.version == 1
    assert db.session.scalar(sa.select(sa.func.count(ResultHistory.id))) == 0


def test_applying_records_the_new_results_keeps_the_old_and_audits_the_counts(
    exercise_work, tmp_path
):
    scope = regrade.scope_of(assignment())
    shown = regrade.preview(scope)
    instructor = find_user("instructor@example.edu")
    old = submission(exercise_work["wrong"])
    old_score, old_result, old_graded = old.score, old.result, old.graded_at

    done = regrade.apply(scope, shown.token, instructor, sync_limit=None)

    assert (done.regraded, done.students, done.changed, done.queued) == (3, 3, 1, 0)
    new = submission(exercise_work["wrong"])
    after = next(s for s in shown.students if s.changed).after.score
    assert (new.score, new.exercise.version, new.status) == (after, 2, SubmissionStatus.GRADED)
    assert counted(S2) == (after, 10)
    (past,) = history_of(submission_id=new.id)
    assert (past.score, past.version, past.graded_at) == (old_score, 1, old_graded)
    assert past.result == old_result and past.graded_because == GradedBecause.FIRST_GRADING
    assert past.replaced_by == "instructor@example.edu"
    assert current_origin(submission_id=new.id) == (GradedBecause.REGRADE, instructor.email)
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "regrade")).one()
    assert entry.actor == instructor.email and entry.target == "l2-regularization"
    assert '"changed":1' in entry.after and '"regraded":3' in entry.after


def test_a_second_regrade_archives_the_first_regrades_result_with_who_made_it(exercise_work):
    newest, scope = (regrade.scope_of(assignment(), same_version=s) for s in (False, True))
    first = find_user("instructor@example.edu")
    regrade.apply(newest, regrade.preview(newest).token, first, None)

    again = regrade.preview(scope)
    regrade.apply(scope, again.token, None, None)  # the command line, same version

    history = history_of(submission_id=exercise_work["wrong"])
    assert [(p.version, p.graded_because, p.graded_by) for p in history] == [
        (1, GradedBecause.FIRST_GRADING, ""),
        (2, GradedBecause.REGRADE, first.email),
    ]
    assert history[1].replaced_by == "command line"
    assert again.version is None and again.changed == 0  # the same version gives the same


def test_a_stale_preview_is_refused_and_changes_nothing(exercise_work):
    scope = regrade.scope_of(assignment())
    shown = regrade.preview(scope)
    graded_submission(S1, FORGOT_TWO)  # new work on version 2 since: not in scope
    db.session.execute(
        sa.update(Submission).where(Submission.id == exercise_work["right"]).values(score=9.0)
    )
    db.session.commit()

    with pytest.raises(regrade.StalePreview):
        regrade.apply(scope, shown.token, None, None)
    with pytest.raises(regrade.StalePreview):
        regrade.apply(scope, "not-a-token", None, None)

    assert db.session.scalar(sa.select(sa.func.count(ResultHistory.id))) == 0


def test_one_students_regrade_leaves_the_others_on_their_version(exercise_work):
    scope = regrade.scope_of(assignment(), S2)
    shown = regrade.preview(scope)

    done = regrade.apply(scope, shown.token, None, None)

    assert [s.student.email for s in shown.students] == [S2] and done.regraded == 1
    versions = {sid: submission(sid).exercise.version for sid in exercise_work.values()}
    assert versions == {
        exercise_work["right"]: 1,
        exercise_work["wrong"]: 2,
        exercise_work["right_too"]: 1,
    }


def test_the_counted_score_includes_the_late_penalty_and_an_override(exercise_work):
    the_assignment = assignment()
    the_assignment.due_at = utcnow() - timedelta(days=3)
    the_assignment.late_until = utcnow() + timedelta(days=3)
    the_assignment.late_penalty_per_day = 0.1
    db.session.execute(  # S2's work came in one day late: 1 point off the 10
        sa.update(Submission)
        .where(Submission.id == exercise_work["wrong"])
        .values(submitted_at=the_assignment.due_at + timedelta(hours=2))
    )
    db.session.commit()

    shown = regrade.preview(regrade.scope_of(assignment()))

    row = next(s for s in shown.students if s.student.email == S2)
    (work,) = row.work
    assert row.before.penalty == row.after.penalty == 1.0
    assert row.before.score == work.score_before - 1 and row.after.score == work.score_after - 1


def test_a_large_course_is_queued_for_the_workers_with_history_kept(exercise_work):
    scope = regrade.scope_of(assignment())
    shown = regrade.preview(scope)

    done = regrade.apply(scope, shown.token, None, sync_limit=2)

    assert (done.queued, done.version, done.regraded) == (3, 2, 0)
    queued = submission(exercise_work["wrong"])
    assert queued.status == SubmissionStatus.QUEUED and queued.score is not None
    assert len(history_of(submission_id=queued.id)) == 1  # archived before it was queued


def test_the_original_requeue_keeps_the_old_result_in_the_history(exercise_work):
    before = submission(exercise_work["wrong"]).score

    assert regrade.regrade(assignment()).submissions == 3
    assert regrade.regrade(assignment()).submissions == 0  # nothing older left

    (past,) = history_of(submission_id=exercise_work["wrong"])
    assert past.score == before and past.replaced_by == "command line"


@pytest.fixture
def quiz_work(demo, tmp_path, monkeypatch):
    """Three attempts on version 1 of the quiz, then its q1 key fixed as version 2."""
    monkeypatch.setattr(quizzes, "_versions", {})  # a new version's id is another quiz elsewhere
    ids = {
        "said_b": attempt(S1, {"q1": "b", "q2": "0.998"}),
        "said_a": attempt(S2, {"q1": "a", "q2": "0.998"}),
        "skipped_q1": attempt(S3, {"q2": "0.998"}),
    }
    fix_quiz_key(tmp_path)
    return ids


def test_a_quiz_regrade_rescores_against_the_fixed_key(quiz_work):
    scope = regrade.scope_of(assignment(QUIZ_SLUG))
    shown = regrade.preview(scope)

    assert {s.student.email: (s.before.score, s.after.score) for s in shown.students} == {
        S1: (2.0, 1.0),
        S2: (1.0, 2.0),
        S3: (1.0, 1.0),
    }
    assert shown.changed == 2
    done = regrade.apply(scope, shown.token, find_user("instructor@example.edu"), None)

    assert (done.regraded, done.changed) == (3, 2)
    assert counted(S2, QUIZ_SLUG) == (2.0, 5.0)
    changed = db.session.get(QuizAttempt, quiz_work["said_a"])
    db.session.refresh(changed)
    assert quizzes.quiz_version(changed.quiz_id).version == 2
    version = quizzes.quiz_version(changed.quiz_id)
    q1 = next(a for a in changed.answers if version.question(a.question_id).key == "q1")
    assert (q1.response, q1.outcome, q1.score) == ("a", "correct", 1.0)
    (past,) = history_of(attempt_id=changed.id)
    assert (past.score, past.version) == (1.0, 1)
    assert {q["id"]: q["score"] for q in past.result["questions"]}["q1"] == 0.0
    same = regrade.scope_of(assignment(QUIZ_SLUG), same_version=True)
    regrade.apply(same, regrade.preview(same).token, None, None)  # again, as the command line
    assert [
        (p.version, p.graded_because, p.graded_by) for p in history_of(attempt_id=changed.id)
    ] == [
        (1, GradedBecause.FIRST_GRADING, ""),
        (2, GradedBecause.REGRADE, "instructor@example.edu"),
    ]


def test_a_same_version_quiz_regrade_changes_nothing_but_keeps_a_history(quiz_work):
    scope = regrade.scope_of(assignment(QUIZ_SLUG), S1, same_version=True)
    shown = regrade.preview(scope)

    done = regrade.apply(scope, shown.token, None, None)

    assert shown.changed == 0 and done.regraded == 1
    assert counted(S1, QUIZ_SLUG) == (2.0, 5.0)  # scored on version 1 still
    assert len(history_of(attempt_id=quiz_work["said_b"])) == 1


def test_an_unknown_student_is_not_found(demo):
    with pytest.raises(LookupError, match="nobody@example.edu"):
        regrade.scope_of(assignment(), "nobody@example.edu")


def test_many_students_are_counted_from_the_gradebook_the_same(exercise_work, monkeypatch):
    scope = regrade.scope_of(assignment())
    one_by_one = regrade.preview(scope)
    monkeypatch.setattr(regrade, "FEW_STUDENTS", 0)  # the course-wide path

    course_wide = regrade.preview(scope)

    rows = [
        [(s.student.email, s.before, s.after) for s in p.students]
        for p in (one_by_one, course_wide)
    ]
    assert rows[0] == rows[1] and course_wide.changed == 1


def test_a_rescored_attempt_keeps_the_numbers_the_student_was_shown(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(quizzes, "_versions", {})
    quiz = assignment(QUIZ_SLUG)
    q5 = next(q for q in quizzes.current_quiz(quiz).questions if q.key == "q5")
    params = quizzes.question_params(quiz, find_user(S1), q5)
    right = kind_of("numeric").correct_value(q5.spec, params)
    attempt(S1, {"q5": repr(right)})
    fix_quiz_key(tmp_path)

    shown = regrade.preview(regrade.scope_of(quiz))

    ((work,),) = [s.work for s in shown.students]
    (q5_row,) = [r for r in work.result["answers"] if r["params"] == params]
    assert (q5_row["outcome"], q5_row["score"]) == ("correct", 1.0)
    assert (work.score_before, work.score_after) == (1.0, 1.0)
