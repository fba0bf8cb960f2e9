"""Grading notebooks by hand in the browser: the queue, the sheet, saving, validation,
permissions, the counted score and its passback, and what the student sees."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.courses import audit
from server.extensions import db
from server.lti import passback
from server.models import Assignment, LtiPassback, LtiResourceLink, LtiUser, Submission
from server.models.manual import ManualGrade
from server.models.types import utcnow
from server.scoring.gradebook import build_gradebook, counted_entry
from tests.notebooks.manual_support import (
    INSTRUCTOR,
    OTHER,
    STUDENT,
    STUDENT2,
    TA,
    WAITING,
    logged_in,
    make_ps1,
)
from tests.web.support import csrf_token_in

QUEUE = "/courses/demo/assignments/ps1/grading"


@pytest.fixture
def ps1(demo, tmp_path):
    """nbgrader's example published in the demo course, two students' submissions graded."""
    return make_ps1(demo, tmp_path)


@pytest.fixture
def login(app, demo):
    """Make a page client logged in as (email, password)."""
    return lambda user: logged_in(app, user)


def submission_of(email: str) -> Submission:
    db.session.remove()
    return db.session.scalar(sa.select(Submission).where(Submission.user_id == find_user(email).id))


def fresh(_assignment) -> Assignment:
    """The assignment in the current session (submission_of starts a new one)."""
    return db.session.scalar(sa.select(Assignment).filter_by(slug="ps1"))


def sheet_url(submission: Submission) -> str:
    return f"{QUEUE}/{submission.id}"


def form_of(page: str) -> dict:
    """The grading form's fields as the page fills them (hidden ones, points, comments)."""
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    data.update(re.findall(r'name="(points-\d+)"[^>]*value="([^"]*)"', page))
    data.update(re.findall(r'name="(comment-\d+)"[^>]*>([^<]*)</textarea>', page))
    return data


def cells_in(form: dict) -> dict[str, int]:
    """{notebook/grade_id: index} of the form's cells."""
    return {v: int(k.split("-")[1]) for k, v in form.items() if re.fullmatch(r"cell-\d+", k)}


def test_the_queue_lists_each_students_counted_submission_with_progress(ps1, login):
    page = login(INSTRUCTOR).get(QUEUE).get_data(as_text=True)
    assert "0 of 2 graded" in page
    assert STUDENT[0] in page and STUDENT2[0] in page
    # hacker answered all five manual cells; bitdiddle left sum_of_squares_application blank.
    assert "0 of 5" in page and "0 of 4" in page


def test_an_instructor_grades_a_submission_and_the_counted_score_follows(ps1, login):
    client = login(INSTRUCTOR)
    submission = submission_of(STUDENT[0])
    auto = submission.score
    page = client.get(sheet_url(submission)).get_data(as_text=True)
    # The student's answer beside the source's solution, which the release never had.
    assert "def hypotenuse(n):" in page and "def pyramidal_number(n):" in page
    assert "0 of 2 graded" in page
    form = form_of(page)
    cells = cells_in(form)
    assert set(cells) == {f"{n}/{g}" for n, g in WAITING}
    for key, i in cells.items():
        form[f"points-{i}"] = str(WAITING[tuple(key.split("/"))] / 2)
        form[f"comment-{i}"] = f"Half of {key}."
    answer = client.post(sheet_url(submission), data=form | {"then": "next"})
    # Save and next: the other student's submission is the next one waiting.
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(sheet_url(submission_of(STUDENT2[0])))
    stored = {(g.notebook, g.grade_id): g for g in db.session.scalars(sa.select(ManualGrade))}
    assert {k: g.points for k, g in stored.items()} == {k: v / 2 for k, v in WAITING.items()}
    assert stored[("problem2", "part-a")].comment == "Half of problem2/part-a."
    assert stored[("problem2", "part-a")].graded_by == INSTRUCTOR[0]
    entry = counted_entry(fresh(ps1), find_user(STUDENT[0]).id)
    assert entry.score == pytest.approx(auto + sum(WAITING.values()) / 2)
    book = build_gradebook(fresh(ps1).course)
    assert book.entry(find_user(STUDENT[0]), fresh(ps1)).score == pytest.approx(entry.score)
    actions = [e.action for e in audit.entries(fresh(ps1).course) if e.action == "manual_grade"]
    assert len(actions) == len(WAITING)
    assert "1 of 2 graded" in client.get(QUEUE).get_data(as_text=True)


def test_a_partly_graded_submission_counts_the_points_given_so_far(ps1, login):
    client = login(INSTRUCTOR)
    submission = submission_of(STUDENT[0])
    form = form_of(client.get(sheet_url(submission)).get_data(as_text=True))
    i = cells_in(form)["problem2/part-b"]
    one = {k: v for k, v in form.items() if not re.fullmatch(r"(cell|points|comment)-\d+", k)}
    one |= {"cells": "1", "cell-0": form[f"cell-{i}"], "points-0": "2", "comment-0": "Right."}
    assert client.post(sheet_url(submission), data=one | {"then": "stay"}).status_code == 302
    page = client.get(sheet_url(submission)).get_data(as_text=True)
    assert "partly graded" in page and "4 answers waiting" in page
    entry = counted_entry(fresh(ps1), submission.user_id)
    assert entry.score == pytest.approx(submission.score + 2)


@pytest.mark.parametrize(
    ("points", "says"),
    [
        ("1.5", "outside 0 to 1"),
        ("-0.5", "outside 0 to 1"),
        ("0.3", "steps of 0.5"),
        ("lots", "as a number"),
        ("nan", "as a number"),
    ],
)
def test_bad_points_are_refused_with_a_message_and_nothing_is_stored(ps1, login, points, says):
    client = login(INSTRUCTOR)
    submission = submission_of(STUDENT[0])
    form = form_of(client.get(sheet_url(submission)).get_data(as_text=True))
    for key, i in cells_in(form).items():
        form[f"points-{i}"] = points if key == "problem2/part-a" else "0"
    answer = client.post(sheet_url(submission), data=form)
    assert answer.status_code == 400
    assert says in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(ManualGrade.id))) == 0


def test_a_comment_holding_nul_is_refused_and_nothing_is_stored(ps1, login):
    client = login(INSTRUCTOR)
    submission = submission_of(STUDENT[0])
    form = form_of(client.get(sheet_url(submission)).get_data(as_text=True))
    for i in cells_in(form).values():
        form[f"points-{i}"], form[f"comment-{i}"] = "0", "a\x00b"  # PostgreSQL cannot store it
    answer = client.post(sheet_url(submission), data=form)
    assert answer.status_code == 400 and "NUL" in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(ManualGrade.id))) == 0


def test_a_cell_that_does_not_wait_for_a_person_is_refused(ps1, login):
    client = login(INSTRUCTOR)
    submission = submission_of(STUDENT[0])
    form = form_of(client.get(sheet_url(submission)).get_data(as_text=True))
    form["cell-0"] = "problem1/correct_squares"  # an autograder test
    form["points-0"] = "1"
    answer = client.post(sheet_url(submission), data=form)
    assert answer.status_code == 400
    assert "no cell of this submission waits for a person" in answer.get_data(as_text=True)


def test_saving_needs_the_csrf_token(ps1, login):
    client = login(INSTRUCTOR)
    submission = submission_of(STUDENT[0])
    form = form_of(client.get(sheet_url(submission)).get_data(as_text=True))
    form.pop("csrf_token")
    assert client.post(sheet_url(submission), data=form).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(ManualGrade.id))) == 0


def test_a_ta_grades_a_student_may_not_and_another_courses_instructor_sees_nothing(ps1, login):
    submission = submission_of(STUDENT[0])
    ta = login(TA)
    page = ta.get(sheet_url(submission)).get_data(as_text=True)
    form = form_of(page)
    for i in cells_in(form).values():
        form[f"points-{i}"] = "0"
    assert ta.post(sheet_url(submission), data=form).status_code == 302
    student = login(STUDENT)
    token = csrf_token_in(student.get("/account").get_data(as_text=True))
    assert student.get(QUEUE).status_code == 403
    assert student.get(sheet_url(submission)).status_code == 403
    assert student.post(sheet_url(submission), data=form | {"csrf_token": token}).status_code == 403
    assert student.get("/courses/demo/assignments/ps1/feedback.zip").status_code == 403
    other = login(OTHER)
    assert other.get(QUEUE).status_code == 404
    assert other.get(sheet_url(submission)).status_code == 404
    assert (
        other.get(f"/courses/demo/assignments/ps1/submissions/{submission.id}/feedback").status_code
        == 404
    )
    graders = {g.graded_by for g in db.session.scalars(sa.select(ManualGrade))}
    assert graders == {TA[0]}


def test_a_submission_of_another_assignment_is_not_found_here(ps1, login):
    client = login(INSTRUCTOR)
    assert client.get(f"{QUEUE}/999999").status_code == 404


def grade_all(client, submission, points: float, comment: str = "Well argued.") -> None:
    form = form_of(client.get(sheet_url(submission)).get_data(as_text=True))
    for i in cells_in(form).values():
        form[f"points-{i}"] = str(points)
        form[f"comment-{i}"] = comment
    assert client.post(sheet_url(submission), data=form).status_code == 302


def test_the_student_sees_points_and_comments_per_cell_and_the_total(ps1, login):
    submission = submission_of(STUDENT[0])
    feedback = f"/courses/demo/assignments/ps1/submissions/{submission.id}/feedback"
    student = login(STUDENT)
    before = student.get(feedback).get_data(as_text=True)
    assert "partly graded" in before and "5 answers still waiting" in before
    grade_all(login(INSTRUCTOR), submission, 1, "Well argued.")
    page = student.get(feedback).get_data(as_text=True)
    total = submission.score + len(WAITING)
    assert f"Total: <strong>{total:g} / 13</strong>" in page
    assert "Well argued." in page and "partly graded" not in page
    assert "BEGIN SOLUTION" not in page and "BEGIN HIDDEN TESTS" not in page
    # Another student's feedback is not theirs to see.
    other = submission_of(STUDENT2[0])
    assert (
        student.get(f"/courses/demo/assignments/ps1/submissions/{other.id}/feedback").status_code
        == 404
    )


@pytest.mark.parametrize("release", ["never", "after_due"])
def test_points_and_comments_wait_for_the_assignments_feedback_release(ps1, login, release):
    ps1.feedback_release = release
    ps1.due_at = utcnow() + timedelta(days=1)
    db.session.commit()
    submission = submission_of(STUDENT[0])
    grade_all(login(INSTRUCTOR), submission, 1, "Hidden for now.")
    feedback = f"/courses/demo/assignments/ps1/submissions/{submission.id}/feedback"
    page = login(STUDENT).get(feedback).get_data(as_text=True)
    assert "Hidden for now." not in page and "shown" in page
    # The course's staff always see it.
    assert "Hidden for now." in login(INSTRUCTOR).get(feedback).get_data(as_text=True)


def test_after_the_due_date_the_student_sees_it(ps1, login):
    ps1.feedback_release = "after_due"
    ps1.due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    submission = submission_of(STUDENT[0])
    grade_all(login(INSTRUCTOR), submission, 1, "Now visible.")
    feedback = f"/courses/demo/assignments/ps1/submissions/{submission.id}/feedback"
    assert "Now visible." in login(STUDENT).get(feedback).get_data(as_text=True)


@pytest.fixture
def linked(app, ps1):
    """ps1 linked to an LMS activity on which the demo student has an identity."""
    issuer = "https://lms.example.edu"
    db.session.add(LtiResourceLink(issuer=issuer, resource_link_id="rl-ps1", assignment_id=ps1.id))
    db.session.add(LtiUser(issuer=issuer, sub="lms-student", user_id=find_user(STUDENT[0]).id))
    db.session.commit()
    yield
    passback.stop_sender(app)


def test_a_manual_grade_queues_the_new_counted_score_for_the_lms(ps1, linked, login):
    submission = submission_of(STUDENT[0])
    grade_all(login(INSTRUCTOR), submission, 0.5)
    db.session.remove()
    row = db.session.scalar(sa.select(LtiPassback))
    assert row is not None
    assert row.score_given == pytest.approx(submission.score + 0.5 * len(WAITING))
    assert row.score_maximum == 13
    version = row.version
    grade_all(login(INSTRUCTOR), submission, 1)
    db.session.remove()
    row = db.session.scalar(sa.select(LtiPassback))
    assert row.version == version + 1
    assert row.score_given == pytest.approx(submission.score + len(WAITING))


def test_the_pages_link_to_the_queue_and_to_the_feedback(ps1, login):
    submission = submission_of(STUDENT[0])
    instructor = login(INSTRUCTOR)
    assignment_page = instructor.get("/courses/demo/assignments/ps1").get_data(as_text=True)
    assert f'href="{QUEUE}"' in assignment_page
    feedback = f"/courses/demo/assignments/ps1/submissions/{submission.id}/feedback"
    mine = login(STUDENT).get(f"/courses/demo/submissions/{submission.id}").get_data(as_text=True)
    assert f'href="{feedback}"' in mine and QUEUE not in mine
    assert "partly graded" in mine and "5 answers waiting for a grader" in mine


def test_blank_points_leave_a_cell_waiting_and_an_empty_form_is_refused(ps1, login):
    client = login(INSTRUCTOR)
    submission = submission_of(STUDENT[0])
    form = form_of(client.get(sheet_url(submission)).get_data(as_text=True))
    empty = client.post(sheet_url(submission), data=form)
    assert empty.status_code == 400
    assert "give points for at least one cell" in empty.get_data(as_text=True)
    form[f"points-{cells_in(form)['problem2/part-b']}"] = "1.5"
    assert client.post(sheet_url(submission), data=form).status_code == 302
    stored = [(g.grade_id, g.points) for g in db.session.scalars(sa.select(ManualGrade))]
    assert stored == [("part-b", 1.5)]
    assert "4 answers waiting" in client.get(sheet_url(submission)).get_data(as_text=True)
