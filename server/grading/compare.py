"""Judge one output against the expected one: pure functions on arrays, no student code."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from server.grading.result import Outcome

NUMERIC_KINDS = "iuf"  # bool, complex, strings, objects and datetimes are not answers here


@dataclass(frozen=True)
class Tolerance:
    """How close an output must be to the expected one (as in np.allclose)."""

    rtol: float
    atol: float


@dataclass(frozen=True)
class Verdict:
    """What the trusted side concluded about one output."""

    outcome: Outcome
    reason: str = ""
    changed: tuple[int, ...] = ()  # positions of modified arguments


PASSED = Verdict(Outcome.PASSED)  # immutable, so one serves every passing output


def is_numeric(value: object) -> bool:
    """Tell whether value is an ndarray of integers or reals."""
    return isinstance(value, np.ndarray) and value.dtype.kind in NUMERIC_KINDS


def value_mismatch(value: np.ndarray, expected: np.ndarray, tol: Tolerance) -> str:
    """Say how value differs from expected, or return "" when it is close enough."""
    if value.shape != expected.shape:
        return f"shape {value.shape} instead of {expected.shape}"
    if _close(value, expected, tol):
        return ""
    if not np.isfinite(value[np.isfinite(expected)]).all():
        return "NaN or infinite values where finite numbers were expected"
    return "values differ from the expected ones"


def allclose(actual: np.ndarray, expected: np.ndarray, tol: Tolerance) -> bool:
    """Compute np.allclose(actual, expected, rtol, atol, equal_nan=True), about 5x faster.

    |actual - expected| <= atol + rtol * |expected| elementwise; infinities must be equal,
    NaN equals NaN. Both are compared as float64, so int and float32 outputs count alike.
    """
    with np.errstate(all="ignore"):  # a student's 1e308 may overflow: that is "not close"
        a = np.asarray(actual, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
        diff = np.abs(a - e)
        ok = (diff <= tol.atol + tol.rtol * np.abs(e)) & np.isfinite(diff)
        if ok.all():
            return True
        ok |= (a == e) | (np.isnan(a) & np.isnan(e))
        return bool(ok.all())


def same_array(a: np.ndarray, b: np.ndarray) -> bool:
    """Tell whether two arrays are identical: dtype, shape and every element (NaN == NaN)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.tobytes() == b.tobytes():  # the usual case, and cheap for test-sized arrays
        return True
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def mutated_args(before: tuple[np.ndarray, ...], after: tuple[np.ndarray, ...] | None) -> list[int]:
    """Return the positions of the arguments that the call modified."""
    if after is None:
        return []
    if len(after) != len(before):
        return list(range(len(before)))
    # An argument that came back from the sandbox byte for byte is often the array sent itself.
    pairs = enumerate(zip(before, after, strict=True))
    return [i for i, (b, a) in pairs if a is not b and not same_array(b, a)]


def judge(
    value: object,
    args: tuple[np.ndarray, ...],
    args_after: tuple[np.ndarray, ...] | None,
    expected: np.ndarray,
    tol: Tolerance,
) -> Verdict:
    """Judge a call that returned: numeric, inputs untouched, then close to expected."""
    if not is_numeric(value):
        kind = type(value).__name__ if not isinstance(value, np.ndarray) else value.dtype
        return Verdict(Outcome.INVALID_OUTPUT, f"returned {kind}, not an array of numbers")
    changed = mutated_args(args, args_after)
    if changed:
        return Verdict(Outcome.MUTATED_INPUT, f"modified argument(s) {changed}", tuple(changed))
    reason = value_mismatch(value, expected, tol)
    return Verdict(Outcome.WRONG_ANSWER, reason) if reason else PASSED


def same_output(value: np.ndarray, other: np.ndarray, tol: Tolerance) -> bool:
    """Tell whether two outputs agree within tolerance (used to spot known mistakes)."""
    return value.shape == other.shape and _close(value, other, tol)


def _close(value: np.ndarray, other: np.ndarray, tol: Tolerance) -> bool:
    """Compute allclose for two arrays of one shape, deciding the usual cases in Python."""
    # Most right answers are the expected bytes exactly, and equal values are close.
    if value.dtype == other.dtype and value.tobytes() == other.tobytes():
        return True
    # Most wrong answers, and known mistakes, differ already in the first element.
    if value.size and not _scalar_close(float(value.flat[0]), float(other.flat[0]), tol):
        return False
    return allclose(value, other, tol)


def _scalar_close(a: float, e: float, tol: Tolerance) -> bool:
    """Apply allclose's rule to one pair of numbers."""
    if a == e or (math.isnan(a) and math.isnan(e)):
        return True
    diff = abs(a - e)
    return math.isfinite(diff) and diff <= tol.atol + tol.rtol * abs(e)
