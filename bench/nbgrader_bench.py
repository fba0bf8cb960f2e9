"""Benchmark: Rubric and `nbgrader autograde` on the same nbgrader submissions, side by side.

Imports ../shared/nbgrader-example/source/ps1, grades each student's submission with
Rubric (the real sandbox, every isolation layer on; warm, the median of --rounds) and
with nbgrader 0.9.6's own `nbgrader autograde --student S` (its own environment,
tests/notebooks/nbgrader_env.py; one run each, a kernel per notebook), checks that the
scores agree, and prints both times per submission and their ratio.

    .venv/bin/python bench/nbgrader_bench.py [--rounds 50] [--check]

--check exits 1 when Rubric is not at least 100 times faster on every submission.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.notebooks.exercise import load_notebook_exercise  # noqa: E402
from server.notebooks.grade import grade_notebooks, read_submission  # noqa: E402
from server.notebooks.importer import import_assignment  # noqa: E402
from server.sandbox import get_sandbox  # noqa: E402
from server.sandbox.model import SKIP_ENV  # noqa: E402
from tests.notebooks.nbgrader_env import EXAMPLE, STUDENTS, autograde  # noqa: E402

TARGET_RATIO = 100.0


def scores(result) -> dict:
    return {p.name: {c.cell.grade_id: c.score for c in p.cells} for p in result.parts}


def rubric_times(exercise, rounds: int) -> tuple[dict, dict]:
    """Median milliseconds per submission, and the scores, with Rubric."""
    times, graded = {}, {}
    for student in STUDENTS:
        submission = read_submission(EXAMPLE / "submitted" / student / "ps1")
        graded[student] = scores(grade_notebooks(exercise, submission))  # and warm up
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            grade_notebooks(exercise, submission)
            samples.append((time.perf_counter() - start) * 1000)
        times[student] = statistics.median(samples)
    return times, graded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if os.environ.get(SKIP_ENV):
        sys.exit(f"{SKIP_ENV} is set: this benchmark runs with every isolation layer on")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        exercise = load_notebook_exercise(import_assignment(EXAMPLE / "source" / "ps1", root))
        ours, our_scores = rubric_times(exercise, args.rounds)
        theirs = autograde(EXAMPLE / "source" / "ps1", EXAMPLE / "submitted", root / "c", STUDENTS)
    print(f"sandbox: {get_sandbox().isolation}; {os.cpu_count()} CPUs")
    print(f"{'submission':<12} {'Rubric (median)':>16} {'nbgrader autograde':>19} {'ratio':>8}")
    ok = True
    for student in STUDENTS:
        seconds = theirs["seconds"][student]
        ratio = seconds * 1000 / ours[student]
        same = our_scores[student] == theirs["scores"][student]
        ok &= ratio >= TARGET_RATIO and same
        print(
            f"{student:<12} {ours[student]:>13.1f} ms {seconds:>17.2f} s {ratio:>7.0f}x"
            f"  scores {'equal' if same else 'DIFFER'}"
        )
    print(f"target: Rubric >= {TARGET_RATIO:g}x faster per submission, same scores")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
