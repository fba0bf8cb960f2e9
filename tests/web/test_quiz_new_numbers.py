"""A numeric question may draw new numbers for each attempt; each attempt is marked on its own."""

import html
import re

from server.config import PROJECT_ROOT
from server.content.sync import sync_quizzes
from server.scoring import quizzes

from .support import QUIZ_URL

NUMBERS = re.compile(r"Your own numbers: with learning rate α = ([0-9.e-]+) and λ = ([0-9.e-]+)")
ANSWER_LINE = 'answer = "1 - 2*alpha*lam"\n'


def numbers(page: str) -> tuple[float, float]:
    alpha, lam = NUMBERS.search(html.unescape(page)).groups()
    return float(alpha), float(lam)


def sync_with_q5(tmp_path, option: str) -> None:
    source = (PROJECT_ROOT / "quizzes" / "l2-regularization-quiz.toml").read_text()
    assert source.count(ANSWER_LINE) == 1
    (tmp_path / "quizzes").mkdir()
    (tmp_path / "quizzes" / "l2-regularization-quiz.toml").write_text(
        source.replace(ANSWER_LINE, ANSWER_LINE + option)
    )
    assert sync_quizzes(tmp_path).created == ["l2-regularization-quiz v2"]


def attempt(student, alpha: float, lam: float):
    """Answer q5 right for the numbers shown (the rest blank), return the attempt page."""
    response = student.submit({"q5": repr(round(1 - 2 * alpha * lam, 12))})
    assert response.status_code == 303
    return html.unescape(student.get(response.headers["Location"]).get_data(as_text=True))


def test_new_numbers_each_attempt_and_each_attempt_marked_on_its_own(
    student, quiz_assignment, tmp_path, monkeypatch
):
    monkeypatch.setattr(quizzes, "_versions", {})  # a new version's id is another quiz elsewhere
    before = numbers(student.get(QUIZ_URL).get_data(as_text=True))
    sync_with_q5(tmp_path, "new_numbers_each_attempt = true\n")
    first = numbers(student.get(QUIZ_URL).get_data(as_text=True))
    assert first == before  # the first attempt keeps the numbers the student had
    page = attempt(student, *first)
    assert "Correct, 1 / 1" in re.sub(r"\s+", " ", page) and numbers(page) == first
    second = numbers(student.get(QUIZ_URL).get_data(as_text=True))
    assert second != first
    page = attempt(student, *second)
    assert "Correct, 1 / 1" in re.sub(r"\s+", " ", page) and numbers(page) == second


def test_without_the_option_a_student_keeps_the_same_numbers(
    student, quiz_assignment, tmp_path, monkeypatch
):
    monkeypatch.setattr(quizzes, "_versions", {})
    sync_with_q5(tmp_path, "new_numbers_each_attempt = false\n")
    first = numbers(student.get(QUIZ_URL).get_data(as_text=True))
    attempt(student, *first)
    assert numbers(student.get(QUIZ_URL).get_data(as_text=True)) == first
