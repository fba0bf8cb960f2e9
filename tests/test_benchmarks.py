"""The bench/ scripts run end to end on a tiny load (their figures are not checked here)."""

import re
import subprocess
import sys

from server.config import PROJECT_ROOT


def run_bench(script: str, *args: str) -> str:
    """Run a bench script; return its output, failing with it on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_lti_launch_bench_launches_without_errors_and_fetches_the_key_set_once_per_process():
    out = run_bench(
        "lti_launch_bench.py", "--seconds", "0.5", "--clients", "2", "--workers", "2",
        "--profile", "3",
    )  # fmt: skip
    phases = re.findall(r"^  (\S.*?)\s+[\d.]+/s .* n=(\d+)\s+errors (\d+)$", out, re.MULTILINE)
    assert [name for name, _, _ in phases] == [
        "full launch, returning user",
        "full launch, first (new account)",
        "page view GET /courses/demo",
        "API quiz attempt POST",
    ], out
    assert all(int(count) > 0 and errors == "0" for _, count, errors in phases), out
    # Cached by the tool: two workers and the bench's in-process launches, not every launch.
    fetches = int(re.search(r"key set fetched (\d+) times", out).group(1))
    assert 1 <= fetches <= 3, out
    statements = re.search(r"launch (\d+) statements, (\d+) commits$", out, re.MULTILINE)
    assert int(statements.group(1)) > 0 and int(statements.group(2)) > 0, out
