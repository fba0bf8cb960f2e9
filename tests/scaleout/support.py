"""Helpers for the tests against real processes: HTTP to gunicorn, and what the database holds."""

import http.client
import json
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from server.config import PROJECT_ROOT
from server.extensions import db
from server.models import Submission, SubmissionStatus
from server.submissions import notify
from tests.scaleout.processes import LOGS

COURSE = "/api/v1/courses/demo"
SUBMIT = f"{COURSE}/assignments/l2-regularization/submissions"
REFERENCE = (PROJECT_ROOT / "exercises" / "l2-regularization" / "reference.py").read_text()
WRONG = REFERENCE.replace("2 * lam * w", "lam * w")  # forgot the factor 2: 7.5 of 10


def slow_reference(seconds: float = 1.2) -> str:
    """The reference, sleeping once in l2_penalty: it stays in grading that long."""
    assert "import numpy as np\n" in REFERENCE and '"""Return lam * sum' in REFERENCE
    return REFERENCE.replace(
        "import numpy as np\n", "import time\n\nimport numpy as np\n\n_slept = []\n"
    ).replace(
        '    """Return lam * sum(w**2) over every element."""\n',
        '    """Return lam * sum(w**2) over every element."""\n'
        f"    if not _slept:\n        _slept.append(time.sleep({seconds}))\n",
    )


def call(port: int, method: str, path: str, headers: dict, body=None, timeout: float = 15):
    """Send one request on a new connection; return (status, JSON body or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, body=payload, headers=headers | _json_type(payload))
        with conn.getresponse() as response:
            raw = response.read().decode()
    finally:
        conn.close()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, json.loads(raw) if is_json else raw


def _json_type(payload) -> dict:
    return {"Content-Type": "application/json"} if payload is not None else {}


def submit(port: int, headers: dict, code: str) -> tuple[int, dict]:
    """POST code to the L2 exercise."""
    return call(port, "POST", SUBMIT, headers, {"code": code})


def submissions() -> list[Submission]:
    """Every stored submission, read fresh from the database."""
    db.session.rollback()
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Submission).order_by(Submission.id)))


def all_graded(expected: int):
    """Return the submissions when `expected` exist and every one is graded, else None."""
    rows = submissions()
    done = len(rows) == expected and all(r.status == SubmissionStatus.GRADED for r in rows)
    return rows if done else None


def store_without_message(email: str) -> int:
    """Store a queued submission directly, as if its grading message had been lost."""
    from server.accounts import find_user
    from server.models import Assignment
    from server.submissions.exercises import current_exercise

    assignment = db.session.scalar(sa.select(Assignment).filter_by(slug="l2-regularization"))
    row = Submission(
        assignment=assignment,
        user=find_user(email),
        number=1000,
        exercise=current_exercise(assignment),
        code=REFERENCE,
        max_score=10,
    )
    db.session.add(row)
    db.session.commit()
    return row.id


def thread_deaths(since: dict[Path, int]) -> list[str]:
    """Lines where a started process reported a thread killed by an exception."""
    lines = []
    for path in LOGS:
        with path.open("rb") as f:
            f.seek(since.get(path, 0))
            lines += [
                f"{path.name}: {line.decode(errors='replace')}"
                for line in f
                if b"Exception in thread" in line
            ]
    return lines


def gradebook_attempts(port: int, instructor: dict) -> dict[str, dict]:
    """The gradebook's L2 score, maximum and attempts of every student who has one.

    The late, penalty and override marks are left out: no submission here is late.
    """
    status, book = call(port, "GET", f"{COURSE}/gradebook", instructor)
    assert status == 200, book
    kept = ("score", "max_score", "attempts")
    return {
        row["student"]["email"]: {key: entry[key] for key in kept}
        for row in book["students"]
        if (entry := row["scores"].get("l2-regularization") or {}).get("attempts")
    }


def log_marks() -> dict[Path, int]:
    """Where every log of a started process ends now."""
    return {path: path.stat().st_size for path in LOGS if path.exists()}


def recorded_results(since: dict[Path, int]) -> Counter:
    """Count the results each grader logged as recorded, by submission id, since the marks."""
    counts: Counter = Counter()
    for path in LOGS:
        with path.open("rb") as f:
            f.seek(since.get(path, 0))
            for line in f:
                if line.startswith(b"{") and b'"message": "graded"' in line:
                    counts[json.loads(line)["submission_id"]] += 1
    return counts


def duplicates(values) -> list:
    """Return the values seen more than once."""
    return [value for value, count in Counter(values).items() if count > 1]


def graded(submission_id: int):
    """A step that marks a submission graded with another connection, as another process would."""

    def mark() -> None:
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(Submission)
                .where(Submission.id == submission_id)
                .values(status=SubmissionStatus.GRADED, score=1.0, result={"score": 1.0})
            )

    return mark


def wait_while(app, submission_id: int, seconds: float, *steps) -> tuple[bool, float]:
    """Long-poll for a submission in a thread while the steps run; return how it ended.

    A step is a pause in seconds or a callable. Returns whether the wait saw the
    submission finished, and how long it took.
    """
    outcome = []

    def run():
        with app.app_context():
            started = time.monotonic()
            finished = notify.wait_until_finished(submission_id, seconds)
            outcome.append((finished, time.monotonic() - started))
            db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    for step in steps:
        time.sleep(step) if isinstance(step, int | float) else step()
    thread.join(10)
    assert outcome, "the waiter has not returned"
    return outcome[0]
