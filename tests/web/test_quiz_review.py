"""A graded quiz attempt shows which choices were right; the form asks before a blank submit."""

import html
import re

from .support import QUIZ_URL, attempts_recorded, correct_answers

ATTEMPT = re.compile(r"/courses/demo/attempts/(\d+)$")


def review(page: str, question: int) -> str:
    """Return the choice list shown under one question of an attempt page."""
    items = re.findall(r'<li class="result .*?</li>\s*(?=<li class="result|</ol>)', page, re.S)
    return items[question - 1]


def test_the_attempt_marks_the_right_choices_and_the_students_own(student, quiz_assignment):
    answers = correct_answers(quiz_assignment) | {"q1": "a", "q4": ["a", "c"]}
    response = student.submit(answers)
    assert response.status_code == 303
    page = html.unescape(student.get(response.headers["Location"]).get_data(as_text=True))
    q1 = review(page, 1)
    assert re.search(
        r'<li class="choice-right">\s*<span[^>]*>✓</span>\s*<span class="choice-label">b\)', q1
    )
    assert re.search(r'<li class="choice-wrong choice-mine">.*?a\)', q1, re.S)
    assert "(wrong, your choice)" in q1 and "(right)" in q1
    q4 = review(page, 4)
    assert q4.count("choice-right") == 2 and "(right, your choice)" in q4
    assert "choice-review" not in review(page, 2)  # a numeric answer has no choices


def test_the_quiz_form_carries_the_blank_warning_script(student, quiz_assignment):
    page = student.get(QUIZ_URL).get_data(as_text=True)
    assert 'id="quiz-form"' in page and "data-blank-warning=" in page
    assert "/static/quiz.js" in page


def test_a_blank_quiz_without_the_script_asks_first_and_records_nothing(student):
    before = attempts_recorded()
    asked = student.submit({"q1": "b"}, confirm_blank=False)
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and attempts_recorded() == before
    assert "Submit with 4 of 5 questions unanswered?" in page
    assert 'name="confirm_blank" value="1"' in page  # "Submit anyway"
    assert 'value="b" checked' in page  # the answer given is kept
    for number in (2, 3, 4, 5):
        assert f'<a href="#q{number}">Question {number}</a>' in page
    anyway = student.submit({"q1": "b"}, confirm_blank=True)
    assert anyway.status_code == 303 and attempts_recorded() == before + 1


def test_a_fully_answered_quiz_is_not_asked_about(student, quiz_assignment):
    before = attempts_recorded()
    answered = student.submit(correct_answers(quiz_assignment), confirm_blank=False)
    assert answered.status_code == 303 and attempts_recorded() == before + 1
