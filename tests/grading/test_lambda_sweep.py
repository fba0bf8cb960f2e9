"""The lambda sweep: the student's functions train on the shipped data in the sandbox."""

import json

import pytest

from server.grading.demo import grade_with_demo, sweep_of
from server.grading.sweep import GRADIENT, STEP, settings

STEP_RAISES = "\ndef weight_decay_step(w, data_grad, lr, lam):\n    raise NotImplementedError\n"
IN_PLACE = (
    "\ndef weight_decay_step(w, data_grad, lr, lam):\n"
    "    w *= 1 - 2 * lr * lam\n"
    "    w -= lr * data_grad\n"
    "    return w\n"
)


def test_the_reference_draws_the_reference_curve_and_the_trade_off(l2, reference_source):
    swept = sweep_of(l2, reference_source)
    assert swept["student_error"] == "" and swept["trained_with"] == STEP
    assert swept["student"]["train"] == pytest.approx(swept["reference"]["train"])
    assert swept["student"]["validation"] == pytest.approx(swept["reference"]["validation"])
    lams, train = swept["lams"], swept["reference"]["train"]
    assert lams == settings(l2)["lams"]
    # More decay fits the training points less well, and the best λ is neither extreme:
    # too little overfits the 12 points, too much underfits (the lesson's trade-off).
    assert train == sorted(train)
    assert lams[0] < swept["reference_best"] < lams[-1]
    assert swept["student_best"] == swept["reference_best"]
    json.dumps(swept, allow_nan=False)


def test_a_wrong_step_draws_its_own_curve(l2, reference_source):
    forgot_two = reference_source.replace("(1 - 2 * lr * lam)", "(1 - lr * lam)")
    swept = sweep_of(l2, forgot_two)
    assert swept["trained_with"] == STEP
    assert swept["student"]["validation"][0] == pytest.approx(
        swept["reference"]["validation"][0], rel=1e-2
    )  # little decay at the smallest λ: nearly the same fit
    assert swept["student"]["validation"][-1] != pytest.approx(swept["reference"]["validation"][-1])


def test_without_a_working_step_it_trains_with_the_students_gradient(l2, reference_source):
    swept = sweep_of(l2, reference_source + STEP_RAISES)
    assert swept["trained_with"] == GRADIENT and swept["student_error"] == ""
    assert swept["student"]["validation"] == pytest.approx(swept["reference"]["validation"])


def test_a_step_that_changes_its_input_in_place_is_trained_as_it_behaves(l2, reference_source):
    swept = sweep_of(l2, reference_source + IN_PLACE)
    assert swept["student"]["validation"] == pytest.approx(swept["reference"]["validation"])


def test_when_neither_function_works_the_sweep_says_so_and_the_grade_stands(l2, reference_source):
    broken = (
        reference_source
        + STEP_RAISES.replace("weight_decay_step", GRADIENT).replace(
            "(w, data_grad, lr, lam)", "(data_grad, w, lam)"
        )
        + STEP_RAISES
    )
    swept = sweep_of(l2, broken)
    assert "runtime error" in swept["student_error"]
    assert swept["student"]["validation"] == [None] * len(swept["lams"])
    assert swept["student_best"] is None and swept["reference_best"] is not None
    result = grade_with_demo(l2, broken)
    assert 0 < result["score"] < result["max_score"]  # l2_penalty still counts


def test_grading_leaves_the_sweep_out_of_its_path(l2, reference_source):
    # The sweep is computed when the result is first shown (server/submissions/lambda_sweep.py).
    result = grade_with_demo(l2, reference_source)
    assert result["score"] == result["max_score"]
    assert "sweep" not in result and "demo" in result


def test_a_step_that_is_not_elementwise_in_lam_is_trained_one_lam_at_a_time(l2, reference_source):
    # Right for one λ at a time, wrong if handed every λ at once (it averages them).
    averaged = (
        "\ndef weight_decay_step(w, data_grad, lr, lam):\n"
        "    lam = float(np.mean(lam))\n"
        "    return w * (1 - 2 * lr * lam) - lr * data_grad\n"
    )
    swept = sweep_of(l2, reference_source + averaged)
    assert swept["trained_with"] == STEP
    assert swept["student"]["validation"] == pytest.approx(swept["reference"]["validation"])
