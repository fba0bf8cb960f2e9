"""Quiz files: validation names file, question and field; sync is idempotent and versioned."""

import shutil
from pathlib import Path

import pytest

from server.config import PROJECT_ROOT
from server.content.quizzes import ContentError, load_quiz
from server.content.sync import latest_quiz, sync_quizzes
from server.extensions import db
from server.models import Question, Quiz, QuizAttempt

L2_QUIZ = PROJECT_ROOT / "quizzes" / "l2-regularization-quiz.toml"


def write_quiz(root: Path, text: str, name: str = "quiz.toml") -> Path:
    (root / "quizzes").mkdir(parents=True, exist_ok=True)
    path = root / "quizzes" / name
    path.write_text(text)
    return path


def broken_copy(root: Path, old: str, new: str) -> Path:
    """Copy the L2 quiz with one piece of text replaced."""
    text = L2_QUIZ.read_text()
    assert old in text
    return write_quiz(root, text.replace(old, new, 1), L2_QUIZ.name)


def test_bundled_quiz_loads_with_the_fixed_ids_and_answers():
    quiz = load_quiz(L2_QUIZ)
    by_key = {q.key: q for q in quiz.questions}
    assert list(by_key) == ["q1", "q2", "q3", "q4", "q5"]
    assert by_key["q1"].spec["answer"] == "b" and by_key["q3"].spec["answer"] == "b"
    assert by_key["q2"].spec["answer"] == 0.998 and by_key["q2"].spec["atol"] == 1e-6
    assert by_key["q4"].spec["answer"] == ["a", "b"]
    assert set(by_key["q5"].spec["params"]) == {"alpha", "lam"}
    assert quiz.max_score == 5


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("answer = 0.998", 'answer = "0.998 +"', "question q2: answer"),
        ("atol = 1e-6", "atol = -1", "question q2: atol"),
        ('kind = "numeric"', 'kind = "essay"', "question q2: kind"),
        ('answer = ["a", "b"]', 'answer = ["a", "x"]', "question q4: answer"),
        ('id = "q3"', 'id = "q1"', "question q1: id"),
        ("points = 1", "points = 0", "question q1: points"),
        ('answer = "1 - 2*alpha*lam"', 'answer = "1 - 2*alpha*mu"', "question q5: answer"),
        ('answer = "1 - 2*alpha*lam"', "answer = \"__import__('os')\"", "question q5: answer"),
        ("step = 0.001", "step = 0", "question q5: params.alpha"),
        ('title = "L2 regularization"', "titel = 1", "titel"),
        ('a = "Ridge regression"', 'A = "Ridge regression"', "question q4: choices.A"),
    ],
)
def test_a_broken_field_is_named(tmp_path, old, new, where):
    path = broken_copy(tmp_path, old, new)
    with pytest.raises(ContentError) as caught:
        load_quiz(path)
    assert any(str(path) in str(p) and where in str(p) for p in caught.value.problems), str(
        caught.value
    )


def test_invalid_toml_is_named(tmp_path):
    path = write_quiz(tmp_path, 'title = "x"\n[[questions]\n')
    with pytest.raises(ContentError, match="TOML"):
        load_quiz(path)


def test_sync_is_idempotent(app):
    assert sync_quizzes(PROJECT_ROOT).created == ["l2-regularization-quiz v1"]
    again = sync_quizzes(PROJECT_ROOT)
    assert again.created == [] and again.unchanged == ["l2-regularization-quiz"]
    assert db.session.scalar(db.select(db.func.count(Quiz.id))) == 1


def test_changed_quiz_becomes_a_new_version_and_old_attempts_keep_theirs(
    app, demo, client, token_for, tmp_path
):
    headers = token_for("student@example.edu")
    url = "/api/v1/courses/demo/assignments/l2-regularization-quiz"
    client.post(url + "/attempts", json={"answers": {"q2": 0.998}}, headers=headers)
    broken_copy(tmp_path, "answer = 0.998", "answer = 0.5\n# changed")
    report = sync_quizzes(tmp_path)
    assert report.created == ["l2-regularization-quiz v2"]
    attempt = db.session.scalar(db.select(QuizAttempt))
    assert attempt.quiz.version == 1 and attempt.score == 1.0
    assert client.get(url, headers=headers).json["version"] == 2
    response = client.post(url + "/attempts", json={"answers": {"q2": 0.5}}, headers=headers)
    assert response.json["score"] == 1.0


def test_sync_refuses_a_broken_file_and_keeps_the_previous_version(app, tmp_path):
    shutil.copytree(PROJECT_ROOT / "quizzes", tmp_path / "quizzes")
    sync_quizzes(tmp_path)
    broken_copy(tmp_path, "atol = 1e-6", 'atol = "tiny"')
    report = sync_quizzes(tmp_path)
    assert report.created == []
    assert any("question q2: atol" in line for line in report.refused)
    quiz = latest_quiz("l2-regularization-quiz")
    assert quiz.version == 1
    q2 = db.session.scalar(db.select(Question).filter_by(quiz_id=quiz.id, key="q2"))
    assert q2.spec["atol"] == 1e-6


def test_content_check_cli(runner, tmp_path):
    result = runner.invoke(args=["content", "check", str(L2_QUIZ)])
    assert result.exit_code == 0, result.output
    path = broken_copy(tmp_path, 'kind = "numeric"', 'kind = "essay"')
    result = runner.invoke(args=["content", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}: question q2: kind: must be one of" in result.output


def test_content_check_cli_names_a_missing_path(runner, tmp_path):
    result = runner.invoke(args=["content", "check", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


def test_content_sync_cli_exits_1_when_a_file_is_refused(app, runner, tmp_path):
    broken_copy(tmp_path, "points = 1", "points = -1")
    app.config["RUBRIC_CONTENT_ROOT"] = str(tmp_path)
    result = runner.invoke(args=["content", "sync"])
    assert result.exit_code == 1
    assert "question q1: points" in result.output
