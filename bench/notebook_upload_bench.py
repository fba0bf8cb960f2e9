"""Benchmark: what a notebook upload costs before it is stored, and its grading.

Checks handed-in notebooks as the web form and the API do (server/notebooks/submission:
JSON, nbformat validation, this assignment's cells, outputs stripped, size cap) for
nbgrader's example submission and for the same notebook carrying 200,000 outputs
(12 MB), then grades the stored example submission in the sandbox (warm). Each figure
is the median of --rounds.

    .venv/bin/python bench/notebook_upload_bench.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.notebooks.importer import import_assignment  # noqa: E402
from server.notebooks.submission import check_notebooks, grade_stored  # noqa: E402
from server.notebooks.sync import load_stored, read_notebook_bundle  # noqa: E402
from server.sandbox import get_sandbox  # noqa: E402

EXAMPLE = ROOT / "tests" / "notebooks" / "nbgrader-example"
HANDED_IN = EXAMPLE / "submitted" / "hacker" / "ps1"
OUTPUTS = 200_000


def median_ms(action, rounds: int) -> float:
    """The median wall time of action(), in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        folder = import_assignment(EXAMPLE / "source" / "ps1", Path(tmp))
        exercise = load_stored(read_notebook_bundle(folder), "ps1")
    # As a request brings them: each notebook's JSON text (the form's files, the API's body).
    plain = {p.name: json.loads(p.read_text()) for p in sorted(HANDED_IN.glob("*.ipynb"))}
    heavy = copy.deepcopy(plain)
    code = next(c for c in heavy["problem1.ipynb"]["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x\n"}] * OUTPUTS
    plain_text = {name: json.dumps(nb).encode() for name, nb in plain.items()}
    heavy_text = {name: json.dumps(nb).encode() for name, nb in heavy.items()}
    megabytes = sum(map(len, heavy_text.values())) / 2**20
    stored = check_notebooks(exercise, plain_text).stored()
    get_sandbox()  # warm: the fork server starts once per process
    grade_stored(exercise, stored)
    figures = {
        "check the example's 2 notebooks": median_ms(
            lambda: check_notebooks(exercise, plain_text), rounds
        ),
        f"check them with {OUTPUTS:,} outputs ({megabytes:.0f} MB)": median_ms(
            lambda: check_notebooks(exercise, heavy_text), max(3, rounds // 4)
        ),
        "grade the stored submission (sandbox)": median_ms(
            lambda: grade_stored(exercise, stored), rounds
        ),
    }
    for label, ms in figures.items():
        print(f"{label:<48} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
