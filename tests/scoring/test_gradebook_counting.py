"""The bulk gradebook counts every cell exactly as one student's counted entry does.

build_gradebook reads the submission time only of work that may be late (see
_scored_work); this checks it against counted_entry, which reads every time, in the
cases where a student's own dates differ: an extension later and one earlier than the
due date, an accommodation, on time, late, overridden, excused, the last-attempt policy.
"""

from datetime import datetime, timedelta

import pytest

from server.courses import accommodations, extensions
from server.courses import assignments as publishing
from server.extensions import db
from server.scoring.gradebook import EMPTY, build_gradebook, counted_entry

from .gradebook_setup import EVE, QUIZ, SAM, SARA, make_graded


@pytest.fixture
def book_and_course(client, demo, token_for):
    graded = make_graded(client, demo, token_for)
    quiz = next(a for a in demo.assignments if a.slug == QUIZ)
    due = quiz.due_at
    # Eve's attempt was on time; an extension *earlier* than the due date makes it late.
    extensions.grant(quiz, EVE, (due - timedelta(days=2)).isoformat(), None, None)
    # Sara's late attempt is on time under an extension to tomorrow.
    extensions.grant(quiz, SARA, (due + timedelta(days=1)).isoformat(), None, None)
    accommodations.grant(demo, SAM, 48, "extra time", None)
    db.session.commit()
    return graded


def cells_match(course) -> int:
    """Compare every cell of the bulk gradebook with counted_entry; return how many had work."""
    book = build_gradebook(course)
    with_work = 0
    for student in book.students:
        for assignment in book.assignments:
            alone = counted_entry(assignment, student.id) or EMPTY
            assert book.entry(student, assignment) == alone, (student.email, assignment.slug)
            with_work += alone.attempts > 0
    return with_work


def test_bulk_and_single_counting_agree(book_and_course):
    course = book_and_course.course
    assert cells_match(course) >= 4
    book = build_gradebook(course)
    quiz = next(a for a in book.assignments if a.slug == QUIZ)
    eve = next(s for s in book.students if s.email == EVE)
    sara = next(s for s in book.students if s.email == SARA)
    assert book.entry(eve, quiz).late > 0, "the earlier extension makes Eve late"
    assert book.entry(sara, quiz).late == 0, "the later extension makes Sara on time"


def test_they_agree_under_the_last_attempt_policy_and_without_a_due_date(book_and_course):
    course = book_and_course.course
    quiz = next(a for a in course.assignments if a.slug == QUIZ)
    publishing.update(quiz, None, score_policy="last")
    db.session.commit()
    assert cells_match(course) >= 4
    publishing.update(quiz, None, due_at=None, late_until=None, late_penalty_per_day=None)
    db.session.commit()
    assert cells_match(course) >= 4
    book = build_gradebook(course)
    sam = next(s for s in book.students if s.email == SAM)
    assert book.entry(sam, quiz).late == 0, (
        "no due date: only an extension's own date can be missed"
    )


def test_a_time_just_after_the_due_date_is_late_in_both(book_and_course):
    course = book_and_course.course
    quiz = next(a for a in course.assignments if a.slug == QUIZ)
    sam = next(s for s in build_gradebook(course).students if s.email == SAM)
    accommodations.revoke(course, SAM, None)
    stored = counted_entry(quiz, sam.id)
    assert stored.late == 0
    # The due date one microsecond before Sam's attempt: one second late, in both counts.
    attempt_at = _attempt_time(quiz.id, sam.id)
    publishing.update(quiz, None, due_at=(attempt_at - timedelta(microseconds=1)).isoformat())
    db.session.commit()
    assert counted_entry(quiz, sam.id).late == 1
    assert cells_match(course) >= 4


def _attempt_time(assignment_id: int, user_id: int) -> datetime:
    from server.models import QuizAttempt

    query = db.select(QuizAttempt.submitted_at).filter_by(
        assignment_id=assignment_id, user_id=user_id
    )
    return db.session.scalar(query)
