"""Content fixes for the regrade tests, stored the way `rubric content sync` stores them."""

import shutil

import sqlalchemy as sa

from server.accounts import ensure_user, find_user
from server.config import PROJECT_ROOT
from server.content.quizzes import load_quiz
from server.content.sync import store_exercise, store_quiz
from server.courses import enroll
from server.courses.people import create_course
from server.extensions import db
from server.models import Assignment, Course, Role, Submission
from server.scoring.quizzes import submit_attempt
from server.submissions import runner, service

EXERCISE = PROJECT_ROOT / "exercises" / "l2-regularization"
REFERENCE = (EXERCISE / "reference.py").read_text()
FORGOT_TWO = REFERENCE.replace("2 * lam * w", "lam * w")  # loses points on l2_gradient
QUIZ_SLUG = "l2-regularization-quiz"


def assignment(slug: str = "l2-regularization") -> Assignment:
    return db.session.scalar(sa.select(Assignment).where(Assignment.slug == slug))


def reweigh_exercise(tmp_path) -> None:
    """Version 2: l2_penalty worth 2 points instead of 3, l2_gradient 4 instead of 3.

    The maximum stays 10: full marks stay full, and only work that loses points on one
    of the two functions changes score.
    """
    folder = tmp_path / "l2-regularization"
    shutil.copytree(EXERCISE, folder)
    toml = folder / "exercise.toml"
    first, gradient, rest = toml.read_text().split("points = 3", 2)
    toml.write_text(first + "points = 2" + gradient + "points = 4" + rest)
    assert store_exercise(folder).version == 2
    db.session.commit()


def fix_quiz_key(tmp_path) -> None:
    """Version 2 of the quiz: q1's right answer is "a" instead of "b"."""
    source = (PROJECT_ROOT / "quizzes" / f"{QUIZ_SLUG}.toml").read_text()
    assert source.count('answer = "b"') == 2  # q1, then q3
    path = tmp_path / f"{QUIZ_SLUG}.toml"
    path.write_text(source.replace('answer = "b"', 'answer = "a"', 1))
    assert store_quiz(load_quiz(path)).version == 2
    db.session.commit()


def graded_submission(email: str, code: str) -> int:
    """Store a submission and grade it here, as a worker would; return its id."""
    submission = service.submit(assignment(), find_user(email), code)
    assert runner.process(submission.id) == "graded"
    return submission.id


def attempt(email: str, answers: dict) -> int:
    """Record a quiz attempt; return its id."""
    return submit_attempt(assignment(QUIZ_SLUG), find_user(email), answers).id


def submission(submission_id: int) -> Submission:
    db.session.expire_all()
    return db.session.get(Submission, submission_id)


def graded_then_fixed(tmp_path) -> tuple[int, int]:
    """The demo student's perfect work and student2's imperfect one, then the exercise fixed."""
    ids = (
        graded_submission("student@example.edu", REFERENCE),
        graded_submission("student2@example.edu", FORGOT_TWO),
    )
    reweigh_exercise(tmp_path)
    return ids


TA = ("ta@example.edu", "ta-password")
OTHER = ("other@example.edu", "other-pass")  # the instructor of another course


def staff_here_and_elsewhere(demo: Course) -> None:
    """A TA of the demo course, and a second course with its own instructor."""
    enroll(ensure_user(TA[0], "Tess Assistant", TA[1]), demo, Role.TA)
    other = create_course("other", "Another course")
    enroll(
        ensure_user(OTHER[0], "Olga Other", OTHER[1], role=Role.INSTRUCTOR), other, Role.INSTRUCTOR
    )
    db.session.commit()
