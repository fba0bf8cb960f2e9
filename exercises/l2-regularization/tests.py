"""Test cases of the L2 exercise: inputs made from a seeded RNG, so they are reproducible.

Never shown to students. Each function's points are shared equally by its cases.
"""

import numpy as np

from server.grading.exercise import Case

SEED = 20240917

F32 = {"rtol": 1e-5}  # float32 inputs: about 7 significant digits
TINY = {"atol": 0.0}  # values near 1e-100: the default atol would accept anything

LESSON_W = np.array([0.5, -1.0, 2.0])
LESSON_GRAD = np.array([0.1, 0.2, -0.3])


def cases(rng):
    """Return every test case, visible ones first."""
    return [*penalty_cases(rng), *gradient_cases(rng), *step_cases(rng)]


def normal(rng, shape, scale=1.0, dtype=np.float64):
    """Draw weights or gradients of a given shape, scale and dtype."""
    return (scale * rng.standard_normal(shape)).astype(dtype)


def integers(rng, shape):
    """Draw small integer weights or gradients."""
    return rng.integers(-5, 6, size=shape)


def penalty_cases(rng):
    """l2_penalty(w, lam): 12 cases of 0.25 points."""

    def case(name, w, lam, visible=False, **tol):
        return Case(name, "l2_penalty", (w, lam), visible=visible, **tol)

    return [
        case("lesson example", LESSON_W, 0.1, visible=True),
        case("matrix of weights", np.array([[1.0, 2.0], [3.0, 4.0]]), 0.5, visible=True),
        case("0-d weight", normal(rng, ()), 0.3),
        case("1-d float64", normal(rng, 10), 0.05),
        case("2-d float32", normal(rng, (4, 5), dtype=np.float32), 0.2, **F32),
        case("3-d float64", normal(rng, (2, 3, 4)), 0.7),
        case("empty 1-d", np.zeros(0), 0.1),
        case("empty 2-d", np.zeros((3, 0)), 0.1),
        case("integer weights", integers(rng, (3, 4)), 0.25),
        case("lam = 0", normal(rng, 6), 0.0),
        case("large magnitudes", normal(rng, 5, 1e100), 0.1),
        case("tiny magnitudes", normal(rng, 5, 1e-100), 0.1, **TINY),
    ]


def gradient_cases(rng):
    """l2_gradient(data_grad, w, lam): 12 cases of 0.25 points."""

    def case(name, grad, w, lam, visible=False, **tol):
        return Case(name, "l2_gradient", (grad, w, lam), visible=visible, **tol)

    return [
        case("lesson example", LESSON_GRAD, LESSON_W, 0.1, visible=True),
        case("0-d weight", normal(rng, ()), normal(rng, ()), 0.3),
        case("1-d float64", normal(rng, 8), normal(rng, 8), 0.1),
        case(
            "2-d float32",
            normal(rng, (3, 5), dtype=np.float32),
            normal(rng, (3, 5), dtype=np.float32),
            0.2,
            **F32,
        ),
        case("3-d float64", normal(rng, (2, 2, 3)), normal(rng, (2, 2, 3)), 0.4),
        case("empty", np.zeros(0), np.zeros(0), 0.1),
        case("integer inputs", integers(rng, (4, 3)), integers(rng, (4, 3)), 0.5),
        case("lam = 0", normal(rng, 5), normal(rng, 5), 0.0),
        case("strong regularization", normal(rng, (3, 3)), normal(rng, (3, 3)), 2.0),
        case("large magnitudes", normal(rng, 6, 1e100), normal(rng, 6, 1e100), 0.1),
        case("tiny magnitudes", normal(rng, 6, 1e-100), normal(rng, 6, 1e-100), 0.1, **TINY),
        case(
            "float32 weights, float64 gradient",
            normal(rng, 7),
            normal(rng, 7, dtype=np.float32),
            0.3,
            **F32,
        ),
    ]


def step_cases(rng):
    """weight_decay_step(w, data_grad, lr, lam): 16 cases of 0.25 points."""

    def case(name, w, grad, lr, lam, visible=False, **tol):
        return Case(name, "weight_decay_step", (w, grad, lr, lam), visible=visible, **tol)

    return [
        case("lesson example (factor 0.998)", LESSON_W, LESSON_GRAD, 0.01, 0.1, visible=True),
        case("0-d weight", normal(rng, ()), normal(rng, ()), 0.1, 0.3),
        case("1-d float64", normal(rng, 10), normal(rng, 10), 0.05, 0.2),
        case(
            "2-d float32",
            normal(rng, (4, 3), dtype=np.float32),
            normal(rng, (4, 3), dtype=np.float32),
            0.1,
            0.1,
            **F32,
        ),
        case("3-d float64", normal(rng, (2, 3, 2)), normal(rng, (2, 3, 2)), 0.2, 0.3),
        case("empty 1-d", np.zeros(0), np.zeros(0), 0.1, 0.1),
        case("empty 3-d", np.zeros((2, 0, 3)), np.zeros((2, 0, 3)), 0.1, 0.1),
        case("integer inputs", integers(rng, (3, 3)), integers(rng, (3, 3)), 0.1, 0.5),
        case("lam = 0 (plain gradient descent)", normal(rng, 6), normal(rng, 6), 0.1, 0.0),
        case("lesson numbers, many weights", normal(rng, 100), normal(rng, 100), 0.01, 0.1),
        # Big steps: decaying after the data step is off by 2·lr²·lam·grad, here 0.2·grad.
        case("large step", normal(rng, 8), normal(rng, 8), 0.5, 0.4),
        case("large step, 2-d", normal(rng, (3, 4)), normal(rng, (3, 4)), 0.9, 0.5),
        case("strong decay", normal(rng, 5), normal(rng, 5), 0.1, 2.0),
        case("large magnitudes", normal(rng, 6, 1e100), normal(rng, 6, 1e100), 0.1, 0.2),
        case("tiny magnitudes", normal(rng, 6, 1e-100), normal(rng, 6, 1e-100), 0.1, 0.2, **TINY),
        case(
            "float32 weights, float64 gradient",
            normal(rng, 7, dtype=np.float32),
            normal(rng, 7),
            0.05,
            0.1,
            **F32,
        ),
    ]
