"""Regrading after an exercise is fixed: the new version grades, the old score counts meanwhile.

Version 2 of the L2 exercise below gives l2_gradient 5 points instead of 3 (12 in all),
so what a submission was graded against shows in its maximum.
"""

import shutil
from datetime import timedelta

import pytest

from server.config import PROJECT_ROOT
from server.content.sync import store_exercise
from server.extensions import db
from server.models import Assignment, Submission, SubmissionStatus
from server.models.types import utcnow
from server.submissions import service, sweep
from server.submissions.queue import get_queue
from server.submissions.regrade import regrade
from server.submissions.stats import grading_stats
from server.submissions.sweep import sweep_once
from tests.api.test_submissions import FORGOT_TWO, REFERENCE, URL, graded, wait_graded
from tests.scaleout.support import store_without_message

REGRADE = "/api/v1/courses/demo/assignments/l2-regularization/regrade"
GRADEBOOK = "/api/v1/courses/demo/gradebook"


def sync_version_2(tmp_path) -> None:
    """Store a changed copy of the L2 exercise: l2_gradient worth 5 points, 12 in all."""
    folder = tmp_path / "l2-regularization"
    shutil.copytree(PROJECT_ROOT / "exercises" / "l2-regularization", folder)
    toml = folder / "exercise.toml"
    text = toml.read_text().replace("points = 10", "points = 12", 1)
    first, gradient, rest = text.split("points = 3", 2)
    toml.write_text(first + "points = 3" + gradient + "points = 5" + rest)
    assert store_exercise(folder).version == 2
    db.session.commit()


def parts(submission: dict) -> dict[str, tuple[float, float]]:
    return {p["name"]: (p["score"], p["max_score"]) for p in submission["result"]["parts"]}


def rows() -> list[Submission]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Submission).order_by(Submission.id)))


def send_regrades(app) -> None:
    """Run the sweep as it runs once the queue is idle and the grace period has passed."""
    app.config["RUBRIC_REQUEUE_AFTER_SECONDS"] = 0
    assert sweep_once(get_queue(app)) >= 1


def test_a_regrade_grades_on_the_new_version_and_the_old_score_counts_meanwhile(
    app, client, student, instructor, tmp_path
):
    right = graded(client, student, REFERENCE)
    wrong = graded(client, student, FORGOT_TWO)
    assert (right["max_score"], wrong["max_score"]) == (10, 10) and 0 < wrong["score"] < 10
    assert grading_stats().latency_count == 2
    an_hour_ago = utcnow() - timedelta(hours=1)  # as old work is: the sweep would send it
    db.session.execute(db.update(Submission).values(submitted_at=an_hour_ago))
    db.session.commit()
    sync_version_2(tmp_path)

    response = client.post(REGRADE, headers=instructor)

    assert response.status_code == 202
    assert response.json == {"assignment": "l2-regularization", "queued": 2, "version": 2}
    waiting = rows()
    assert [(s.status, s.exercise.version, s.score) for s in waiting] == [
        (SubmissionStatus.QUEUED, 2, 10),
        (SubmissionStatus.QUEUED, 2, wrong["score"]),
    ]
    assert all(s.regraded_at is not None for s in waiting)
    book = client.get(GRADEBOOK, headers=instructor).json
    scores = next(r for r in book["students"] if r["student"]["email"] == "student@example.edu")
    assert scores["scores"]["l2-regularization"]["score"] == 10  # still counts
    assert sweep_once(get_queue(app)) == 0  # within the grace period, live work goes first

    send_regrades(app)

    again = [wait_graded(client, s["id"], student) for s in (right, wrong)]
    assert [(s["score"], s["max_score"]) for s in again] == [(12, 12), (again[1]["score"], 12)]
    assert again[0]["result"]["max_score"] == 12
    before, after = (parts(s) for s in (wrong, again[1]))
    gradient = before["l2_gradient"][0] * 5 / 3  # the same tests pass, each worth more
    assert after["l2_gradient"] == (pytest.approx(gradient, abs=1e-5), 5)
    assert after["l2_penalty"] == before["l2_penalty"]
    assert [s.exercise.version for s in rows()] == [2, 2]
    assert grading_stats().latency_count == 0  # a regrade's wait is not the service's latency
    assert client.post(REGRADE, headers=instructor).json["queued"] == 0  # nothing older left


def test_a_grading_in_progress_on_the_old_version_is_not_recorded(app, client, student, tmp_path):
    submission_id = store_without_message("student@example.edu")
    held = service.claim(submission_id)  # a grader has it, on version 1
    assert held is not None
    sync_version_2(tmp_path)
    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="l2-regularization"))

    assert regrade(assignment).submissions == 1
    old_result = {"score": 10.0, "max_score": 10.0, "parts": []}
    assert service.record_result(held, old_result) is False  # its claim was taken back

    send_regrades(app)
    again = wait_graded(client, submission_id, student)
    assert (again["score"], again["max_score"]) == (12, 12)


def test_regrades_do_not_fill_the_courses_queue(app, client, student, instructor, tmp_path):
    graded(client, student, REFERENCE)
    graded(client, student, REFERENCE)
    sync_version_2(tmp_path)
    app.config["RUBRIC_COURSE_QUEUE_CAP"] = 2
    assert client.post(REGRADE, headers=instructor).json["queued"] == 2

    response = client.post(URL, json={"code": REFERENCE}, headers=student)

    assert response.status_code == 202  # two regrades wait, yet a student may submit


def test_the_sweep_sends_regrades_a_few_at_a_time(
    app, client, student, instructor, tmp_path, monkeypatch
):
    for _ in range(3):
        graded(client, student, REFERENCE)
    sync_version_2(tmp_path)
    assert client.post(REGRADE, headers=instructor).json["queued"] == 3
    monkeypatch.setattr(sweep, "REGRADE_BATCH", 2)
    app.config["RUBRIC_REQUEUE_AFTER_SECONDS"] = 0

    assert sweep.stuck_submissions() == [s.id for s in rows()][:2]


def test_one_students_submissions(client, student, other, instructor, tmp_path):
    mine = graded(client, student, REFERENCE)
    graded(client, other, REFERENCE)
    sync_version_2(tmp_path)

    response = client.post(REGRADE, json={"student": "Student@example.edu"}, headers=instructor)

    assert response.json["queued"] == 1
    assert [(s.id, s.status) for s in rows() if s.status == SubmissionStatus.QUEUED] == [
        (mine["id"], SubmissionStatus.QUEUED)
    ]


@pytest.mark.parametrize(
    ("who", "url", "body", "status", "code"),
    [
        ("student", REGRADE, None, 403, "forbidden"),
        ("instructor", REGRADE, {"student": "nobody@example.edu"}, 404, "not_found"),
        ("instructor", REGRADE, {"student": 7}, 422, "invalid_student"),
    ],
)
def test_bad_regrades_get_a_clear_error(client, student, instructor, who, url, body, status, code):
    headers = student if who == "student" else instructor

    response = (
        client.post(url, json=body, headers=headers) if body else client.post(url, headers=headers)
    )

    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_the_command_line_regrades_too(client, runner, student, tmp_path):
    graded(client, student, REFERENCE)
    sync_version_2(tmp_path)

    done = runner.invoke(args=["submissions", "regrade", "demo", "l2-regularization"])
    unknown = runner.invoke(args=["submissions", "regrade", "demo", "nope"])

    assert done.exit_code == 0, done.output
    assert done.output.startswith("1 submission(s) queued to be graded again on version 2")
    assert unknown.exit_code == 1 and "no assignment 'nope' in course 'demo'" in unknown.output
