"""Imports that run at once: each new person ends up with one account and one enrollment."""

import threading

import sqlalchemy as sa

from server.courses import people
from server.courses.roster import read_csv
from server.extensions import db
from server.models import AuditEntry, Course, Enrollment, User

ROSTER = b"email,role\n" + b"".join(b"racer%d@example.edu,student\n" % i for i in range(20))
IMPORTS = 4


def test_simultaneous_imports_of_the_same_new_people(app, demo):
    barrier, failures = threading.Barrier(IMPORTS), []

    def run() -> None:
        with app.app_context():
            try:
                course = db.session.scalar(sa.select(Course).where(Course.slug == "demo"))
                roster = read_csv(ROSTER)
                barrier.wait()
                people.import_roster(course, roster, None, "http://localhost")
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(IMPORTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    racers = User.email.like("racer%")
    assert db.session.scalar(sa.select(sa.func.count()).where(racers)) == 20
    enrolled = sa.select(sa.func.count()).select_from(Enrollment).join(User).where(racers)
    assert db.session.scalar(enrolled) == 20
    added = sa.select(sa.func.count()).where(AuditEntry.action == "roster.add")
    assert db.session.scalar(added) == 20  # the losers' entries rolled back with their rows


def test_simultaneous_creations_of_one_slug_make_one_course(app):
    barrier, outcomes = threading.Barrier(IMPORTS), []

    def run(number: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                made = people.create_course("race", f"Racer {number}")
                people.commit_course(made)
                outcomes.append("made")
            except people.SlugTaken:
                outcomes.append("taken")
            except Exception as exc:  # noqa: BLE001 - any other failure is the finding
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(IMPORTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["made"] + ["taken"] * (IMPORTS - 1)
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 1
