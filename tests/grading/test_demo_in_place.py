"""The weight-decay demo draws a step that changes its input in place as it really walks."""

import pytest

from server.grading.demo import LAMS, trajectories

IN_PLACE = (
    "import numpy as np\n\n"
    "def weight_decay_step(w, data_grad, lr, lam):\n"
    "    w *= 1 - 2 * lr * lam\n"
    "    w -= lr * data_grad\n"
    "    return w\n"
)


def test_an_in_place_step_is_drawn_step_by_step_not_as_a_flat_line(l2):
    demo = trajectories(l2, IN_PLACE)
    assert demo["student_error"] == ""
    for mine, reference in zip(demo["student"], demo["reference"], strict=True):
        assert mine == pytest.approx(reference)  # it starts at w0, not at where it ends
    middle = demo["student"][len(LAMS) // 2]
    assert middle[0] == demo["w0"] and middle[0] != pytest.approx(middle[-1])
