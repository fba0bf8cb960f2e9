"""bench/manual_grading_bench.py runs end to end on a tiny class (figures not checked)."""

import re

from tests.test_benchmarks import run_bench


def test_the_manual_grading_bench_runs_and_prints_every_step():
    out = run_bench("manual_grading_bench.py", "--students", "4")
    steps = re.findall(r"^  (\S.*?)\s+[\d.]+ ms$", out, re.MULTILINE)
    assert steps == [
        "queue (domain)",
        "grading page (GET)",
        "save 5 cells (audited, committed)",
        "gradebook",
        "gradebook, no manual subquery",
        "one counted score",
        "feedback zip",
    ], out
