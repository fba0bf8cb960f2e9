"""500 submissions at once over HTTP to gunicorn: every one stored, graded, and only once.

Embedded: two gunicorn workers grade in their own threads on one SQLite file.
Scale-out: the web workers publish to Redis and two `rubric worker`s grade.
"""

from concurrent.futures import ThreadPoolExecutor

from tests.scaleout.processes import wait_until
from tests.scaleout.support import (
    REFERENCE,
    WRONG,
    all_graded,
    duplicates,
    gradebook_attempts,
    log_marks,
    recorded_results,
    submit,
)

STUDENTS, EACH = 50, 10  # 50 students posting at once, 10 submissions each


def test_500_concurrent_submissions_are_each_graded_exactly_once(app, web, students, token_for):
    headers = students(STUDENTS)
    marks = log_marks()

    def student(i: int) -> list[int]:
        answers = [
            submit(web.port, headers[i], [WRONG, REFERENCE][(i + n) % 2]) for n in range(EACH)
        ]
        assert [status for status, _ in answers] == [202] * EACH, answers
        return [body["id"] for _, body in answers]

    with ThreadPoolExecutor(STUDENTS) as pool:
        accepted = [sid for ids in pool.map(student, range(STUDENTS)) for sid in ids]
    assert len(accepted) == STUDENTS * EACH and duplicates(accepted) == []

    rows = wait_until(lambda: all_graded(len(accepted)), 90, "all 500 to be graded", 0.2)
    assert sorted(row.id for row in rows) == sorted(accepted)  # none lost, none extra
    results = recorded_results(marks)
    assert sorted(results) == sorted(accepted) and set(results.values()) == {1}
    assert {row.score for row in rows} == {7.5, 10.0}

    book = gradebook_attempts(web.port, token_for("instructor@example.edu"))
    assert len(book) == STUDENTS
    assert all(
        entry == {"score": 10.0, "max_score": 10.0, "attempts": EACH} for entry in book.values()
    )
