"""Run by nbgrader's own Python: grade an assignment with `nbgrader autograde`.

Usage: python nbgrader_autograde.py SOURCE_DIR SUBMITTED_DIR WORK_DIR STUDENT...
Makes an nbgrader course in WORK_DIR, runs `nbgrader generate_assignment` and then
`nbgrader autograde --student S` once per student (timed), and prints one JSON line:
{"scores": {student: {notebook: {grade_id: auto_score}}}, "seconds": {student: s},
 "release": WORK_DIR/release/NAME}.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nbgrader.api import Gradebook

source, submitted, work, *students = sys.argv[1:]
work = Path(work)
name = Path(source).name
nbgrader = str(Path(sys.executable).with_name("nbgrader"))
shutil.rmtree(work, ignore_errors=True)
# Plain copies: the shared example is read-only, and nbgrader writes beside its files.
shutil.copytree(source, work / "source" / name, copy_function=shutil.copyfile)
for student in students:
    shutil.copytree(
        Path(submitted) / student / name,
        work / "submitted" / student / name,
        copy_function=shutil.copyfile,
    )
(work / "nbgrader_config.py").write_text(
    "c = get_config()\nc.CourseDirectory.course_id = 'example'\n"
)


# nbgrader runs its own `alembic` and the kernel by name: its bin/ goes first on PATH.
ENV = dict(os.environ, PATH=f"{Path(nbgrader).parent}:{os.environ.get('PATH', '')}")


def run(*args):
    done = subprocess.run(
        [nbgrader, *args], cwd=work, env=ENV, capture_output=True, text=True, timeout=600
    )
    if done.returncode:
        sys.exit(f"nbgrader {' '.join(args)} failed:\n{done.stderr[-4000:]}")


run("generate_assignment", name, "--force")
seconds = {}
for student in students:
    start = time.perf_counter()
    run("autograde", name, "--student", student, "--force")
    seconds[student] = time.perf_counter() - start
scores = {}
with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gradebook:
    for student in students:
        submission = gradebook.find_submission(name, student)
        scores[student] = {
            nb.name: {g.name: g.auto_score for g in nb.grades} for nb in submission.notebooks
        }
print(json.dumps({"scores": scores, "seconds": seconds, "release": str(work / "release" / name)}))
