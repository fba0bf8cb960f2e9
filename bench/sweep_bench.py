"""Benchmark the lambda sweep: grading with it in the path and without, and its own cost.

Grades the reference of the L2 exercise through the real sandbox, interleaved round by
round: the tests alone (grade_submission); tests plus the weight-decay demo
(grade_with_demo, what the grading runner does now); and tests plus demo plus sweep in
one sandbox run (how the runner graded before the sweep left the grading path). Prints
each median and p90. Also the sweep alone in its own sandbox run (what the first view of
a result, or "Run visible tests", adds) and the reference's trusted sweep, computed once
per exercise version.

    .venv/bin/python bench/sweep_bench.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.grading import sweep  # noqa: E402
from server.grading.demo import demo_calls, grade_with_demo, harness, sweep_of  # noqa: E402  # noqa: E402
from server.grading.exercise import load_exercise  # noqa: E402
from server.grading.grader import grade_submission, grade_with_extras  # noqa: E402


def timed(functions: list, rounds: int) -> list[list[float]]:
    """Call each function once per round, in turn; return each one's wall times in ms.

    Interleaved, so a burst of load from elsewhere on the machine hits every variant alike.
    """
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for function, spent in zip(functions, times, strict=True):
            start = time.perf_counter()
            function()
            spent.append((time.perf_counter() - start) * 1000)
    return times


def grade_with_sweep_in_path(exercise, code: str) -> None:
    """Grade as the runner did before: tests, demo and sweep in one sandbox run."""
    calls = demo_calls() + sweep.sweep_calls(exercise)
    graded, returned = grade_with_extras(exercise, code, calls, harness() + sweep.harness())
    sweep.assemble(exercise, returned[-1])


def describe(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * len(ordered)) - 1)]
    return f"{label}: median {statistics.median(times):.1f} ms, p90 {p90:.1f} ms"


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    exercise = load_exercise(ROOT / "exercises" / "l2-regularization")
    code = exercise.reference_source
    start = time.perf_counter()
    sweep.reference_sweep(exercise)
    reference_ms = (time.perf_counter() - start) * 1000
    settings = sweep.settings(exercise)
    grade_with_demo(exercise, code)  # warm up the zygote
    tests, now, before, alone = timed(
        [
            lambda: grade_submission(exercise, code),
            lambda: grade_with_demo(exercise, code),
            lambda: grade_with_sweep_in_path(exercise, code),
            lambda: sweep_of(exercise, code),
        ],
        args.rounds,
    )
    print(
        f"sweep: {len(settings['lams'])} λ × {settings['steps']} steps, degree "
        f"{settings['degree']}, {len(settings['train']['x'])} training points"
    )
    print(describe("grading, tests only", tests))
    print(describe("grading + demo, sweep on first view (the runner now)", now))
    print(describe("grading + demo + sweep in the grading path (before)", before))
    print(describe("sweep alone in its own sandbox run (first view of a result)", alone))
    print(f"reference sweep, trusted, once per exercise version: {reference_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
