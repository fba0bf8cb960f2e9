"""Gradebook at 300 students x 30 assignments: the page, the JSON API and each CSV.

Run: .venv/bin/python bench/gradebook_bench.py [--students 300] [--assignments 30] [--runs 7]
On a migrated SQLite file (or RUBRIC_BENCH_DATABASE_URL) with the bundled content synced:
one course whose assignments alternate between the bundled quiz and exercise, each with
a due date and a 10%-per-day late window; every student has one to three graded
attempts or submissions on nine in ten assignments (a quarter of them late), and each
assignment has two extensions, an override and an excused student; five students have
a course-wide accommodation. Prints the median of N requests through Flask's test client
(the whole request: log-in session or token, queries, counting, rendering), side by side.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def medians(request, runs: int) -> tuple[float, float]:
    """The median wall time and CPU time of `request()` in ms; each answer must be a 200.

    The CPU time is this process's (Flask, SQLAlchemy and SQLite all run in it): on a
    machine shared with other work it is what the request costs, where the wall time also
    counts the waits for a core.
    """
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        answer = request()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        assert answer.status_code == 200, answer.status_code
    return statistics.median(walls), statistics.median(cpus)


def seed(students: int, assignments: int):
    """The course, its people, assignments and graded work; returns the course."""
    import sqlalchemy as sa

    from server.courses import assignments as publishing
    from server.courses.people import create_course
    from server.extensions import db
    from server.models import (
        Accommodation,
        Enrollment,
        Exercise,
        Extension,
        Quiz,
        QuizAttempt,
        Role,
        ScoreOverride,
        Submission,
        SubmissionStatus,
        User,
    )

    rng = random.Random(16)
    course = create_course("bench", "Bench")
    rows = [{"email": f"s{i:03}@example.edu", "name": f"Student {i:03}", "password_hash": "-"}
            for i in range(students)]  # fmt: skip
    db.session.execute(sa.insert(User), rows)
    ids = db.session.scalars(sa.select(User.id).where(User.email.like("s%@example.edu"))).all()
    db.session.execute(sa.insert(Enrollment), [
        {"course_id": course.id, "user_id": i, "role": Role.STUDENT} for i in ids])  # fmt: skip
    quiz = db.session.scalar(sa.select(Quiz).order_by(Quiz.id).limit(1))
    exercise = db.session.scalar(sa.select(Exercise).order_by(Exercise.id).limit(1))
    due = datetime(2026, 12, 1, tzinfo=UTC)
    window = {"due_at": due, "late_until": due + timedelta(days=7), "late_penalty_per_day": 0.1}
    made = []
    for n in range(assignments):
        content = quiz.slug if n % 2 == 0 else exercise.slug
        made.append(publishing.publish(course, content, None, f"a{n:02}", f"Assignment {n:02}",
                                       weight=1 + n % 3, **window))  # fmt: skip
    attempts, submissions = [], []
    for a in made:
        for user_id in ids:
            if rng.random() < 0.1:
                continue  # nothing handed in
            for number in range(1, rng.randint(1, 3) + 1):
                late = rng.random() < 0.25
                at = due + timedelta(hours=rng.uniform(1, 100) if late else -rng.uniform(1, 100))
                work = {"assignment_id": a.id, "user_id": user_id, "number": number,
                        "submitted_at": at}  # fmt: skip
                if a.content_slug == quiz.slug:
                    score = rng.randint(0, 5)
                    attempts.append(work | {"quiz_id": quiz.id, "score": score, "max_score": 5})
                else:
                    score = round(rng.uniform(0, exercise.max_score), 2)
                    submissions.append(work | {"exercise_id": exercise.id, "code": "pass",
                        "status": SubmissionStatus.GRADED, "score": score,
                        "max_score": exercise.max_score})  # fmt: skip
    db.session.execute(sa.insert(QuizAttempt), attempts)
    db.session.execute(sa.insert(Submission), submissions)
    for a in made:
        picked = rng.sample(ids, 4)
        for user_id in picked[:2]:
            db.session.add(Extension(assignment_id=a.id, user_id=user_id,
                                     due_at=due + timedelta(days=2)))  # fmt: skip
        db.session.add(ScoreOverride(assignment_id=a.id, user_id=picked[2], score=3.0,
                                     max_score=5.0, reason="bench", set_by="bench"))  # fmt: skip
        db.session.add(ScoreOverride(assignment_id=a.id, user_id=picked[3], score=None,
                                     max_score=5.0, excused=True, reason="bench",
                                     set_by="bench"))  # fmt: skip
    for user_id in ids[:5]:
        db.session.add(Accommodation(course_id=course.id, user_id=user_id, shift_seconds=86400,
                                     reason="bench", granted_by="bench"))  # fmt: skip
    db.session.commit()
    return course, len(attempts) + len(submissions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--assignments", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import flask_migrate

    from server import create_app
    from server.accounts import create_token, ensure_user
    from server.content.sync import sync_content
    from server.courses import enroll
    from server.extensions import db
    from server.models import Role

    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("RUBRIC_BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.sqlite3"
        config = {"TESTING": True, "SECRET_KEY": "b", "SQLALCHEMY_DATABASE_URI": url,
                  "WTF_CSRF_ENABLED": False, "RUBRIC_OUTBOX_DIR": f"{folder}/outbox"}  # fmt: skip
        app = create_app(config)
        with app.app_context():
            flask_migrate.upgrade()
            sync_content(ROOT)
            course, graded = seed(args.students, args.assignments)
            teacher = ensure_user("teacher@example.edu", "Teacher", "teacher-password")
            enroll(teacher, course, Role.INSTRUCTOR)
            token = create_token(teacher)
            db.session.commit()
            db.session.remove()
        web = app.test_client()
        login = {"email": "teacher@example.edu", "password": "teacher-password"}
        assert web.post("/login", data=login).status_code == 302
        api = {"Authorization": f"Bearer {token}"}
        page, book = "/courses/bench/gradebook", "/api/v1/courses/bench/gradebook"
        requests = {
            "page (first 50 by name)": lambda: web.get(page),
            "page (by percentage, 4th)": lambda: web.get(f"{page}?sort=percent&page=4"),
            "page (filtered)": lambda: web.get(f"{page}?q=student+01"),
            "JSON API": lambda: app.test_client().get(book, headers=api),
            "CSV (Rubric)": lambda: web.get(f"{page}.csv"),
            "CSV (Canvas)": lambda: web.get(f"{page}.csv?format=canvas"),
            "CSV (Moodle)": lambda: web.get(f"{page}.csv?format=moodle"),
        }
        figures = {label: medians(request, args.runs) for label, request in requests.items()}
    cells = args.students * args.assignments
    engine = url.split(":", 1)[0].split("+")[0]
    print(f"{args.students} students x {args.assignments} assignments ({cells} cells, "
          f"{graded} graded attempts and submissions), {engine}; "
          f"median of {args.runs} requests")  # fmt: skip
    print(f"  {'':28} {'wall':>8}    {'CPU':>8}")
    for label, (wall, cpu) in figures.items():
        print(f"  {label:28} {wall:8.1f} ms {cpu:8.1f} ms")


if __name__ == "__main__":
    main()
