"""The weight-decay demo: the student's trajectory from the sandbox, the reference's trusted."""

import json
import math

import numpy as np
import pytest

from server.grading.demo import (
    LAMS,
    STEPS,
    TARGET,
    _point,
    _points,
    grade_with_demo,
    trajectories,
)


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
    result = grade_with_demo(l2, "def weight_decay_step(:\n")
    assert result["score"] == 0 and "demo" not in result
    assert "line 1" in result["feedback"]


def test_grading_and_demo_share_one_run_and_give_what_each_gives_alone(l2, reference_source):
    result = grade_with_demo(l2, reference_source)
    assert result["score"] == result["max_score"] == 10
    assert result["demo"] == trajectories(l2, reference_source)


# Right on every test, but not on the demo's inputs: a one-element w or eleven of them
# (no test of the L2 exercise has either shape).
ON_DEMO_INPUTS = (
    "\n_right = weight_decay_step\n"
    "def weight_decay_step(w, data_grad, lr, lam):\n"
    "    if np.shape(w) in ((1,), (11,)):\n"
    "        {action}\n"
    "    return _right(w, data_grad, lr, lam)\n"
)
DEMO_BREAKS = {
    "raises": ("raise RuntimeError('tired')", "runtime error"),
    # Slow, not stuck: the harness gives up at its own deadline, the tests keep the run.
    "crawls": ("import time; time.sleep(0.01)", "runtime error"),
    # Stuck: the demo's sandbox is killed and the hidden tests get a fresh one.
    "hangs": ("while True: pass", "timeout"),
}


@pytest.mark.parametrize("action, error", DEMO_BREAKS.values(), ids=DEMO_BREAKS.keys())
def test_a_demo_that_breaks_never_changes_the_grade(l2, reference_source, action, error):
    code = reference_source + "\nimport numpy as np\n" + ON_DEMO_INPUTS.format(action=action)
    result = grade_with_demo(l2, code)
    assert result["score"] == 10
    assert error in result["demo"]["student_error"]


def test_a_step_that_is_not_elementwise_in_lam_is_still_drawn_as_it_behaves(l2):
    # Right for one λ at a time, wrong if handed every λ at once (it averages them):
    # the harness must notice and step each λ alone.
    code = (
        "import numpy as np\n\n"
        "def weight_decay_step(w, data_grad, lr, lam):\n"
        "    lam = float(np.mean(lam))\n"
        "    return w * (1 - 2 * lr * lam) - lr * data_grad\n"
    )
    demo = trajectories(l2, code)
    assert demo["student_error"] == ""
    for mine, reference in zip(demo["student"], demo["reference"], strict=True):
        assert mine == pytest.approx(reference)


def test_points_round_all_at_once_exactly_as_one_by_one():
    rng = np.random.default_rng(7)
    wide = rng.normal(size=(40, 250)) * 10.0 ** rng.integers(-20, 20, size=(40, 250))
    wide.flat[:8] = [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1e300, 0.5]
    expected = [[_point(x) for x in row] for row in wide.tolist()]
    assert _points(wide) == expected
    assert _points(wide[3]) == expected[3]
    assert [repr(x) for x in _points(wide[0])[:2]] == ["0.0", "-0.0"]
