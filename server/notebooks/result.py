"""A notebook submission's result, in SPEC's grading-result format.

One part per notebook, one test per graded cell named by its grade_id. A cell that
waits for a person has outcome needs_manual_grading and score None; `score` sums the
automatic scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from server.grading.result import Status, coarse_ms
from server.notebooks.exercise import GradedCell

PASSED = "passed"
WRONG_ANSWER = "wrong_answer"
RUNTIME_ERROR = "runtime_error"
MISSING = "missing"
NEEDS_MANUAL = "needs_manual_grading"


def _points(value: float) -> float:
    return round(value, 6)


@dataclass(frozen=True)
class CellResult:
    """The result of one graded cell."""

    cell: GradedCell
    outcome: str
    score: float | None
    feedback: str = ""
    figures: tuple[str, ...] = ()  # base64 PNGs the cell showed (matplotlib), in order

    def to_dict(self) -> dict:
        """SPEC's test entry; `figures_png` only for a cell that showed figures."""
        entry = {
            "name": self.cell.grade_id,
            "outcome": self.outcome,
            "score": None if self.score is None else _points(self.score),
            "max_score": _points(self.cell.points),
            "visible": not self.cell.hidden,
            "feedback": self.feedback,
        }
        if self.figures:
            entry["figures_png"] = list(self.figures)
        return entry


@dataclass(frozen=True)
class NotebookPart:
    """The results of the graded cells of one notebook."""

    name: str
    cells: tuple[CellResult, ...]

    @property
    def score(self) -> float:
        return math.fsum(c.score for c in self.cells if c.score is not None)

    @property
    def max_score(self) -> float:
        return math.fsum(c.cell.points for c in self.cells)

    def to_dict(self) -> dict:
        """SPEC's part entry."""
        return {
            "name": self.name,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "tests": [c.to_dict() for c in self.cells],
        }


@dataclass(frozen=True)
class NotebookResult:
    """The whole result of grading one notebook submission."""

    exercise: str
    parts: tuple[NotebookPart, ...]
    duration_ms: float = 0.0

    @property
    def score(self) -> float:
        return math.fsum(p.score for p in self.parts)

    @property
    def max_score(self) -> float:
        return math.fsum(p.max_score for p in self.parts)

    @property
    def waiting(self) -> int:
        """Graded cells that wait for a person."""
        return sum(c.score is None for p in self.parts for c in p.cells)

    @property
    def feedback(self) -> str:
        line = f"automatic score {self.score:g} of {self.max_score:g}"
        return line + (f"; {self.waiting} answers wait for a grader" if self.waiting else "")

    def to_dict(self) -> dict:
        """SPEC's "Grading result" format."""
        return {
            "exercise": self.exercise,
            "status": Status.GRADED.value,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "feedback": self.feedback,
            "parts": [p.to_dict() for p in self.parts],
            "duration_ms": coarse_ms(self.duration_ms),
        }

    def render(self) -> str:
        """For a terminal, as `rubric grade` prints a code exercise."""
        lines = [
            f"{self.exercise}: {self.score:g}/{self.max_score:g}  (graded,"
            f" {self.duration_ms:.0f} ms)",
            self.feedback,
        ]
        for part in self.parts:
            lines.append(f"\n{part.name}: {part.score:g}/{part.max_score:g}")
            for c in part.cells:
                mark = {PASSED: "ok  ", NEEDS_MANUAL: "WAIT"}.get(c.outcome, "FAIL")
                score = "-" if c.score is None else f"{c.score:g}"
                lines.append(f"  {mark} {c.cell.grade_id} {c.outcome} {score}/{c.cell.points:g}")
                lines += [f"       {line}" for line in c.feedback.splitlines()]
        return "\n".join(lines)
