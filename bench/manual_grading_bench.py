"""Grading notebooks by hand at 300 students: the queue, the grading page, a save, the
gradebook with manual points, and the feedback zip.

Run: .venv/bin/python bench/manual_grading_bench.py [--students 300]
On a migrated SQLite file: nbgrader's example ps1 imported and published, every
student with one graded submission (hacker's notebooks, graded once in the sandbox),
half of them with their five written answers graded by hand. Prints the median of 5
runs of each step; the gradebook also without the manual points' subquery, side by side.
"""

import argparse
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXAMPLE = ROOT / "tests" / "notebooks" / "nbgrader-example"

from bench.late_gradebook_bench import median_ms, scratch_app  # noqa: E402


def seed(students: int, folder: Path):
    """The course, ps1 published in it, a graded submission per student, half graded by hand."""
    import sqlalchemy as sa

    from server.accounts import ensure_user, new_user
    from server.content.sync import sync_exercises
    from server.courses import enroll
    from server.courses.people import create_course
    from server.extensions import db
    from server.models import Assignment, AssignmentKind, Role, Submission, SubmissionStatus
    from server.models.manual import ManualGrade
    from server.models.types import utcnow
    from server.notebooks.exercise import load_notebook_exercise
    from server.notebooks.grade import grade_notebooks
    from server.notebooks.importer import import_assignment
    from server.notebooks.manual import waiting_cells
    from server.notebooks.submission import check_notebooks
    from server.submissions.exercises import current_exercise

    target = import_assignment(EXAMPLE / "source" / "ps1", folder / "exercises")
    sync_exercises(folder)
    exercise = load_notebook_exercise(target)
    handed_in = EXAMPLE / "submitted" / "hacker" / "ps1"
    result = grade_notebooks(exercise, {p.stem: p for p in handed_in.glob("*.ipynb")}).to_dict()
    code = check_notebooks(exercise, {p.name: p.read_bytes() for p in handed_in.glob("*.ipynb")})
    course = create_course("bench", "Bench")
    grader = ensure_user("grader@example.edu", "Grader", "grader-pass", role=Role.INSTRUCTOR)
    enroll(grader, course, Role.INSTRUCTOR)
    people = [new_user(f"s{i:03}@example.edu", f"Student {i}") for i in range(students)]
    db.session.flush()
    for person in people:
        enroll(person, course)
    assignment = Assignment(course_id=course.id, slug="ps1", title="ps1",
                            kind=AssignmentKind.EXERCISE, content_slug="ps1")  # fmt: skip
    db.session.add(assignment)
    db.session.flush()
    version = current_exercise(assignment)
    now = utcnow()
    rows = [dict(assignment_id=assignment.id, user_id=p.id, exercise_id=version.id, number=1,
                 code=code.stored(), status=SubmissionStatus.GRADED, score=result["score"],
                 max_score=result["max_score"], result=result, graded_at=now)
            for p in people]  # fmt: skip
    db.session.execute(sa.insert(Submission), rows)
    ids = db.session.scalars(sa.select(Submission.id).order_by(Submission.id)).all()
    cells = waiting_cells(result)
    grades = [dict(submission_id=i, notebook=c.notebook, grade_id=c.grade_id, points=c.max_points,
                   max_points=c.max_points, comment="ok", graded_by=grader.email, graded_at=now)
              for i in ids[::2] for c in cells]  # fmt: skip
    db.session.execute(sa.insert(ManualGrade), grades)
    db.session.commit()
    return course, assignment, grader, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()

    from server.extensions import db
    from server.models import Assignment, Submission
    from server.notebooks import feedback, manual
    from server.scoring import gradebook
    from tests.web.support import PageClient

    with scratch_app(sync=False) as (app, folder):
        course, assignment, grader, ids = seed(args.students, Path(folder))
        page = PageClient(app, app.response_class, use_cookies=True)
        page.login("grader@example.edu", "grader-pass")
        waiting = f"/courses/bench/assignments/ps1/grading/{ids[1]}"
        assert page.get(waiting).status_code == 200, "the grader could not open the page"
        cells = manual.waiting_cells(db.session.get(Submission, ids[1]).result)
        runs = iter(range(100))

        def save() -> None:
            # Other points each time: every run stores, audits and queues a change.
            share = (next(runs) % 2 + 1) / 2
            given = [
                manual.GradeInput(c.notebook, c.grade_id, c.max_points * share, "") for c in cells
            ]
            manual.save(db.session.get(Submission, ids[1]), grader, given)

        def plain(model):
            return model.score

        def gradebook_without_manual() -> None:
            with mock.patch.object(gradebook, "score_of", plain):
                gradebook.build_gradebook(course)

        figures = {
            "queue (domain)": median_ms(lambda: manual.grading_queue(assignment, grader)),
            "grading page (GET)": median_ms(lambda: page.get(waiting)),
            "save 5 cells (audited, committed)": median_ms(save),
            "gradebook": median_ms(lambda: gradebook.build_gradebook(course)),
            "gradebook, no manual subquery": median_ms(gradebook_without_manual),
            "one counted score": median_ms(
                lambda: gradebook.counted_score(assignment.id, grader.id)
            ),
            "feedback zip": median_ms(
                lambda: feedback.feedback_zip(db.session.get(Assignment, assignment.id)), 3
            ),
        }
    print(f"{args.students} students, one graded ps1 submission each, half graded by hand;"
          " SQLite, median of 5 (the zip: of 3)")  # fmt: skip
    for label, ms in figures.items():
        print(f"  {label:34} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
