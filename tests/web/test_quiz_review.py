"""A graded quiz attempt shows which choices were right; the form asks before a blank submit."""

import html
import re

from .support import QUIZ_URL, correct_answers

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
