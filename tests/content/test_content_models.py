"""The content models word each problem as authors read it: file, question, field, what."""

import pytest

from server.config import PROJECT_ROOT
from server.content.quizzes import ContentError, load_quiz

from .test_quiz_files import broken_copy


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("atol = 1e-6", "atol = -1", "question q2: atol: must be a number >= 0"),
        ("atol = 1e-6", 'atol = "1e-6"', "question q2: atol: must be a number"),
        ("points = 1", "points = 0", "question q1: points: must be a number > 0"),
        ('kind = "numeric"', 'kind = "essay"', "question q2: kind: must be one of single_choice"),
        ("atol = 1e-6", "tol = 1e-6", "question q2: tol: unknown field"),
        ('title = "L2 regularization"', "titel = 1", "titel: unknown field (expected one of"),
        ('title = "L2 regularization"', 'title = "  "', "title: must be a non-empty string"),
        ('id = "q3"', 'id = "q 3"', "question q 3: id: must be a short identifier like q1"),
        ('answer = "b"', 'answer = "e"', "question q1: answer: must be the label of one of"),
        ("atol = 1e-6", "", "question q2: give atol or rtol"),
        ("answer = 0.998", "answer = true", "question q2: answer: must be a number or an expr"),
        ("answer = 0.998", "answer = [0.998]", "question q2: answer: must be a number or an expr"),
        ('b = "all weights', '# b = "all weights', "question q3: answer: must be the label of one"),
        ("max = 0.05", "max = 0.0001", "question q5: params.alpha: needs max >= min"),
    ],
)
def test_a_quiz_problem_reads_as_one_line(tmp_path, old, new, line):
    path = broken_copy(tmp_path, old, new)
    with pytest.raises(ContentError) as caught:
        load_quiz(path)
    assert any(line in str(p) and str(path) in str(p) for p in caught.value.problems), str(
        caught.value
    )


def test_every_problem_of_a_quiz_is_reported_at_once(tmp_path):
    path = broken_copy(tmp_path, "atol = 1e-6", "atol = -1\ncolor = 3")
    path.write_text(path.read_text().replace("points = 1", "points = -1", 1))
    with pytest.raises(ContentError) as caught:
        load_quiz(path)
    wheres = {p.where for p in caught.value.problems}
    assert {"question q1: points", "question q2: atol", "question q2: color"} <= wheres


def test_a_schema_comment_line_is_allowed(tmp_path):
    path = broken_copy(tmp_path, "title =", "#:schema ./quiz.schema.json\ntitle =")
    assert len(load_quiz(path).questions) == 5


def test_the_bundled_content_loads():
    assert load_quiz(PROJECT_ROOT / "quizzes" / "l2-regularization-quiz.toml").max_score == 5
