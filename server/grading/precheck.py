"""Run visible tests only: the student's check before submitting (CodeRunner's precheck).

Nothing is stored and no attempt is spent. The visible tests' inputs and expected values
are shown to students anyway, so their full feedback is given; no hidden test runs. The
lambda sweep (on the exercise's public data) runs in the same sandbox run, after them.
"""

from __future__ import annotations

import time
from typing import Any

from server.grading import sweep
from server.grading.exercise import Exercise
from server.grading.grader import _load_failure, grade_test, run_calls, sandbox_limits
from server.grading.result import PartResult
from server.sandbox import Call


def check_visible(exercise: Exercise, code: str) -> dict[str, Any]:
    """Grade the code on the visible tests alone and draw its sweep; say why a file won't load."""
    start = time.perf_counter()
    visible = [t for t in exercise.tests if t.visible]
    calls = [Call(t.function, t.args) for t in visible]
    extra = sweep.sweep_calls(exercise) if sweep.has_sweep(exercise) else []
    first, results = run_calls(code, calls + extra, sandbox_limits(exercise), _harness(extra))
    if first.load_outcome != "ok":
        failed = _load_failure(exercise, first, start)
        return {"loaded": False, "feedback": failed.feedback, "parts": _visible_parts(failed)}
    swept = sweep.assemble(exercise, results[-1]) if extra else None
    results = results[: len(visible)]
    graded = [grade_test(test, result) for test, result in zip(visible, results, strict=True)]
    parts = [
        PartResult(
            f.name, tuple(r for t, r in zip(visible, graded, strict=True) if t.function == f.name)
        )
        for f in exercise.functions
    ]
    return {
        "loaded": True,
        "feedback": "",
        "parts": [p.to_dict() for p in parts if p.tests],
        "sweep": swept,
    }


def _harness(extra: list[Call]) -> str:
    """Return the sweep's harness when there is a sweep to run (it uses the demo's imports)."""
    from server.grading.demo import harness

    return harness() + sweep.harness() if extra else ""


def _visible_parts(result) -> list[dict[str, Any]]:
    """Keep a load failure's visible tests: a check never mentions hidden ones."""
    parts = [PartResult(p.name, tuple(t for t in p.tests if t.visible)) for p in result.parts]
    return [p.to_dict() for p in parts if p.tests]
