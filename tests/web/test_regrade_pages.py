"""The regrade pages: preview per student, confirm with CSRF, the submission page's history."""

import re

import pytest

from server.models import SubmissionStatus
from server.scoring import quizzes
from server.submissions.result_history import history_of
from tests.api.regrade_support import (
    OTHER,
    QUIZ_SLUG,
    TA,
    attempt,
    fix_quiz_key,
    graded_then_fixed,
    staff_here_and_elsewhere,
    submission,
)

from .support import INSTRUCTOR, STUDENT, csrf_token_in

URL = "/courses/demo/assignments/l2-regularization/regrade"
QUIZ_URL = f"/courses/demo/assignments/{QUIZ_SLUG}/regrade"
LIST_URL = "/courses/demo/assignments/l2-regularization/submissions"


@pytest.fixture
def fixed(demo, tmp_path):
    return graded_then_fixed(tmp_path)


@pytest.fixture
def staff(demo):
    staff_here_and_elsewhere(demo)


def confirm_form(html: str) -> dict:
    """The hidden fields of the preview's confirm form."""
    start = html.rindex("<form", 0, html.index('name="token"'))
    form = html[start : html.index("</form>", start)]
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))


def test_the_preview_shows_each_student_before_and_after_and_records_nothing(fixed, instructor):
    listed = instructor.get(LIST_URL).get_data(as_text=True)
    assert "2 submissions were made to an older version" in listed and "(older)" in listed
    assert f'href="{URL}?preview=1"' in listed  # the submissions page leads here
    assert f'href="{URL}"' in instructor.get("/courses/demo").get_data(as_text=True)

    form = instructor.get(URL).get_data(as_text=True)
    page = instructor.get(URL + "?preview=1").get_data(as_text=True)

    assert "A preview grades 2 pieces of work again (what was graded on an older" in form
    assert "<strong>1 of 2</strong> counted scores change" in page
    rows = re.findall(r'<tr( class="changed")? data-student="([^"]+)"', page)
    assert rows == [(' class="changed"', "student2@example.edu"), ("", STUDENT[0])]  # by e-mail
    assert "10 / 10" in page and "v1" in page and "v2" in page
    assert submission(fixed[1]).exercise.version == 1  # nothing recorded


def test_confirming_records_the_results_and_the_submission_page_shows_the_history(
    fixed, instructor, new_client
):
    before = submission(fixed[1]).score
    form = confirm_form(instructor.get(URL + "?preview=1").get_data(as_text=True))

    done = instructor.post(URL, data=form)

    assert done.status_code == 302 and done.headers["Location"].endswith(URL)
    flashed = instructor.get(URL).get_data(as_text=True)
    assert "Regraded 2 piece(s) of work of 2 student(s): 1 counted score(s) changed" in flashed
    regraded = submission(fixed[1])
    assert regraded.exercise.version == 2 and regraded.score != before
    staff_view = instructor.get(f"/courses/demo/submissions/{fixed[1]}").get_data(as_text=True)
    assert "Earlier results" in staff_view and "a regrade by instructor@example.edu" in staff_view
    assert "first grading" in staff_view and f"{before:g} / 10" in staff_view
    student2 = new_client(("student2@example.edu", "student"))
    own_view = student2.get(f"/courses/demo/submissions/{fixed[1]}").get_data(as_text=True)
    assert "Earlier results" in own_view and f"{before:g} / 10" in own_view
    assert "instructor@example.edu" not in own_view  # a student sees scores and dates only


def test_one_students_work_on_the_same_version(fixed, instructor):
    page = instructor.get(URL + f"?preview=1&student={STUDENT[0]}&same_version=1").get_data(
        as_text=True
    )
    assert "<strong>0 of 1</strong> counted score change" in page
    assert "on the version each was graded on" in page
    form = confirm_form(page)
    assert form["student"] == STUDENT[0] and form["same_version"] == "1"

    assert instructor.post(URL, data=form).status_code == 302

    assert submission(fixed[0]).exercise.version == 1  # graded again on its own version
    assert len(history_of(submission_id=fixed[0])) == 1
    assert history_of(submission_id=fixed[1]) == []  # the other student's is untouched


def test_a_student_field_holding_nul_is_refused_and_nothing_is_regraded(fixed, instructor):
    form = confirm_form(instructor.get(URL + "?preview=1").get_data(as_text=True))
    form["student"] = "a\x00b@example.edu"  # PostgreSQL cannot compare with it
    answer = instructor.post(URL, data=form)
    assert answer.status_code == 400 and "NUL" in answer.get_data(as_text=True)
    assert history_of(submission_id=fixed[0]) == []


def test_a_stale_preview_is_refused_with_the_current_preview(fixed, instructor):
    page = instructor.get(URL + "?preview=1&same_version=1").get_data(as_text=True)
    form = confirm_form(page)
    assert instructor.post(URL, data=form).status_code == 302  # graded again meanwhile...

    refused = instructor.post(URL, data=form)  # ...so this preview no longer holds

    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert (
        "the work changed since the preview" in html
        and confirm_form(html)["token"] != form["token"]
    )
    assert len(history_of(submission_id=fixed[1])) == 1


def test_a_student_sees_no_regrade_link(demo, student):
    assert "/regrade" not in student.get("/courses/demo").get_data(as_text=True)


def test_confirming_needs_the_csrf_token(fixed, instructor):
    form = confirm_form(instructor.get(URL + "?preview=1").get_data(as_text=True))
    del form["csrf_token"]

    assert instructor.post(URL, data=form).status_code == 400
    assert submission(fixed[1]).exercise.version == 1


@pytest.mark.parametrize(
    ("who", "preview", "apply"),
    [(STUDENT, 403, 403), (TA, 200, 302), (OTHER, 404, 404), (INSTRUCTOR, 200, 302)],
)
def test_only_the_courses_staff_may_regrade(fixed, staff, new_client, who, preview, apply):
    page = new_client(INSTRUCTOR).get(URL + "?preview=1").get_data(as_text=True)
    form = confirm_form(page)
    user = new_client(who)
    form["csrf_token"] = csrf_token_in(user.get("/account").get_data(as_text=True))

    assert user.get(URL + "?preview=1").status_code == preview
    assert user.post(URL, data=form).status_code == apply
    assert (submission(fixed[1]).exercise.version == 2) == (apply == 302)


def test_an_unknown_student_is_a_404(fixed, instructor):
    assert instructor.get(URL + "?preview=1&student=nobody@example.edu").status_code == 404


def test_a_quiz_regrade_from_its_page(demo, instructor, tmp_path, monkeypatch):
    monkeypatch.setattr(quizzes, "_versions", {})
    said_b = attempt(STUDENT[0], {"q1": "b"})
    attempt("student2@example.edu", {"q1": "a"})
    fix_quiz_key(tmp_path)

    page = instructor.get(QUIZ_URL + "?preview=1").get_data(as_text=True)

    assert "<strong>2 of 2</strong> counted scores change" in page
    assert instructor.post(QUIZ_URL, data=confirm_form(page)).status_code == 302
    (past,) = history_of(attempt_id=said_b)
    assert past.score == 1.0
    attempt_page = instructor.get(f"/courses/demo/attempts/{said_b}").get_data(as_text=True)
    assert "Earlier results" in attempt_page and "first grading" in attempt_page


def test_a_large_regrade_goes_to_the_workers(fixed, app, instructor):
    app.config["RUBRIC_REGRADE_SYNC_LIMIT"] = 1
    page = instructor.get(URL + "?preview=1").get_data(as_text=True)
    assert "More than 1 submissions: confirming queues them" in page

    instructor.post(URL, data=confirm_form(page))

    assert "will be graded again on version 2 by the workers" in instructor.get(URL).get_data(
        as_text=True
    )
    queued = submission(fixed[1])
    assert queued.status in (
        SubmissionStatus.QUEUED,
        SubmissionStatus.RUNNING,
        SubmissionStatus.GRADED,
    )
    assert len(history_of(submission_id=fixed[1])) == 1
