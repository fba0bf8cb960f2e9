"""`rubric nbgrader import`, `rubric grade` on a notebook exercise, and `content check`."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from click.testing import CliRunner

from server.content.check import check_paths
from server.grading.cli import grade
from server.notebooks import nbgrader as nbg
from server.notebooks.cli import nbgrader
from server.notebooks.exercise import NotebookError, load_notebook_exercise
from tests.notebooks.support import EXAMPLE, autotest, imported, solution, write_assignment


def imported_example(tmp_path):
    result = CliRunner().invoke(
        nbgrader, ["import", str(EXAMPLE / "source" / "ps1"), "--into", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    return tmp_path / "ps1"


def by_grade_id(nb):
    return {nbg.meta(c)["grade_id"]: c for c in nb.cells if nbg.meta(c).get("grade_id")}


def test_import_writes_the_release_nbgrader_made_for_the_example(tmp_path):
    folder = imported_example(tmp_path)
    exercise = load_notebook_exercise(folder)
    assert [n.name for n in exercise.notebooks] == ["problem1", "problem2"]
    assert (folder / "release" / "jupyter.png").read_bytes() == (
        EXAMPLE / "source" / "ps1" / "jupyter.png"
    ).read_bytes()
    for name in ("problem1", "problem2"):
        ours = by_grade_id(nbformat.read(folder / "release" / f"{name}.ipynb", as_version=4))
        theirs = by_grade_id(
            nbformat.read(EXAMPLE / "release" / "ps1" / f"{name}.ipynb", as_version=4)
        )
        assert ours.keys() == theirs.keys()
        for grade_id, cell in ours.items():
            assert cell.source == theirs[grade_id].source, grade_id
            assert nbg.meta(cell)["checksum"] == nbg.meta(theirs[grade_id])["checksum"], grade_id


def test_import_lists_the_graded_cells_with_their_points(tmp_path):
    exercise = load_notebook_exercise(imported_example(tmp_path))
    problem1 = exercise.notebooks[0]
    assert [(c.grade_id, c.kind, c.points) for c in problem1.cells][:2] == [
        ("correct_squares", "test", 1.0),
        ("squares_invalid_input", "test", 1.0),
    ]
    assert [c.kind for c in exercise.notebooks[1].cells] == ["manual", "manual"]
    assert exercise.points == 13


def test_rubric_grade_prints_one_part_per_notebook_and_one_test_per_graded_cell(tmp_path):
    folder = imported_example(tmp_path)
    submission = EXAMPLE / "submitted" / "hacker" / "ps1"
    result = CliRunner().invoke(grade, [str(folder), str(submission), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert [p["name"] for p in answer["parts"]] == ["problem1", "problem2"]
    tests = {t["name"]: t for p in answer["parts"] for t in p["tests"]}
    assert tests["correct_squares"]["outcome"] == "passed"
    assert tests["part-a"] == {
        "name": "part-a",
        "outcome": "needs_manual_grading",
        "score": None,
        "max_score": 1.0,
        "visible": True,
        "feedback": "",
    }
    assert answer["score"] == sum(t["score"] or 0 for t in tests.values())


def test_rubric_grade_refuses_a_file_that_is_not_a_notebook(tmp_path):
    folder = imported_example(tmp_path)
    other = tmp_path / "answer.txt"
    other.write_text("hello")
    result = CliRunner().invoke(grade, [str(folder), str(other)])
    assert result.exit_code == 2
    assert "not a folder of notebooks nor an .ipynb file" in result.stderr


def test_content_check_accepts_the_imported_example(tmp_path):
    problems, checked = check_paths([imported_example(tmp_path)])
    assert (problems, checked) == ([], 1)


def test_content_check_names_a_test_the_solution_fails(tmp_path):
    wrong = "def half(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    exercise = imported(
        tmp_path, {"hw": [solution("half", wrong), autotest("t", "assert half(2) == 1")]}
    )
    problems, _ = check_paths([exercise.root])
    assert len(problems) == 1
    assert "source/hw.ipynb: test t does not give the solution full points" in problems[0]


def test_content_check_names_a_release_whose_answer_is_not_blank(tmp_path):
    folder = imported_example(tmp_path)
    path = folder / "release" / "problem2.ipynb"
    nb = nbformat.read(path, as_version=4)
    by_grade_id(nb)["part-a"].source = "Answered already."
    nbformat.write(nb, path)
    problems, _ = check_paths([folder])
    assert problems == [
        f"{folder}: release/problem2.ipynb: the released answer part-a is not seen as blank;"
        " import it again"
    ]


def test_exercise_toml_must_list_what_the_source_has(tmp_path):
    folder = imported_example(tmp_path)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace("points = 0.5", "points = 5", 1))
    with pytest.raises(NotebookError, match="lists other graded cells or points"):
        load_notebook_exercise(folder)


def test_import_refuses_a_folder_without_notebooks(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(nbgrader, ["import", str(empty), "--into", str(tmp_path)])
    assert result.exit_code == 2 and "no .ipynb notebooks here" in result.stderr
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLE / "source" / "ps1", broken)
    path = broken / "problem1.ipynb"
    path.chmod(0o644)
    path.write_text(path.read_text().replace("### END SOLUTION", "", 1))
    result = CliRunner().invoke(nbgrader, ["import", str(broken), "--into", str(tmp_path)])
    assert result.exit_code == 2 and "without 'END SOLUTION'" in result.stderr


def test_import_refuses_a_notebook_in_another_language(tmp_path):
    source = write_assignment(tmp_path / "r", {"hw": [autotest("t", "stopifnot(TRUE)")]})
    path = source / "hw.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nbformat.write(nb, path)
    result = CliRunner().invoke(nbgrader, ["import", str(source), "--into", str(tmp_path)])
    assert (
        result.exit_code == 2 and "hw.ipynb: a R notebook; only Python is graded" in result.stderr
    )
