"""The weight-decay demo: the student's trajectory from the sandbox, the reference's trusted."""

import json

import pytest

from server.grading.demo import LAMS, STEPS, TARGET, add_demo, trajectories


def test_reference_code_follows_the_reference_and_settles_where_theory_says(l2, reference_source):
    demo = trajectories(l2, reference_source)
    assert demo["lams"] == list(LAMS) and demo["student_error"] == ""
    assert len(demo["student"]) == len(LAMS)
    for lam, mine, reference in zip(LAMS, demo["student"], demo["reference"], strict=True):
        assert len(mine) == len(reference) == STEPS + 1
        assert mine == pytest.approx(reference)
        assert reference[-1] == pytest.approx(TARGET / (1 + 2 * lam), rel=1e-4)
    json.dumps(demo, allow_nan=False)  # storable in any database's JSON column


def test_a_wrong_step_gives_a_different_trajectory(l2, reference_source):
    flipped = reference_source.replace("(1 - 2 * lr * lam)", "(1 + 2 * lr * lam)")
    demo = trajectories(l2, flipped)
    assert demo["student"][-1][-1] != pytest.approx(demo["reference"][-1][-1])
    assert demo["student"][0] == pytest.approx(demo["reference"][0])  # λ = 0: no decay at all


@pytest.mark.parametrize(
    "body, error",
    [
        ("raise NotImplementedError", "runtime error"),
        ("return 'w'", "runtime error"),  # a string cannot be stacked into a trajectory
        ("return w * np.inf", ""),  # infinities become gaps, never NaN in JSON
    ],
)
def test_untrusted_output_is_validated(l2, body, error):
    code = f"import numpy as np\n\ndef weight_decay_step(w, data_grad, lr, lam):\n    {body}\n"
    demo = trajectories(l2, code)
    assert error in demo["student_error"]
    if error:
        assert demo["student"] == [None] * len(LAMS)
    else:
        assert demo["student"][0][1] is None
    json.dumps(demo, allow_nan=False)


def test_a_file_that_does_not_load_has_no_demo_and_grading_keeps_its_result(l2):
    assert trajectories(l2, "def weight_decay_step(:\n") is None
    result = {"score": 0.0}
    assert add_demo(result, l2, "def weight_decay_step(:\n") == {"score": 0.0}
