"""The course page, the quiz form, submitting it and the result page."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from server.accounts import find_user
from server.config import PROJECT_ROOT
from server.content.sync import sync_quizzes
from server.extensions import db
from server.models.types import utcnow
from server.scoring import quizzes
from server.scoring.questions import kind_of
from server.scoring.quizzes import current_quiz, question_params

from .support import QUIZ_URL, STUDENT, STUDENT2, attempts_recorded, correct_answers


class FormFields(HTMLParser):
    """Collect the ids of visible inputs, the targets of labels and the fieldset legends."""

    def __init__(self):
        super().__init__()
        self.inputs: list[dict] = []
        self.label_for: set[str] = set()
        self.legends = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") != "hidden":
            self.inputs.append(attrs)
        elif tag == "label" and "for" in attrs:
            self.label_for.add(attrs["for"])
        elif tag == "legend":
            self.legends += 1


def fields_of(html: str) -> FormFields:
    parser = FormFields()
    parser.feed(html)
    return parser


def test_course_page_lists_the_quiz(student, quiz_assignment):
    page = student.get("/courses/demo").get_data(as_text=True)
    assert "L2 regularization" in page
    assert f"{quiz_assignment.due_at:%Y-%m-%d %H:%M} UTC" in page
    assert "0 used" in page and "not attempted" in page
    assert "Gradebook" not in page  # students get no gradebook link


def test_quiz_form_has_labelled_inputs_of_each_kind(student):
    page = student.get(QUIZ_URL).get_data(as_text=True)
    fields = fields_of(page)
    assert fields.legends == 5
    kinds = {(f["name"], f["type"]) for f in fields.inputs}
    assert {("q1", "radio"), ("q3", "radio"), ("q4", "checkbox")} <= kinds
    numeric = [f for f in fields.inputs if f["name"] in ("q2", "q5")]
    assert [f["inputmode"] for f in numeric] == ["decimal", "decimal"]
    assert all(f["id"] in fields.label_for for f in fields.inputs)  # every input is labelled


def test_quiz_form_shows_the_students_numbers_but_no_answers(student, quiz_assignment):
    page = student.get(QUIZ_URL).get_data(as_text=True)
    quiz = current_quiz(quiz_assignment)
    q5 = next(q for q in quiz.questions if q.key == "q5")
    params = question_params(quiz_assignment, find_user(STUDENT[0]), q5)
    assert f"α = {params['alpha']:g} and λ = {params['lam']:g}" in page
    correct = kind_of("numeric").correct_value(q5.spec, params)
    for secret in ["0.998", f"{correct:g}", repr(correct), "1 - 2*alpha*lam", "answer ="]:
        assert secret not in page
    for question in quiz.questions:
        assert question.spec["explanation"].strip()[:40] not in page
    assert "checked" not in page


def test_full_correct_quiz_scores_5_of_5(student, quiz_assignment):
    response = student.submit(correct_answers(quiz_assignment))
    assert response.status_code == 303
    assert re.fullmatch(r"/courses/demo/attempts/\d+", response.headers["Location"])
    page = student.get(response.headers["Location"]).get_data(as_text=True)
    assert "5 / 5" in page
    assert page.count("Correct, 1 / 1") == 5
    assert "every weight shrinks by the factor (1 − 2αλ)" in page  # q1's explanation
    assert "weight decay (with plain SGD)" in page  # the student's q4 choice, spelled out
    assert attempts_recorded() == 1


def test_result_page_shows_partial_wrong_and_unanswered(student, quiz_assignment):
    answers = {"q1": "a", "q2": "0.998", "q4": ["a", "c"]}  # q3 and q5 left empty
    location = student.submit(answers).headers["Location"]
    page = student.get(location).get_data(as_text=True)
    assert "1 / 5" in page
    assert "Incorrect, 0 / 1" in page
    assert page.count("Unanswered, 0 / 1") == 2
    assert "no answer" in page


def test_earlier_attempts_are_listed_with_links(student, quiz_assignment):
    location = student.submit(correct_answers(quiz_assignment)).headers["Location"]
    page = student.get(QUIZ_URL).get_data(as_text=True)
    assert f'href="{location}"' in page
    assert "Attempt 1: 5 / 5" in page
    course_page = student.get("/courses/demo").get_data(as_text=True)
    assert "1 used" in course_page and "5 / 5" in course_page


def test_non_numeric_answer_is_named_and_nothing_is_recorded(student, quiz_assignment):
    answers = correct_answers(quiz_assignment) | {"q2": "about one"}
    response = student.submit(answers)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Your answers were not submitted" in page
    assert 'href="#q2">Question 2: expected a number' in page
    assert 'id="q2-error"' in page and 'aria-invalid="true"' in page
    assert 'value="about one"' in page  # the student's inputs are kept
    assert 'id="q1-b" value="b" checked' in page
    assert 'id="q4-a" value="a" checked' in page and 'id="q4-b" value="b" checked' in page
    assert attempts_recorded() == 0


@pytest.mark.parametrize(
    ("typed", "says"),
    [("٠.٩٩٨", "expected a number"), ("0.99_8", "expected a number"), ("0,998", "decimal point")],
)
def test_numbers_not_in_ascii_notation_are_named_on_the_form(student, quiz_assignment, typed, says):
    response = student.submit(correct_answers(quiz_assignment) | {"q2": typed})
    assert response.status_code == 422
    summary = re.search(r'href="#q2">Question 2: ([^<]*)<', response.get_data(as_text=True))
    assert summary and says in summary[1]
    assert attempts_recorded() == 0


def test_unknown_choice_is_refused(student):
    response = student.submit({"q1": "z"})
    assert response.status_code == 422
    assert "Question 1: &#39;z&#39; is not one of the choices" in response.get_data(as_text=True)
    assert attempts_recorded() == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"attempt_limit": 1}, "all 1 attempts have been used"),
        ({"due_at": utcnow() - timedelta(hours=1)}, "has passed"),
    ],
)
def test_refused_attempt_shows_the_reason(student, quiz_assignment, change, reason):
    if "attempt_limit" in change:
        assert student.submit(correct_answers(quiz_assignment)).status_code == 303
    for field, value in change.items():
        setattr(quiz_assignment, field, value)
    db.session.commit()
    before = attempts_recorded()
    response = student.submit(correct_answers(quiz_assignment))
    assert response.status_code == 409
    assert reason in response.get_data(as_text=True)
    assert attempts_recorded() == before
    page = student.get(QUIZ_URL).get_data(as_text=True)
    assert reason in page and "Submit answers" not in page


def test_another_students_attempt_is_not_found(new_client, quiz_assignment):
    other = new_client(STUDENT2)
    location = other.submit(correct_answers(quiz_assignment, STUDENT2[0])).headers["Location"]
    assert other.get(location).status_code == 200
    response = new_client(STUDENT).get(location)
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)


def test_instructor_may_see_any_attempt(new_client, instructor, quiz_assignment):
    location = new_client(STUDENT).submit(correct_answers(quiz_assignment)).headers["Location"]
    page = instructor.get(location).get_data(as_text=True)
    assert "Sam Student" in page and "5 / 5" in page


def test_attempt_of_another_course_is_not_found(student, quiz_assignment):
    location = student.submit(correct_answers(quiz_assignment)).headers["Location"]
    assert student.get(location.replace("/demo/", "/other/")).status_code == 404


@pytest.mark.parametrize(
    "path", ["/courses/nope", "/courses/demo/assignments/nope", "/courses/demo/attempts/999"]
)
def test_unknown_things_are_not_found(student, path):
    response = student.get(path)
    assert response.status_code == 404
    assert "<h1>Not Found" in response.get_data(as_text=True)


def test_exercise_assignment_is_not_a_quiz_form(student, quiz_assignment):
    page = student.get("/courses/demo/assignments/l2-regularization").get_data(as_text=True)
    assert "Submit for grading" in page and "Submit answers" not in page


def test_quiz_texts_are_markdown_with_math_and_no_raw_html(
    student, quiz_assignment, tmp_path, monkeypatch
):
    monkeypatch.setattr(quizzes, "_versions", {})  # a new version's id is another quiz elsewhere
    source = (PROJECT_ROOT / "quizzes" / "l2-regularization-quiz.toml").read_text()
    edits = {
        "Check your understanding": "Check **your** understanding",
        'prompt = "L2 regularization modifies': 'prompt = "`L2` regularization modifies',
        '"setting the smallest weights exactly to zero"': '"setting $w_i$ <b>to</b> zero"',
        "The gradient of λ‖w‖² is 2λw,": "The gradient of λ‖w‖² is $2 w_j^2$ or *2λw*,",
    }
    for old, new in edits.items():
        assert old in source
        source = source.replace(old, new)
    (tmp_path / "quizzes").mkdir()
    (tmp_path / "quizzes" / "l2-regularization-quiz.toml").write_text(source)
    assert sync_quizzes(tmp_path).created == ["l2-regularization-quiz v2"]

    form = student.get(QUIZ_URL).get_data(as_text=True)
    assert "Check <strong>your</strong> understanding" in form
    assert "<code>L2</code> regularization modifies" in form
    assert '<span class="math math-inline">w_i</span> &lt;b&gt;to&lt;/b&gt; zero' in form
    assert "/static/math.js" in form and "/static/vendor/katex/katex.min.css" in form
    location = student.submit({"q1": "b"}).headers["Location"]
    result = student.get(location).get_data(as_text=True)
    explanation = 'is <span class="math math-inline">2 w_j^2</span> or <em>2λw</em>,'
    assert explanation in result and "/static/math.js" in result
