"""bench/regrade_bench.py runs end to end on a tiny course (its figures are not checked here)."""

from tests.test_benchmarks import run_bench


def test_the_regrade_bench_previews_applies_and_queues():
    out = run_bench("regrade_bench.py", "--students", "3")

    assert "3 students, one submission and one quiz attempt each" in out
    for label in ("exercise preview", "exercise apply", "exercise queue", "quiz apply"):
        assert label in out
    assert "3 recorded, graded again" in out and "3 queued for the workers" in out
