"""nbgrader's example ps1 published in the demo course, and graded submissions to it.

A submission goes the way a handed-in one does: checked and stored by
server/notebooks/submission.py and server/submissions/service.py, then claimed and
recorded through the service with the result of grading it in the sandbox.
"""

from __future__ import annotations

import time
from pathlib import Path

from server.accounts import ensure_user, find_user
from server.content.sync import sync_exercises
from server.courses import enroll
from server.courses.people import create_course
from server.extensions import db
from server.models import Assignment, AssignmentKind, Role, Submission, SubmissionStatus
from server.notebooks.exercise import load_notebook_exercise
from server.notebooks.grade import grade_notebooks
from server.notebooks.importer import import_assignment
from server.notebooks.submission import check_notebooks
from server.submissions import service
from tests.notebooks.support import EXAMPLE
from tests.web.support import PageClient

TA = ("ta@example.edu", "ta-password")
OTHER = ("other-instructor@example.edu", "other-pass")
INSTRUCTOR = ("instructor@example.edu", "instructor")
STUDENT = ("student@example.edu", "student")
STUDENT2 = ("student2@example.edu", "student")
SLUG = "ps1"
# The manual cells of ps1 with their maxima, as the example's source marks them.
WAITING = {
    ("problem1", "sum_of_squares_equation"): 1.0,
    ("problem1", "sum_of_squares_application"): 2.0,
    ("problem1", "cell-938593c4a215c6cc"): 4.0,
    ("problem2", "part-a"): 1.0,
    ("problem2", "part-b"): 2.0,
}
_results: dict[str, dict] = {}  # grading is deterministic: once per student and session


def publish_ps1(course, folder: Path) -> Assignment:
    """Import and sync the example, and publish it in the course as `ps1`."""
    import_assignment(EXAMPLE / "source" / "ps1", folder / "exercises")
    sync_exercises(folder)
    assignment = Assignment(
        course_id=course.id,
        slug=SLUG,
        title="Problem set 1",
        kind=AssignmentKind.EXERCISE,
        content_slug=SLUG,
    )
    db.session.add(assignment)
    db.session.commit()
    return assignment


def notebooks_of(student: str, folder: Path) -> str:
    """The example student's notebooks as a submission stores them (server/notebooks/submission)."""
    exercise = load_notebook_exercise(folder / "exercises" / SLUG)
    handed_in = EXAMPLE / "submitted" / student / "ps1"
    files = {p.name: p.read_bytes() for p in sorted(handed_in.glob("*.ipynb"))}
    return check_notebooks(exercise, files).stored()


def _result(student: str, folder: Path) -> dict:
    if student not in _results:
        exercise = load_notebook_exercise(folder / "exercises" / SLUG)
        paths = {p.stem: p for p in (EXAMPLE / "submitted" / student / "ps1").glob("*.ipynb")}
        _results[student] = grade_notebooks(exercise, paths).to_dict()
    return _results[student]


def graded_submission(assignment, email: str, student: str, folder: Path) -> Submission:
    """Store the example student's notebooks as `email`'s next submission and grade it."""
    submission = service.submit(assignment, find_user(email), notebooks_of(student, folder))
    claim = service.claim(submission.id)
    if claim is not None:
        assert service.record_result(claim, _result(student, folder))
    else:  # scale-out: a worker's sweep took it first, and grades it the same way
        wait_graded(submission.id)
    db.session.expire_all()
    return db.session.get(Submission, submission.id)


def wait_graded(submission_id: int, seconds: float = 120) -> None:
    """Wait until a worker has recorded the submission's result (scale-out mode)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(Submission, submission_id).status == SubmissionStatus.GRADED:
            return
        time.sleep(0.2)
    raise AssertionError(f"submission {submission_id} was not graded in {seconds} s")


def add_people(demo) -> None:
    """A TA of the demo course, and another course with its own instructor."""
    enroll(ensure_user(TA[0], "Tess Assistant", TA[1]), demo, Role.TA)
    other = create_course("other", "Another course")
    teacher = ensure_user(OTHER[0], "Olga Other", OTHER[1], role=Role.INSTRUCTOR)
    enroll(teacher, other, Role.INSTRUCTOR)
    db.session.commit()


def make_ps1(demo, folder: Path) -> Assignment:
    """The example published in the demo course; student and student2 submitted once each."""
    add_people(demo)
    assignment = publish_ps1(demo, folder)
    graded_submission(assignment, STUDENT[0], "hacker", folder)
    graded_submission(assignment, STUDENT2[0], "bitdiddle", folder)
    return assignment


def logged_in(app, user: tuple[str, str]) -> PageClient:
    """A page client logged in as (email, password)."""
    client = PageClient(app, app.response_class, use_cookies=True)
    assert client.login(*user).status_code == 302
    return client
