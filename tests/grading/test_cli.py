"""`rubric grade EXERCISE_DIR FILE [--json]`: output and exit codes."""

import json

import pytest
from click.testing import CliRunner
from grading_support import L2_DIR

from server.grading.cli import grade


@pytest.fixture
def cli():
    """A click runner that keeps stdout and stderr apart."""
    return CliRunner()


def test_grade_json_prints_the_spec_result(cli, tmp_path):
    """--json prints SPEC's result; exit 0 even with a low score."""
    submission = tmp_path / "solution.py"
    submission.write_text((L2_DIR / "starter.py").read_text())
    result = cli.invoke(grade, [str(L2_DIR), str(submission), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["exercise"] == "l2-regularization" and data["status"] == "graded"
    assert (data["score"], data["max_score"]) == (0.0, 10.0)
    assert [p["name"] for p in data["parts"]] == ["l2_penalty", "l2_gradient", "weight_decay_step"]


def test_grade_prints_a_readable_result(cli):
    """Without --json the result is a readable report."""
    result = cli.invoke(grade, [str(L2_DIR), str(L2_DIR / "reference.py")])
    assert result.exit_code == 0
    assert result.stdout.startswith("l2-regularization: 10/10")
    assert "weight_decay_step: 4/4" in result.stdout


def test_syntax_error_is_still_exit_0(cli, tmp_path):
    """A submission that does not parse is graded (score 0), not a CLI error."""
    submission = tmp_path / "broken.py"
    submission.write_text("def l2_penalty(:\n")
    result = cli.invoke(grade, [str(L2_DIR), str(submission), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["score"] == 0.0


def test_missing_submission_file_is_exit_2_with_one_line(cli, tmp_path):
    """A submission file that does not exist: exit 2, one line on stderr."""
    result = cli.invoke(grade, [str(L2_DIR), str(tmp_path / "nope.py")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "nope.py" in result.stderr


def test_invalid_exercise_is_exit_2_with_one_line(cli, tmp_path):
    """An exercise folder that does not load: exit 2, one line naming the file."""
    submission = tmp_path / "solution.py"
    submission.write_text("")
    result = cli.invoke(grade, [str(tmp_path), str(submission)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "exercise.toml: missing file" in result.stderr
