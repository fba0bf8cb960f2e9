"""Gradebook with late work: how long counting 300 students x 30 assignments takes.

Run: .venv/bin/python bench/late_gradebook_bench.py [--students 300] [--assignments 30]
On a migrated SQLite file with the bundled content synced: one course, each assignment
the bundled quiz with a due date and a 10%-per-day late window, two attempts per
student and assignment (a third of them late), an extension and an override per
assignment. Prints the median of 5 runs of computing the gradebook (every penalty,
extension and override applied on read), of its JSON rows and CSV, and of one
student's counted score (what grade passback reads after each change).
"""

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def median_ms(work, runs: int = 5) -> float:
    """The median wall time of `work()` in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def seed(students: int, assignments: int):
    """The course, its students, assignments, attempts, extensions and overrides."""
    import sqlalchemy as sa

    from server.accounts import new_user
    from server.courses import assignments as publishing
    from server.courses import enroll
    from server.courses.people import create_course
    from server.extensions import db
    from server.models import Extension, Quiz, QuizAttempt, ScoreOverride

    course = create_course("bench", "Bench")
    people = [new_user(f"s{i}@example.edu", f"Student {i}") for i in range(students)]
    db.session.flush()
    for person in people:
        enroll(person, course)
    quiz = db.session.scalar(sa.select(Quiz).order_by(Quiz.id).limit(1))
    due = datetime(2026, 12, 1, tzinfo=UTC)
    window = {"due_at": due, "late_until": due + timedelta(days=7), "late_penalty_per_day": 0.1}
    made = [
        publishing.publish(course, quiz.slug, None, f"a{n}", **window) for n in range(assignments)
    ]
    rows = []
    for a in made:
        for i, person in enumerate(people):
            for number in (1, 2):
                late = timedelta(hours=30) if i % 3 == 0 else -timedelta(hours=1)
                at = due + late + timedelta(minutes=number)
                rows.append(dict(assignment_id=a.id, user_id=person.id, quiz_id=quiz.id,
                                 number=number, score=3.0 + number, max_score=5.0,
                                 submitted_at=at))  # fmt: skip
    db.session.execute(sa.insert(QuizAttempt), rows)
    for a in made:
        moved = due + timedelta(days=2)
        db.session.add(Extension(assignment_id=a.id, user_id=people[1].id, due_at=moved))
        db.session.add(ScoreOverride(assignment_id=a.id, user_id=people[2].id, score=4.0,
                                     max_score=5.0, reason="bench", set_by="bench"))  # fmt: skip
    db.session.commit()
    return course, made[0], people[0]


@contextlib.contextmanager
def scratch_app(sync: bool = True):
    """Yield (app, folder): the app, in its context, on a migrated SQLite database in a
    temporary folder (mail to its outbox/), the bundled content synced unless told not."""
    import flask_migrate

    from server import create_app
    from server.content.sync import sync_content

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        config = {"TESTING": True, "SECRET_KEY": "b", "SQLALCHEMY_DATABASE_URI": url}
        app = create_app(config | {"RUBRIC_OUTBOX_DIR": f"{folder}/outbox"})
        with app.app_context():
            flask_migrate.upgrade()
            if sync:
                sync_content(ROOT)
            yield app, Path(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--assignments", type=int, default=30)
    args = parser.parse_args()

    from server.scoring.exports import export
    from server.scoring.gradebook import build_gradebook, counted_score, gradebook_rows

    with scratch_app():
        course, first, student = seed(args.students, args.assignments)
        book = build_gradebook(course)
        figures = {
            "gradebook": median_ms(lambda: build_gradebook(course)),
            "json rows": median_ms(lambda: gradebook_rows(book)),
            "csv": median_ms(lambda: export(book, "csv")),
            "one counted score": median_ms(lambda: counted_score(first.id, student.id)),
        }
    cells = args.students * args.assignments
    print(f"{args.students} students x {args.assignments} assignments ({cells} cells, "
          f"{cells * 2} attempts), SQLite; median of 5")  # fmt: skip
    for label, ms in figures.items():
        print(f"  {label:18} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
