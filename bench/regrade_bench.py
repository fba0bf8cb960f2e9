"""Regrading a 300-student course after a content fix: preview, apply, or queue for the workers.

Run: .venv/bin/python bench/regrade_bench.py [--students 300]
On a migrated SQLite file with the bundled content synced: one course with the L2
exercise and quiz published, one graded submission per student (the reference or one
of the exercise's known mistakes, in turn) and one quiz attempt each. Then the exercise
is reweighed (version 2) and the quiz's q1 key fixed (version 2), and it prints the time
of a preview (every submission graded again in the sandbox, nothing recorded), of
applying it (graded again and recorded, each old result archived), of queueing the
same regrade for the workers instead (archive and requeue: no grading in the request),
and of the quiz's preview and apply (rescoring, no sandbox).
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.late_gradebook_bench import scratch_app  # noqa: E402

EXERCISE = ROOT / "exercises" / "l2-regularization"
QUIZ = ROOT / "quizzes" / "l2-regularization-quiz.toml"


def seconds(work):
    """Run work(); return (its result, the wall time in seconds)."""
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def seed(students: int):
    """A course with the exercise and quiz published, and one graded piece of each per student."""
    from server.accounts import new_user
    from server.courses import assignments as publishing
    from server.courses import enroll
    from server.courses.people import create_course
    from server.extensions import db
    from server.scoring.quizzes import submit_attempt
    from server.submissions import runner, service

    course = create_course("bench", "Bench")
    exercise = publishing.publish(course, "l2-regularization", None, "l2")
    quiz = publishing.publish(course, "l2-regularization-quiz", None, "quiz")
    people = [new_user(f"s{i:03}@example.edu", f"Student {i}") for i in range(students)]
    db.session.flush()
    for person in people:
        enroll(person, course)
    db.session.commit()
    codes = [(EXERCISE / "reference.py").read_text()] + [
        path.read_text() for path in sorted((EXERCISE / "mistakes").glob("*.py"))
    ]
    for i, person in enumerate(people):
        submission = service.submit(exercise, person, codes[i % len(codes)])
        runner.process(submission.id)
        submit_attempt(quiz, person, {"q1": "ab"[i % 2], "q2": "0.998", "q3": "b"})
    return exercise, quiz


def fix_content(folder: Path) -> None:
    """Version 2 of each: l2_penalty 2 points and l2_gradient 4; q1's key "a"."""
    from server.content.quizzes import load_quiz
    from server.content.sync import store_exercise, store_quiz
    from server.extensions import db

    copy = folder / "l2-regularization"
    shutil.copytree(EXERCISE, copy)
    toml = copy / "exercise.toml"
    first, gradient, rest = toml.read_text().split("points = 3", 2)
    toml.write_text(first + "points = 2" + gradient + "points = 4" + rest)
    store_exercise(copy)
    quiz = folder / QUIZ.name
    quiz.write_text(QUIZ.read_text().replace('answer = "b"', 'answer = "a"', 1))
    store_quiz(load_quiz(quiz))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()

    from server.submissions import regrade

    with scratch_app() as (app, folder):
        (exercise, quiz), seeded = seconds(lambda: seed(args.students))
        fix_content(Path(folder))
        scope = regrade.scope_of(exercise)
        shown, preview_s = seconds(lambda: regrade.preview(scope))
        done, apply_s = seconds(lambda: regrade.apply(scope, shown.token, None, None))
        queued, queue_s = seconds(lambda: regrade.requeue(regrade.scope_of(exercise, "", True)))
        quiz_scope = regrade.scope_of(quiz)
        quiz_shown, quiz_preview_s = seconds(lambda: regrade.preview(quiz_scope))
        quiz_done, quiz_apply_s = seconds(
            lambda: regrade.apply(quiz_scope, quiz_shown.token, None, None)
        )
    n = args.students
    print(f"{n} students, one submission and one quiz attempt each, SQLite "
          f"(seeding and first grading: {seeded:.1f} s)")  # fmt: skip
    rows = [
        ("exercise preview", preview_s, f"{shown.changed} of {len(shown.students)} change"),
        ("exercise apply", apply_s, f"{done.regraded} recorded, graded again"),
        ("exercise queue", queue_s, f"{queued.submissions} queued for the workers"),
        ("quiz preview", quiz_preview_s, f"{quiz_shown.changed} of {n} change"),
        ("quiz apply", quiz_apply_s, f"{quiz_done.regraded} recorded"),
    ]
    for label, took, what in rows:
        print(f"  {label:17} {took:7.2f} s  {1000 * took / n:6.1f} ms per student  ({what})")


if __name__ == "__main__":
    main()
