"""The lambda sweep: fit the exercise's small data set for a grid of λ, plot loss against λ.

The student's curve comes out of the sandbox (their weight_decay_step, or gradient
descent with their l2_gradient when the step does not work), so it is untrusted data:
checked for shape, non-finite points dropped. The reference's curve is computed here, by
the trusted reference, once per exercise version. The data set is shipped with the
exercise (data/sweep.json) and shown to students: nothing hidden goes into the sweep.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from server.grading.compare import NUMERIC_KINDS
from server.grading.exercise import Exercise
from server.sandbox import Call

FILE = "data/sweep.json"
STEP, GRADIENT = "weight_decay_step", "l2_gradient"
SECONDS = 0.3  # the sweep gives up after this long rather than eat the hidden tests' time
# The last λ is also trained alone for this many steps: a function that is not elementwise
# in λ already strays from the all-at-once training there, at a tenth of a full run's cost.
CHECK_STEPS = 30
# Appended to the demo's harness (same module, same `import submission`): every λ is
# trained at once, one call per step; the last λ is trained alone too and, unless both
# agree (after CHECK_STEPS steps), each λ alone, so a function that is not elementwise is
# drawn as it behaves.
HARNESS = """

_sweep_deadline = [0.0]


def _sweep_fit(Xt, yt, lr, lams, steps, use_step, keep=-1):
    W = numpy.zeros((len(lams), Xt.shape[1]))
    kept = W
    lam = numpy.array(lams, dtype=numpy.float64).reshape(-1, 1)
    for step in range(int(steps)):
        if time.monotonic() > _sweep_deadline[0]:
            raise TimeoutError("the sweep took too long")
        grad = (W @ Xt.T - yt) @ Xt / len(yt)
        if use_step:
            W = submission.weight_decay_step(W.copy(), grad, lr, lam)
        else:
            W = W - lr * numpy.asarray(submission.l2_gradient(grad, W.copy(), lam))
        W = numpy.array(W, dtype=numpy.float64)
        if W.shape != (len(lams), Xt.shape[1]):
            raise ValueError("not one weight vector per lambda")
        if step + 1 == keep:
            kept = W
    return W, kept


def _sweep_losses(W, X, y):
    with numpy.errstate(all="ignore"):
        return 0.5 * numpy.mean((W @ X.T - y) ** 2, axis=1)


def sweep(Xt, yt, Xv, yv, lr, lams, steps):
    _sweep_deadline[0] = time.monotonic() + {seconds}
    check = min(int(steps), {check_steps})
    for use_step in (True, False):
        try:
            W, early = _sweep_fit(Xt, yt, lr, lams, steps, use_step, keep=check)
            alone, _ = _sweep_fit(Xt, yt, lr, lams[-1:], check, use_step)
            if not numpy.allclose(early[-1], alone[0], rtol=1e-9, atol=1e-12, equal_nan=True):
                W = numpy.concatenate(
                    [_sweep_fit(Xt, yt, lr, lams[i : i + 1], steps, use_step)[0]
                     for i in range(len(lams))]
                )
            flag = numpy.full(len(lams), 1.0 if use_step else 0.0)
            return numpy.stack([_sweep_losses(W, Xt, yt), _sweep_losses(W, Xv, yv), flag])
        except Exception:
            if not use_step:
                raise
"""
_references: dict[str, dict[str, list]] = {}


def has_sweep(exercise: Exercise) -> bool:
    """Tell whether the exercise ships the sweep's data and asks for a function it trains with."""
    names = {f.name for f in exercise.functions}
    return FILE in exercise.data and bool(names & {STEP, GRADIENT})


def settings(exercise: Exercise) -> dict[str, Any]:
    """Read the shipped data: points, polynomial degree, learning rate, steps and λ grid."""
    return json.loads(exercise.data[FILE])


def features(x, degree: int) -> np.ndarray:
    """Return the polynomial features x**0 … x**degree, one row per point."""
    return np.asarray(x, dtype=np.float64)[:, None] ** np.arange(degree + 1)


def arrays(exercise: Exercise) -> tuple[np.ndarray, ...]:
    """Return the call's inputs: training and validation features and targets, lr, λs, steps."""
    s = settings(exercise)
    train, valid = s["train"], s["validation"]
    return (
        features(train["x"], s["degree"]),
        np.array(train["y"], dtype=np.float64),
        features(valid["x"], s["degree"]),
        np.array(valid["y"], dtype=np.float64),
        np.array(float(s["learning_rate"])),
        np.array(s["lams"], dtype=np.float64),
        np.array(int(s["steps"])),
    )


def sweep_calls(exercise: Exercise) -> list[Call]:
    """Return the harness call that trains once per λ and returns both losses."""
    return [Call("harness.sweep", arrays(exercise))]


def harness(seconds: float = SECONDS) -> str:
    """Return the sweep's harness source (to append to the demo's)."""
    return HARNESS.replace("{seconds}", repr(float(seconds))).replace(
        "{check_steps}", str(CHECK_STEPS)
    )


def assemble(exercise: Exercise, returned) -> dict[str, Any]:
    """Check the sandbox's losses and put them beside the reference's."""
    from server.grading.demo import _points

    lams = settings(exercise)["lams"]
    error = _failure(returned, len(lams))
    value = None if error else np.asarray(returned.value, dtype=np.float64)
    student = {"train": [None] * len(lams), "validation": [None] * len(lams)}
    if value is not None:
        student = {"train": _points(value[0]), "validation": _points(value[1])}
    return {
        "lams": lams,
        "steps": settings(exercise)["steps"],
        "degree": settings(exercise)["degree"],
        "trained_with": "" if value is None else (STEP if value[2][0] == 1.0 else GRADIENT),
        "student": student,
        "student_best": best(lams, student["validation"]),
        "reference": reference_sweep(exercise),
        "reference_best": best(lams, reference_sweep(exercise)["validation"]),
        "student_error": error,
    }


def best(lams: list[float], validation: list[float | None]) -> float | None:
    """Return the λ with the lowest validation loss (None when no loss is finite)."""
    scored = [(loss, lam) for lam, loss in zip(lams, validation, strict=True) if loss is not None]
    return min(scored)[1] if scored else None


def reference_sweep(exercise: Exercise) -> dict[str, list]:
    """Train with the trusted reference's step, one λ at a time; once per exercise version."""
    if exercise.content_hash not in _references:
        _references[exercise.content_hash] = _reference_losses(exercise)
    return _references[exercise.content_hash]


def _reference_losses(exercise: Exercise) -> dict[str, list]:
    from server.grading.demo import _points

    Xt, yt, Xv, yv, lr, lams, steps = arrays(exercise)
    names = {f.name for f in exercise.functions}
    train, valid = [], []
    for lam in lams:
        w = np.zeros(Xt.shape[1])
        for _ in range(int(steps)):
            grad = Xt.T @ (Xt @ w - yt) / len(yt)
            if STEP in names:
                w = exercise.call_reference(STEP, w, grad, lr, np.array(lam))
            else:
                w = w - lr * exercise.call_reference(GRADIENT, grad, w, np.array(lam))
        train.append(0.5 * np.mean((Xt @ w - yt) ** 2))
        valid.append(0.5 * np.mean((Xv @ w - yv) ** 2))
    return {"train": _points(np.array(train)), "validation": _points(np.array(valid))}


def _failure(returned, count: int) -> str:
    """Say in one line why the losses are unusable ("" when they are), showing no input."""
    if returned.outcome != "ok":
        return f"the sweep failed while training: {returned.outcome.replace('_', ' ')}"
    value = returned.value
    if value.dtype.kind not in NUMERIC_KINDS or value.shape != (3, count):
        return "the sweep did not return one loss per λ"
    return ""
