"""Grading results: what a student (and the gradebook) learns about a submission."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field


class Outcome(enum.StrEnum):
    """How one test of a submission ended."""

    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    MISSING = "missing"
    INVALID_OUTPUT = "invalid_output"
    MUTATED_INPUT = "mutated_input"


class Status(enum.StrEnum):
    """Whether the grader produced a result; a failing submission is still graded."""

    GRADED = "graded"
    ERROR = "error"


# What a student reads of the grading's duration, rounded up to a step: a submission can
# make its grading last as long as a hidden input says (time.sleep(w[0])), and a figure to
# the millisecond would carry ~11 bits of it back each time (see docs/sandbox.md).
DURATION_STEP_MS = 100


def coarse_ms(value: float) -> int:
    """Round a duration up to the next DURATION_STEP_MS (0 stays 0)."""
    return math.ceil(value / DURATION_STEP_MS) * DURATION_STEP_MS


def _points(value: float) -> float:
    """Round a sum of test points so 10 x 0.3 prints as 3.0."""
    return round(value, 6)


@dataclass(frozen=True)
class TestResult:
    """The result of one test case."""

    name: str
    outcome: Outcome
    score: float
    max_score: float
    visible: bool
    feedback: str = ""
    mistake: str | None = None  # name of the known mistake that matched, for instructors

    def to_dict(self) -> dict:
        """Serialise in SPEC's format."""
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "visible": self.visible,
            "feedback": self.feedback,
        }


@dataclass(frozen=True)
class PartResult:
    """The results of every test of one function."""

    name: str
    tests: tuple[TestResult, ...]

    @property
    def score(self) -> float:
        """Points earned on this function."""
        return math.fsum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        """Points available on this function."""
        return math.fsum(t.max_score for t in self.tests)

    def to_dict(self) -> dict:
        """Serialise in SPEC's format."""
        return {
            "name": self.name,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "tests": [t.to_dict() for t in self.tests],
        }


@dataclass(frozen=True)
class GradingResult:
    """The whole result of grading one submission."""

    exercise: str
    status: Status
    feedback: str
    parts: tuple[PartResult, ...] = ()
    duration_ms: float = 0.0
    max_points: float | None = field(default=None)  # used when parts are empty (errors)

    @property
    def score(self) -> float:
        """Points earned."""
        return math.fsum(p.score for p in self.parts)

    @property
    def max_score(self) -> float:
        """Points available."""
        if self.max_points is not None:
            return self.max_points
        return math.fsum(p.max_score for p in self.parts)

    @classmethod
    def grader_error(cls, exercise: str, message: str, max_score: float) -> GradingResult:
        """Build the result recorded when the grader itself failed (not the student)."""
        return cls(exercise, Status.ERROR, message, (), 0.0, max_score)

    def to_dict(self) -> dict:
        """Serialise in SPEC's "Grading result" format."""
        return {
            "exercise": self.exercise,
            "status": self.status.value,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "feedback": self.feedback,
            "parts": [p.to_dict() for p in self.parts],
            "duration_ms": coarse_ms(self.duration_ms),
        }
