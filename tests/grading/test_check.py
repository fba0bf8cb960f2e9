"""Exercise checks: the reference scores full, the starter does not, mistakes are caught."""

from grading_support import FIXTURES, L2_DIR

from server.grading.check import check_exercise
from server.grading.cli import check_paths


def test_bundled_l2_exercise_passes_the_check():
    """The bundled exercise has no problem."""
    assert check_exercise(L2_DIR) == []


def test_exercise_whose_hidden_tests_miss_a_mistake_fails_naming_it():
    """Only a visible test catches mean-instead-of-sum: the check names that mistake."""
    problems = check_exercise(FIXTURES / "uncaught-mistake")
    assert len(problems) == 1, problems
    assert "mean_instead_of_sum.py" in problems[0]
    assert "'mean_instead_of_sum' is not caught by any hidden test" in problems[0]


def test_starter_scoring_full_marks_is_a_problem(exercise_copy):
    """A starter that already solves the exercise is reported."""
    root = exercise_copy()
    (root / "starter.py").write_text((root / "reference.py").read_text())
    assert check_exercise(root) == [
        f"{root / 'starter.py'}: scores full marks; give students work to do"
    ]


def test_reference_that_fails_in_the_sandbox_is_a_problem(exercise_copy):
    """A reference that reads a file of its folder works in-process but not in the sandbox."""
    root = exercise_copy()
    (root / "scale.txt").write_text("1.0")
    reference = root / "reference.py"
    scale = "SCALE = float(pathlib.Path(__file__).with_name('scale.txt').read_text())\n"
    reference.write_text("import pathlib\n" + scale + reference.read_text())
    problems = check_exercise(root)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{reference}: scores 0/10 in the sandbox")


def test_mistake_that_is_never_recognised_is_a_problem(exercise_copy):
    """Two mistakes with identical outputs: the second's hint can never be shown."""
    root = exercise_copy()
    mistakes = root / "mistakes"
    (mistakes / "z_l1_again.py").write_text(
        (mistakes / "l1_instead_of_l2.py").read_text().replace("HINT = (", "HINT = ('Again! ' \n")
    )
    problems = check_exercise(root)
    assert len(problems) == 1
    assert "'z_l1_again' is caught but its hint is never shown" in problems[0]


def test_invalid_exercise_is_one_line_naming_the_file(exercise_copy):
    """An exercise that does not load is reported in one line."""
    root = exercise_copy()
    (root / "tests.py").unlink()
    assert check_exercise(root) == [f"{root / 'tests.py'}: missing file"]


def test_check_paths_takes_exercise_folders_and_folders_of_them(exercise_copy):
    """check_paths accepts an exercise folder or a folder holding exercises."""
    root = exercise_copy(FIXTURES / "uncaught-mistake")
    assert len(check_paths([root])) == 1
    assert len(check_paths([root.parent])) == 1
    nowhere = root.parent / "nowhere"
    assert check_paths([nowhere]) == [f"{nowhere}: no exercise.toml here"]
