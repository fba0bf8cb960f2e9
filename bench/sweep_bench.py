"""Benchmark the lambda sweep: what it adds to a graded submission, and its own cost.

Grades the reference of the L2 exercise three ways through the real sandbox: the tests
alone (grade_submission), tests plus the weight-decay demo, and tests plus demo plus
sweep (grade_with_demo, what the grading runner does), and prints each median and p90.
Also the sweep alone in its own sandbox run (what "Run visible tests" adds) and the
reference's trusted sweep, computed once per exercise version.

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
from server.grading.demo import grade_with_demo, sweep_of  # noqa: E402
from server.grading.exercise import load_exercise  # noqa: E402
from server.grading.grader import grade_submission  # noqa: E402


def timed(function, rounds: int) -> list[float]:
    """Call function rounds times; return each wall time in ms."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


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
    without_sweep = sweep.has_sweep
    grade_with_demo(exercise, code)  # warm up the zygote
    tests = timed(lambda: grade_submission(exercise, code), args.rounds)
    sweep.has_sweep = lambda _exercise: False  # the runner's grading as it was before
    demo = timed(lambda: grade_with_demo(exercise, code), args.rounds)
    sweep.has_sweep = without_sweep
    full = timed(lambda: grade_with_demo(exercise, code), args.rounds)
    alone = timed(lambda: sweep_of(exercise, code), args.rounds)
    print(
        f"sweep: {len(settings['lams'])} λ × {settings['steps']} steps, degree "
        f"{settings['degree']}, {len(settings['train']['x'])} training points"
    )
    print(describe("grading, tests only", tests))
    print(describe("grading + weight-decay demo", demo))
    print(describe("grading + demo + lambda sweep (the runner)", full))
    print(describe("sweep alone in its own sandbox run (a visible-tests check)", alone))
    print(f"reference sweep, trusted, once per exercise version: {reference_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
