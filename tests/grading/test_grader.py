"""The trusted grader on the L2 exercise, with real submissions graded in the sandbox."""

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from grading_support import L2_DIR, replace_function

from server.grading.grader import HIDDEN_FEEDBACK, grade_submission
from server.grading.result import Outcome, Status

STUDENT_SOLUTION = """
import numpy as np

def l2_penalty(w, lam):
    return float(lam) * float(np.square(np.asarray(w, dtype=float)).sum())

def l2_gradient(data_grad, w, lam):
    return np.add(data_grad, 2.0 * float(lam) * np.asarray(w))

def weight_decay_step(w, data_grad, lr, lam):
    lr, lam = float(lr), float(lam)
    return (1.0 - 2.0 * lr * lam) * w - lr * data_grad
"""


def results_of(result, function=None):
    """Return the test results of one part (or of all parts)."""
    return [t for p in result.parts if function in (None, p.name) for t in p.tests]


def part(result, name):
    """Return one part of a result by function name."""
    return next(p for p in result.parts if p.name == name)


def test_reference_scores_full_marks(l2, reference_source):
    """The reference, graded like a submission, earns 10/10."""
    result = grade_submission(l2, reference_source)
    assert result.status is Status.GRADED
    assert (result.score, result.max_score) == (10.0, 10.0)
    assert {t.outcome for t in results_of(result)} == {Outcome.PASSED}


def test_a_different_correct_solution_scores_full_marks(l2):
    """A correct solution written differently (plain floats, np.square) also earns 10/10."""
    result = grade_submission(l2, STUDENT_SOLUTION)
    assert result.score == 10.0, [(t.name, t.feedback) for t in results_of(result) if t.score == 0]


def test_starter_does_not_score_full(l2):
    """The starter file earns nothing: it raises NotImplementedError."""
    result = grade_submission(l2, l2.starter)
    assert result.status is Status.GRADED and result.score < result.max_score
    assert result.score == 0.0
    assert {t.outcome for t in results_of(result)} == {Outcome.RUNTIME_ERROR}


@pytest.mark.parametrize("name", sorted(p.stem for p in (L2_DIR / "mistakes").glob("*.py")))
def test_each_known_mistake_gets_its_hint_and_loses_points(l2, reference_source, name):
    """A submission with a known mistake loses points and reads that mistake's hint."""
    mistake = next(m for m in l2.mistakes if m.name == name)
    result = grade_submission(l2, reference_source + "\n\n" + mistake.source)
    hinted = [t for t in results_of(result) if mistake.hint in t.feedback]
    assert hinted and all(t.outcome is not Outcome.PASSED for t in hinted)
    assert any(not t.visible for t in hinted), "hidden tests show the hint too"
    assert {t.mistake for t in hinted} == {name}
    for function in mistake.functions:
        assert part(result, function).score < part(result, function).max_score


def test_student_who_forgot_the_factor_two_reads_that_hint(l2):
    """A hand-written gradient without the 2 gets the factor-2 hint on its failing tests."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_gradient",
        """
def l2_gradient(data_grad, w, lam):
    return data_grad + lam * w
""",
    )
    result = grade_submission(l2, code)
    failing = [t for t in results_of(result, "l2_gradient") if t.outcome is not Outcome.PASSED]
    assert len(failing) == 10  # all but the empty and lam = 0 cases
    assert all("don't forget the factor 2" in t.feedback for t in failing)
    assert result.score == 7.0 + 0.5


def test_modifying_w_in_place_is_mutated_input(l2):
    """An in-place update returns the right values but changes w: mutated_input, no points."""
    code = replace_function(
        STUDENT_SOLUTION,
        "weight_decay_step",
        """
def weight_decay_step(w, data_grad, lr, lam):
    w -= lr * (data_grad + 2 * lam * w)
    return w
""",
    )
    result = grade_submission(l2, code)
    outcomes = [t.outcome for t in results_of(result, "weight_decay_step")]
    assert outcomes.count(Outcome.MUTATED_INPUT) >= 10
    mutated = [t for t in results_of(result) if t.outcome is Outcome.MUTATED_INPUT]
    assert all(t.score == 0 and "changed the caller's array" in t.feedback for t in mutated)


def test_modifying_data_grad_is_mutated_input_too(l2):
    """Changing any input counts, not only w."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_gradient",
        """
def l2_gradient(data_grad, w, lam):
    data_grad += 2 * lam * w
    return data_grad
""",
    )
    result = grade_submission(l2, code)
    visible = next(t for t in results_of(result, "l2_gradient") if t.visible)
    assert visible.outcome is Outcome.MUTATED_INPUT
    assert "it changed data_grad;" in visible.feedback


def test_syntax_error_is_graded_zero_with_line_and_column(l2):
    """A syntax error is a graded submission with score 0 and its line in the feedback."""
    code = "import numpy as np\n\ndef l2_penalty(w, lam)\n    return lam * np.sum(w**2)\n"
    result = grade_submission(l2, code)
    assert result.status is Status.GRADED and result.score == 0.0
    assert re.search(r"line\D{0,3}3\b", result.feedback), result.feedback
    assert "column" in result.feedback.lower() or re.search(r"3:\d+", result.feedback)
    assert len(results_of(result)) == len(l2.tests)  # every part still listed, all failed
    assert all(t.score == 0 for t in results_of(result))


def test_error_while_loading_is_graded_zero(l2):
    """A file that raises at import is graded 0 and says so."""
    result = grade_submission(l2, "raise RuntimeError('top-level boom')\n")
    assert result.status is Status.GRADED and result.score == 0.0
    assert "RuntimeError" in result.feedback


KILLERS = {
    "os._exit": "import os; os._exit(0)",
    "sys.exit": "import sys; sys.exit(0)",
    "SIGKILL itself": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    "infinite loop": "while True: pass",
}


@pytest.mark.parametrize("body", KILLERS.values(), ids=KILLERS.keys())
def test_a_function_that_kills_its_sandbox_costs_only_its_own_tests(l2, body):
    """When l2_gradient exits, crashes or hangs, the other two functions are still graded."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_gradient",
        f"""
def l2_gradient(data_grad, w, lam):
    {body}
""",
    )
    result = grade_submission(l2, code)
    assert result.status is Status.GRADED
    assert part(result, "l2_penalty").score == 3.0
    assert part(result, "weight_decay_step").score == 4.0
    assert part(result, "l2_gradient").score == 0.0
    if body.startswith("while"):
        assert {t.outcome for t in results_of(result, "l2_gradient")} == {Outcome.TIMEOUT}


def test_memory_bomb_in_one_function_costs_only_its_tests(l2):
    """A function that asks for far more memory than allowed loses only its tests."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        """
def l2_penalty(w, lam):
    blocks = [np.ones(50_000_000) for _ in range(100)]
    return float(len(blocks))
""",
    )
    result = grade_submission(l2, code)
    assert part(result, "l2_penalty").score == 0.0
    assert result.score == 7.0
    assert {t.outcome for t in results_of(result, "l2_penalty")} <= {
        Outcome.MEMORY_LIMIT,
        Outcome.RUNTIME_ERROR,
    }


def test_always_equal_object_is_invalid_output(l2):
    """An object whose __eq__ is always true cannot pass for a number."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        """
class Anything:
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    def __array__(self, *args, **kwargs):
        return np.array(self, dtype=object)

def l2_penalty(w, lam):
    return Anything()
""",
    )
    result = grade_submission(l2, code)
    outcomes = {t.outcome for t in results_of(result, "l2_penalty")}
    assert outcomes == {Outcome.INVALID_OUTPUT}
    assert result.score == 7.0


@pytest.mark.parametrize(
    "value",
    [
        "np.array(['0.525'])",
        "np.array(True)",
        "np.array(0.525 + 0j)",
        "None",
        "'0.525'",
    ],
)
def test_non_numeric_output_is_invalid_output(l2, value):
    """Strings, booleans, complex numbers and None are not valid answers."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        f"""
def l2_penalty(w, lam):
    return {value}
""",
    )
    result = grade_submission(l2, code)
    assert {t.outcome for t in results_of(result, "l2_penalty")} == {Outcome.INVALID_OUTPUT}


def test_wrong_shape_is_wrong_answer_with_the_shape_named(l2):
    """A 2-d gradient for a 1-d w is a wrong answer that names the shapes where visible."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_gradient",
        """
def l2_gradient(data_grad, w, lam):
    return np.atleast_2d(data_grad + 2 * lam * w)
""",
    )
    result = grade_submission(l2, code)
    tests = {t.name: t for t in results_of(result, "l2_gradient")}
    assert tests["lesson example"].outcome is Outcome.WRONG_ANSWER
    assert "shape (1, 3) instead of (3,)" in tests["lesson example"].feedback
    assert tests["2-d float32"].outcome is Outcome.PASSED
    assert tests["1-d float64"].outcome is Outcome.WRONG_ANSWER
    assert tests["1-d float64"].feedback == HIDDEN_FEEDBACK[Outcome.WRONG_ANSWER]


def test_nan_output_is_wrong_answer(l2):
    """NaN where a finite number is expected never passes, even with equal_nan comparisons."""
    code = replace_function(
        STUDENT_SOLUTION,
        "weight_decay_step",
        """
def weight_decay_step(w, data_grad, lr, lam):
    return np.full(np.shape(w), np.nan)
""",
    )
    result = grade_submission(l2, code)
    tests = results_of(result, "weight_decay_step")
    non_empty = [
        t for t, c in zip(tests, l2.tests_for("weight_decay_step"), strict=True) if c.expected.size
    ]
    assert {t.outcome for t in non_empty} == {Outcome.WRONG_ANSWER}
    assert all(("NaN" in t.feedback) == t.visible for t in non_empty)


def test_missing_function_is_missing(l2):
    """A function not defined gets `missing` on its tests; the others are graded."""
    code = replace_function(STUDENT_SOLUTION, "weight_decay_step", "")
    result = grade_submission(l2, code)
    assert {t.outcome for t in results_of(result, "weight_decay_step")} == {Outcome.MISSING}
    assert result.score == 6.0


def test_hidden_feedback_does_not_echo_hidden_inputs_or_answers(l2):
    """An error message that prints the input shows on visible tests only."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        """
def l2_penalty(w, lam):
    raise ValueError("LEAK " + repr(w.tolist()) + repr(float(lam)))
""",
    )
    result = grade_submission(l2, code)
    for test in results_of(result, "l2_penalty"):
        assert test.outcome is Outcome.RUNTIME_ERROR
        assert ("LEAK" in test.feedback) == test.visible, test.feedback
        if not test.visible:
            assert test.feedback == HIDDEN_FEEDBACK[Outcome.RUNTIME_ERROR]


def test_hidden_wrong_answers_do_not_show_expected_values(l2):
    """Visible tests show expected and actual values; hidden ones only a generic message."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        """
def l2_penalty(w, lam):
    return 123.456
""",
    )
    result = grade_submission(l2, code)
    cases = l2.tests_for("l2_penalty")
    for test, case in zip(results_of(result, "l2_penalty"), cases, strict=True):
        shown = repr(float(case.expected))
        assert (shown in test.feedback) == test.visible, (test.name, test.feedback)
        assert ("123.456" in test.feedback) == test.visible


def test_printed_fake_result_changes_nothing(l2):
    """Printing something that looks like a result does not affect the score."""
    code = 'print(\'{"status": "graded", "score": 10.0}\')\n' + l2.starter
    result = grade_submission(l2, code)
    assert result.score == 0.0


def test_result_dict_has_spec_shape(l2):
    """to_dict() is SPEC's grading result: one part per function, named after it."""
    data = grade_submission(l2, STUDENT_SOLUTION).to_dict()
    assert set(data) == {
        "exercise",
        "status",
        "score",
        "max_score",
        "feedback",
        "parts",
        "duration_ms",
    }
    assert data["exercise"] == "l2-regularization" and data["status"] == "graded"
    assert [p["name"] for p in data["parts"]] == ["l2_penalty", "l2_gradient", "weight_decay_step"]
    for p in data["parts"]:
        assert set(p) == {"name", "score", "max_score", "tests"}
        for t in p["tests"]:
            assert set(t) == {"name", "outcome", "score", "max_score", "visible", "feedback"}
            assert t["outcome"] in {o.value for o in Outcome}
    assert isinstance(data["duration_ms"], int) and data["duration_ms"] >= 0


def test_grading_from_several_threads_gives_the_same_results(l2, reference_source):
    """Concurrent gradings (as from several gunicorn threads) do not interfere."""
    wrong = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        """
def l2_penalty(w, lam):
    return lam * np.mean(w**2)
""",
    )
    codes = [reference_source, wrong] * 6
    with ThreadPoolExecutor(max_workers=4) as pool:
        scores = list(pool.map(lambda c: grade_submission(l2, c).score, codes))
    assert scores == [10.0, 7.5] * 6


def test_made_up_exception_names_are_not_shown_for_hidden_tests(l2):
    """A student could name an exception class after a hidden input: hidden tests name none."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        """
def l2_penalty(w, lam):
    raise type("Leak" + str(w.size), (Exception,), {})()
""",
    )
    result = grade_submission(l2, code)
    hidden = [t for t in results_of(result, "l2_penalty") if not t.visible]
    assert hidden and all("Leak" not in t.feedback for t in hidden)
    assert all(t.feedback == HIDDEN_FEEDBACK[Outcome.RUNTIME_ERROR] for t in hidden)


def test_two_crashing_functions_still_leave_the_third_graded(l2):
    """One function exits and another hangs: each costs only its own tests."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        """
def l2_penalty(w, lam):
    import os
    os._exit(1)
""",
    )
    code = replace_function(
        code,
        "weight_decay_step",
        """
def weight_decay_step(w, data_grad, lr, lam):
    while True:
        pass
""",
    )
    result = grade_submission(l2, code)
    assert [p.score for p in result.parts] == [0.0, 3.0, 0.0]
    assert {t.outcome for t in results_of(result, "weight_decay_step")} == {Outcome.TIMEOUT}


def test_made_up_return_types_are_not_named_for_hidden_tests(l2):
    """An invalid output's type name could encode a hidden input: hidden tests do not show it."""
    code = replace_function(
        STUDENT_SOLUTION,
        "l2_penalty",
        """
def l2_penalty(w, lam):
    return type("Leak" + str(w.size), (), {})()
""",
    )
    result = grade_submission(l2, code)
    tests = results_of(result, "l2_penalty")
    assert {t.outcome for t in tests} == {Outcome.INVALID_OUTPUT}
    assert all(("Leak" in t.feedback) == t.visible for t in tests)


def test_an_exercise_with_a_tiny_wall_limit_still_gets_its_first_run(l2):
    """The budget never refuses the first run, however small the exercise's limits."""
    tiny = replace(l2, limits=replace(l2.limits, wall_seconds=0.01))
    result = grade_submission(tiny, STUDENT_SOLUTION)
    assert result.status is Status.GRADED and len(results_of(result)) == len(l2.tests)
