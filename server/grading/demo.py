"""The weight-decay demo: one weight over many steps, under the student's step and the reference.

The student's trajectory comes out of the sandbox like any other output, so it is
untrusted data: checked for dtype and shape, non-finite points dropped. The
reference's is computed here, in trusted code.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from server.grading import sweep
from server.grading.compare import NUMERIC_KINDS
from server.grading.exercise import Exercise
from server.sandbox import Call

log = logging.getLogger("rubric.grading")

FUNCTION = "weight_decay_step"
LAMS = tuple(round(0.1 * i, 1) for i in range(11))  # the slider's λ grid, 0.0 to 1.0
STEPS = 100
LR = 0.1
W0 = 3.0
# The data loss ½(w − TARGET)² pulls the weight towards TARGET while λ pulls it to 0:
# the weight settles at TARGET / (1 + 2λ), so each λ visibly ends somewhere else.
TARGET = 1.0
SIGNIFICANT = 6  # digits of each point drawn: the chart needs no more, the JSON is smaller
# The demo runs before the hidden tests, in their sandbox, so it gives up after this
# long rather than eat their time (a reference-like step draws it in about 1 ms).
SECONDS = 0.2
# Trusted-authored, but it runs in the sandbox after the student's file, so what it
# returns is as untrusted as any output (and the clock it reads is the student's to fake:
# that only spoils their own grade). It steps every λ at once (one call per step,
# not one per step and λ: 11 times less sandbox time), then re-steps the last λ alone
# and falls back to one λ at a time unless both agree, so a step that does not work
# elementwise is still drawn as it really behaves.
HARNESS = """
import time
import numpy
import submission

_deadline = [0.0]


def _walk(w, target, lr, lam):
    step = submission.{function}
    # Copies, never views: a step that changes w in place and returns it would otherwise
    # turn every stored point into its last one (a flat line), and change the caller's w0.
    w = numpy.array(w, dtype=numpy.float64)
    out = [w.copy()]
    for _ in range({steps}):
        if time.monotonic() > _deadline[0]:
            raise TimeoutError("the demo took too long")
        w = step(w, w - target, lr, lam)
        out.append(numpy.array(w, dtype=numpy.float64))
    return numpy.stack(out)


def _one_at_a_time(w0, target, lr, lams):
    walks = [_walk(w0, target, lr, numpy.array(lam)) for lam in lams]
    return numpy.stack([walk.reshape(len(walk)) for walk in walks], axis=1)


def trajectories(w0, target, lr, lams):
    _deadline[0] = time.monotonic() + {seconds}
    try:
        together = _walk(numpy.full(lams.shape, w0[0]), target, lr, lams)
        alone = _walk(w0, target, lr, numpy.array(lams[-1]))
        if together.shape == (len(alone), len(lams)) and numpy.allclose(
            together[:, -1], alone.reshape(len(alone)), rtol=1e-12, atol=0, equal_nan=True
        ):
            return together
    except Exception:
        pass
    return _one_at_a_time(w0, target, lr, lams)
"""
_references: dict[tuple[str, str, int], list[list[float | None]]] = {}


def has_demo(exercise: Exercise) -> bool:
    """Tell whether the exercise asks for the function the demo steps with."""
    return FUNCTION in {f.name for f in exercise.functions}


def demo_calls(lams: tuple[float, ...] = LAMS) -> list[Call]:
    """Return the harness call that makes one trajectory per λ (as columns)."""
    w0, target, lr = (np.array([value]) for value in (W0, TARGET, LR))
    return [Call("harness.trajectories", (w0, target, lr, np.array(lams, dtype=np.float64)))]


def harness(steps: int = STEPS, seconds: float = SECONDS) -> str:
    """Return the harness source that steps the student's function."""
    return HARNESS.format(function=FUNCTION, steps=int(steps), seconds=float(seconds))


def grade_with_demo(exercise: Exercise, code: str) -> dict[str, Any]:
    """Grade a submission and compute its weight-decay demo in the same sandbox run.

    The SPEC result plus "demo". The demo shows every value the student's code returns,
    so it runs before any hidden test: the code cannot have kept a hidden input to draw
    into it. The lambda sweep is not computed here: it would add 10-20 ms to every
    grading, so it runs in a sandbox of its own when the result is first shown
    (server/submissions/lambda_sweep.py).
    """
    from server.grading.grader import grade_with_extras

    if not has_demo(exercise):
        return grade_with_extras(exercise, code)[0].to_dict()
    graded, returned = grade_with_extras(exercise, code, demo_calls(), harness())
    result = graded.to_dict()
    if returned:  # nothing comes back when the file did not load
        try:
            result["demo"] = assemble(exercise, returned)
        except Exception:  # the demo is a bonus: logged, the grade kept
            log.exception("weight-decay demo failed")
    return result


def sweep_of(exercise: Exercise, code: str) -> dict[str, Any] | None:
    """Return the lambda sweep of the code beside the reference's; None if it cannot run."""
    from server.grading.grader import run_calls, sandbox_limits

    if not sweep.has_sweep(exercise):
        return None
    calls = sweep.sweep_calls(exercise)
    first, returned = run_calls(code, calls, sandbox_limits(exercise), harness() + sweep.harness())
    if first.load_outcome != "ok":
        return None
    return sweep.assemble(exercise, returned[0])


def trajectories(
    exercise: Exercise, code: str, lams: tuple[float, ...] = LAMS, steps: int = STEPS
) -> dict[str, Any] | None:
    """Return the student's and the reference's trajectories for each λ; None if it cannot run."""
    from server.grading.grader import run_calls, sandbox_limits

    if not has_demo(exercise):
        return None
    first, returned = run_calls(code, demo_calls(lams), sandbox_limits(exercise), harness(steps))
    if first.load_outcome != "ok":
        return None  # the grading result already explains why the file did not load
    return assemble(exercise, returned, lams, steps)


def assemble(exercise: Exercise, returned, lams=LAMS, steps: int = STEPS) -> dict[str, Any]:
    """Check the sandbox's trajectories and put them beside the reference's."""
    (result,) = returned
    value, error = result.value, _failure(result, steps, len(lams))
    return {
        "function": FUNCTION,
        "lams": list(lams),
        "steps": steps,
        "lr": LR,
        "w0": W0,
        "target": TARGET,
        "reference": reference_trajectories(exercise, lams, steps),
        "student": [None] * len(lams) if error else _points(value.T),
        "student_error": error,
    }


def reference_trajectories(exercise: Exercise, lams, steps: int) -> list[list[float | None]]:
    """Return the reference's trajectories, computed once per exercise version and grid."""
    key = (exercise.content_hash, repr(tuple(lams)), steps)
    if key not in _references:
        _references[key] = [_reference_points(exercise, lam, steps) for lam in lams]
    return _references[key]


def _reference_points(exercise: Exercise, lam: float, steps: int) -> list[float | None]:
    """Chain the trusted reference's steps from the same start."""
    w, target, lr = np.array([W0]), np.array([TARGET]), np.array(LR)
    out = [W0]
    for _ in range(steps):
        w = exercise.call_reference(FUNCTION, w, w - target, lr, np.array(lam))
        out.append(float(np.asarray(w, dtype=np.float64).reshape(-1)[0]))
    return _points(np.array(out))


def _failure(returned, steps: int, count: int) -> str:
    """Say in one line why the trajectories are unusable ("" when they are), showing no input."""
    if returned.outcome != "ok":
        return f"{FUNCTION} failed while stepping: {returned.outcome.replace('_', ' ')}"
    value = returned.value
    if value.dtype.kind not in NUMERIC_KINDS or value.shape != (steps + 1, count):
        return f"{FUNCTION} did not return one weight per step"
    return ""


def _point(x: float) -> float | None:
    """Round for a chart; None for NaN or infinity (JSON has neither)."""
    return float(f"{x:.{SIGNIFICANT}g}") if math.isfinite(x) else None


def _points(values: np.ndarray) -> list:
    """Round every value as _point does, at once: 1,111 by one call each cost ~0.5 ms.

    An integer divided by an exact power of ten (up to 1e22) rounds once, to the double
    nearest the decimal, as float() of the formatted digits does. Values too small or
    too large for that, NaN and infinity go through _point one by one.
    """
    values = np.asarray(values, dtype=np.float64)
    size = np.abs(values)
    plain = (size == 0) | ((size >= 1e-15) & (size < 1e15))
    with np.errstate(invalid="ignore"):
        exponent = np.floor(np.log10(np.where(plain & (size > 0), size, 1.0)))
        decimals = SIGNIFICANT - 1 - exponent  # between -9 and 20
        scale = 10.0 ** np.abs(decimals)
        rounded = np.where(
            decimals >= 0, np.rint(values * scale) / scale, np.rint(values / scale) * scale
        )
    points = rounded.tolist()
    for index in np.argwhere(~plain):
        *outer, last = index
        row = points
        for i in outer:
            row = row[i]
        row[last] = _point(float(values[tuple(index)]))
    return points
