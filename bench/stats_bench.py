"""Class statistics: how long an assignment's statistics page and API take at course size.

Run: .venv/bin/python bench/stats_bench.py [--students 300] [--submissions 10] [--runs 5]
On a migrated SQLite file with the bundled content and the demo course: STUDENTS more
students, each with SUBMISSIONS graded code submissions to the l2 exercise (due two
hours ago with a 10%-a-day late window; a third of the students late; a mix of
the exercise's real known mistakes, wrong code no mistake describes, and the reference:
each distinct file graded once in the sandbox, its result stored for every submission
of it) and two quiz attempts through the real attempt path. Prints the median of RUNS
of the statistics computed in process, the API answer and the page, for the exercise
and the quiz, and the course overview page; and of the exercise's API answer "cold",
with no result's facts kept yet (server/analytics/exercises.py), as after a restart.
"""

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.late_gradebook_bench import median_ms  # noqa: E402


def seed(students: int, submissions: int) -> dict:
    """The load students, their code submissions and quiz attempts; returns what was made."""
    import sqlalchemy as sa

    from bench.stats_seed import UNKNOWN, engine, mistake_code, reference_code, store, unknown_code
    from server.demo import enroll_load_students
    from server.extensions import db
    from server.models import Assignment, Course, Enrollment, User
    from server.models.types import utcnow
    from server.scoring.quizzes import current_quiz, submit_attempt

    course = db.session.scalar(sa.select(Course).where(Course.slug == "demo"))
    exercise = db.session.scalar(
        sa.select(Assignment).where(Assignment.slug == "l2-regularization")
    )
    quiz = db.session.scalar(
        sa.select(Assignment).where(Assignment.slug == "l2-regularization-quiz")
    )
    enroll_load_students(course, "load", students)
    load = list(
        db.session.scalars(
            sa.select(User)
            .join(Enrollment, Enrollment.user_id == User.id)
            .where(Enrollment.course_id == course.id, User.email.like("load%"))
            .order_by(User.id)
        )
    )
    # Due two hours ago, late work taken for a week at 10% a day: a third of the
    # students submit late, so the counted piece is picked after late penalties.
    now = utcnow()
    exercise.due_at, exercise.late_until = now - timedelta(hours=2), now + timedelta(days=7)
    exercise.late_penalty_per_day = 0.1
    db.session.commit()
    rng = random.Random(18)
    wrong = [mistake_code(exercise, m.name) for m in engine(exercise).mistakes]
    unknown = [unknown_code(exercise, name) for name in UNKNOWN]
    right = reference_code(exercise)
    made = 0
    for user in load:
        # Most students start wrong (a known mistake, sometimes something else) and
        # about half end right; a few never get there.
        codes = [rng.choice(unknown) if rng.random() < 0.25 else rng.choice(wrong)
                 for _ in range(submissions)]  # fmt: skip
        if rng.random() < 0.5:
            codes[rng.randrange(submissions // 2, submissions)] = right
        late = rng.random() < 1 / 3
        store(exercise, user.id, codes, now - timedelta(hours=1 if late else 5))
        made += len(codes)
    keys = current_quiz(quiz).questions
    choices = {q.key: list(q.spec.get("choices", {})) for q in keys}
    for user in load:
        strength = rng.random()
        for _ in range(2):
            answers = {}
            for q in keys:
                if choices[q.key] and q.kind == "single_choice":
                    answers[q.key] = (
                        q.spec["answer"] if rng.random() < strength else rng.choice(choices[q.key])
                    )
                elif choices[q.key]:
                    answers[q.key] = (
                        q.spec["answer"]
                        if rng.random() < strength
                        else [rng.choice(choices[q.key])]
                    )
                else:
                    answers[q.key] = 0.998 if rng.random() < strength else 0.5
            submit_attempt(quiz, user, answers)
    return {"course": course, "exercise": exercise, "quiz": quiz, "submissions": made}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import flask_migrate

    from server import create_app
    from server.accounts import create_token, find_user
    from server.analytics import exercises
    from server.analytics.assignment import assignment_stats
    from server.content.sync import sync_content
    from server.demo import seed_demo
    from server.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        config = {"TESTING": True, "SECRET_KEY": "b", "SQLALCHEMY_DATABASE_URI": url,
                  "RUBRIC_OUTBOX_DIR": f"{folder}/outbox", "RUBRIC_SUBMISSION_RATE": "off",
                  "WTF_CSRF_ENABLED": False}  # fmt: skip
        app = create_app(config)
        with app.app_context():
            flask_migrate.upgrade()
            sync_content(ROOT)
            seed_demo()
            start = time.perf_counter()
            made = seed(args.students, args.submissions)
            seeded_s = time.perf_counter() - start
            token = create_token(find_user("instructor@example.edu"))
            db.session.commit()
            exercise, quiz = made["exercise"], made["quiz"]
            figures = {
                "exercise stats, in process": median_ms(
                    lambda: assignment_stats(exercise), args.runs
                ),
                "quiz stats, in process": median_ms(lambda: assignment_stats(quiz), args.runs),
            }
            db.session.remove()
        api = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        page = app.test_client()
        login = page.post(
            "/login", data={"email": "instructor@example.edu", "password": "instructor"}
        )
        assert login.status_code == 302, login.status_code
        base = "/courses/demo/assignments"
        urls = {
            "exercise stats API": (api, f"/api/v1{base}/l2-regularization/stats", headers),
            "exercise stats page": (page, f"{base}/l2-regularization/stats", {}),
            "quiz stats API": (api, f"/api/v1{base}/l2-regularization-quiz/stats", headers),
            "quiz stats page": (page, f"{base}/l2-regularization-quiz/stats", {}),
            "course overview page": (page, "/courses/demo/overview", {}),
        }

        def cold(client=api, path=urls["exercise stats API"][1]):
            exercises._facts.clear()  # as after a restart: every result's facts read again
            return client.get(path, headers=headers)

        figures["exercise stats API, cold"] = median_ms(cold, args.runs)
        for label, (client, path, extra) in urls.items():
            answer = client.get(path, headers=extra)
            assert answer.status_code == 200, (path, answer.status_code)
            figures[label] = median_ms(
                lambda c=client, p=path, h=extra: c.get(p, headers=h), args.runs
            )
    students = args.students + 9  # and the demo's own nine
    print(f"{students} students, {made['submissions']} graded code submissions, "
          f"{2 * args.students} quiz attempts, SQLite; seeded in {seeded_s:.1f} s; "
          f"median of {args.runs}")  # fmt: skip
    for label, ms in figures.items():
        print(f"  {label:28} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
