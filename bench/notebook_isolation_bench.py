"""Benchmark what issue 17's test isolation and matplotlib cost in the notebook sandbox.

Prints, every layer on:
- a test cell in a fork of the notebook's state against the same check in a plain cell
  (a notebook of 20 each, median of --rounds gradings);
- a notebook that plots with matplotlib (imported in the run, not preloaded);
- the CPU of one fork+exit of a process like the zygote, without and with matplotlib
  preloaded (why it is not: every sandbox run pays that fork).

    .venv/bin/python bench/notebook_isolation_bench.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbformat.v4 import new_code_cell  # noqa: E402

from server.notebooks.grade import grade_notebooks  # noqa: E402
from server.sandbox import get_sandbox  # noqa: E402
from tests.notebooks.support import (  # noqa: E402
    autotest,
    cell_with,
    imported,
    released,
    solution,
    submit,
)

CELLS = 20
HALF = solution(
    "half", "def half(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION"
)
PLOT = (
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
    "plt.plot(np.arange(10) ** 2)\nplt.title('squares')\nplt.show()"
)
# One fork+exit of a process holding what the zygote holds, timed by its CPU (the
# parent's and the reaped child's): the zygote's own fork is what every run pays.
FORK_PROBE = """
import gc, os, sys, tempfile
os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp()
import numpy, numpy.linalg, json, re, decimal, fractions, statistics, ctypes
if sys.argv[1] == "matplotlib":
    import io
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.plot([1, 2]); plt.savefig(io.BytesIO(), format="png"); plt.close("all")
gc.collect(); gc.freeze()
def once():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
for _ in range(20):
    once()
before = os.times()
for _ in range(300):
    once()
after = os.times()
cpu = sum(after[:4]) - sum(before[:4])
rss = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmRSS"))
print(f"{cpu / 300 * 1000:.2f} {int(rss) // 1024}")
"""


def median_ms(exercise, submission, rounds: int) -> float:
    grade_notebooks(exercise, submission)  # warm
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        grade_notebooks(exercise, submission)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def notebook(root: Path, cells: list, answers: dict, extra: list[str] = ()):
    exercise = imported(root, {"hw": [HALF, *cells]})
    nb = released(exercise, "hw")
    for grade_id, source in answers.items():
        cell_with(nb, grade_id).source = source
    nb.cells += [new_code_cell(source) for source in extra]
    return exercise, submit(root, {"hw": nb})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    right = {"half": "def half(x):\n    return x / 2"}
    check = "assert half(4) == 2"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tests = [autotest(f"t{i}", check) for i in range(CELLS)]
        forked = median_ms(*notebook(root / "a", tests, right), args.rounds)
        plain = median_ms(*notebook(root / "b", [], right, [check] * CELLS), args.rounds)
        plotting = median_ms(*notebook(root / "c", [], {"half": PLOT}), max(3, args.rounds // 4))
        bare = median_ms(*notebook(root / "d", [], right), args.rounds)
    print(
        f"sandbox: {get_sandbox().isolation}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}"
    )
    per_test = (forked - plain) / CELLS
    print(
        f"{CELLS} test cells (each in a fork): {forked:.1f} ms; {CELLS} plain cells: {plain:.1f} ms"
    )
    print(f"  -> {per_test:.2f} ms more per test cell")
    print(f"notebook plotting with matplotlib: {plotting:.0f} ms (the same without: {bare:.1f} ms)")
    for what in ("numpy", "matplotlib"):
        done = subprocess.run(
            [sys.executable, "-c", FORK_PROBE, what], capture_output=True, text=True, check=True
        )
        cpu, rss = done.stdout.split()
        print(f"fork+exit of a zygote-like process with {what:<10}: {cpu} ms CPU, RSS {rss} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
