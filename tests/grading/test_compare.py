"""The trusted comparison: same rule as np.allclose, inputs checked bit for bit."""

import numpy as np
import pytest

from server.grading.compare import Tolerance, allclose, judge, mutated_args, same_output
from server.grading.result import Outcome

SPECIAL = np.array(
    [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-300,
        1e300,
        1e308,
        -1e308,
        np.inf,
        -np.inf,
        np.nan,
        1.0 + 1e-7,
        1.0 + 1e-5,
        2.0,
    ]
)


@pytest.mark.parametrize(
    "tol", [Tolerance(1e-6, 1e-9), Tolerance(0.0, 0.0), Tolerance(1e-5, 0.0), Tolerance(0.1, 1.0)]
)
def test_allclose_agrees_with_numpy_on_special_and_random_values(tol):
    """Every pair of special values, and random near-equal arrays, judged as numpy does."""
    for a in SPECIAL:
        for e in SPECIAL:
            with np.errstate(all="ignore"):  # numpy warns on 1e308 - -1e308
                want = np.allclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
            assert allclose(np.array(a), np.array(e), tol) == want, (a, e)
            assert same_output(np.array([a, 1.0]), np.array([e, 1.0]), tol) == want, (a, e)
    rng = np.random.default_rng(0)
    for _ in range(300):
        e = rng.standard_normal(rng.integers(0, 6)) * 10.0 ** rng.integers(-5, 5)
        a = e * (1 + rng.standard_normal(e.shape) * 10.0 ** rng.integers(-9, -3))
        want = np.allclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
        assert allclose(a, e, tol) == want


def test_float32_and_integer_outputs_are_compared_as_numbers():
    """An integer or float32 answer equal in value passes."""
    tol = Tolerance(1e-5, 0.0)
    assert judge(np.array([1, 2]), (), (), np.array([1.0, 2.0]), tol).outcome is Outcome.PASSED
    assert (
        judge(np.float32([0.1]).reshape(1), (), (), np.array([0.1]), tol).outcome is Outcome.PASSED
    )


def test_nan_or_inf_where_finite_is_expected_is_named():
    """A NaN output gets its own reason, even where the tolerance is huge."""
    verdict = judge(np.array([np.nan, 1.0]), (), (), np.array([1.0, 1.0]), Tolerance(1e9, 1e9))
    assert verdict.outcome is Outcome.WRONG_ANSWER and "NaN" in verdict.reason


def test_mutation_is_any_change_of_value_dtype_or_shape():
    """Inputs are compared exactly; a NaN left in place is not a change."""
    w = np.array([1.0, np.nan])
    assert mutated_args((w,), (w.copy(),)) == []
    assert mutated_args((w,), (np.array([1.0 + 1e-16 * 2, np.nan]),)) == [0]
    assert mutated_args((w,), (w.reshape(2, 1),)) == [0]
    assert mutated_args((w, w), (w.copy(), w.astype(np.float32))) == [1]
