"""nbgrader 0.9.6 itself, in its own virtual environment, to compare Rubric with.

nbgrader brings Jupyter server, JupyterLab and a kernel, which Rubric does not need, so
it lives in .venv/nbgrader-0.9.6 (made once, then reused), never in Rubric's own.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NBGRADER = "nbgrader==0.9.6"
VENV = ROOT / ".venv" / "nbgrader-0.9.6"
SCRIPT = Path(__file__).with_name("nbgrader_autograde.py")
# nbgrader's own example assignment (ps1 and its students' submissions): the project's
# ../shared copy where there is one, else the same files kept beside these tests (with
# nbgrader's licence), so that a clone anywhere runs them.
SHARED_EXAMPLE = ROOT.parent / "shared" / "nbgrader-example"
EXAMPLE = (
    SHARED_EXAMPLE if SHARED_EXAMPLE.is_dir() else Path(__file__).with_name("nbgrader-example")
)
# Every student who submitted ps1, in name order.
STUDENTS = sorted(path.name for path in (EXAMPLE / "submitted").iterdir() if path.is_dir())


class NbgraderMissing(RuntimeError):
    """nbgrader could not be installed (no package index reachable)."""


def nbgrader_python() -> Path:
    """The Python of the nbgrader environment, made on first use (under a lock)."""
    python = VENV / "bin" / "python"
    ready = VENV / ".installed"
    VENV.parent.mkdir(exist_ok=True)
    with open(VENV.parent / "nbgrader-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _make(python)
            ready.write_text(NBGRADER + "\n")
    return python


def _make(python: Path) -> None:
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", NBGRADER],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if done.returncode:
            raise NbgraderMissing(f"{' '.join(step[:4])}: {done.stderr[-2000:]}")


def autograde(source: Path, submitted: Path, work: Path, students: list[str]) -> dict:
    """Run nbgrader generate_assignment and autograde; return its scores and timings."""
    command = [str(nbgrader_python()), str(SCRIPT), str(source), str(submitted), str(work)]
    done = subprocess.run(
        command + students, capture_output=True, text=True, timeout=900, cwd=work.parent
    )
    if done.returncode:
        raise RuntimeError(f"nbgrader failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])
