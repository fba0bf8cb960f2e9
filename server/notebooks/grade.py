"""Grade a notebook submission in the sandbox and score each graded cell as nbgrader does.

The cells run in their order in one sandboxed interpreter (server/sandbox/notebook.py):
the student's code cells as submitted, and at each test cell's place the test from the
source, in a fork of the notebook's state (server/notebooks/trust.py). Scores follow
nbgrader's utils.determine_grade (see `score_test`), with the test's expected-value
checks made again on the trusted side.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nbformat import NotebookNode

from server.notebooks import nbgrader
from server.notebooks.exercise import (
    TASK,
    TEST,
    GradedCell,
    NotebookError,
    NotebookExercise,
    NotebookSpec,
    read_notebook,
)
from server.notebooks.result import (
    MISSING,
    NEEDS_MANUAL,
    PASSED,
    RUNTIME_ERROR,
    WRONG_ANSWER,
    CellResult,
    NotebookPart,
    NotebookResult,
)
from server.notebooks.trust import expected_checks, keeps_state, verify
from server.sandbox import Call, Limits, get_sandbox

# The harness lives in the sandbox package (server/sandbox/notebook.py), loaded by the
# zygote before any fork: a run's harness only imports its two entry points.
HARNESS = "from rubric_sandbox.notebook import cell, collect, put_file\n"
MAX_RESTARTS = 2  # after a cell kills the interpreter, replay the others this often
MIN_RUN_SECONDS = 0.1  # a replay is not started with less time than this left
ANSWER_FIELDS = {"status": str, "result": (str, type(None)), "error": str}
PNG_BASE64 = "iVBORw0KGgo"  # the PNG signature, base64-encoded
MAX_FIGURES = 8
COLLECT = Call("harness.collect", ())  # the answers of the tests that ran in a fork


@dataclass(frozen=True)
class Step:
    """One cell to run: the student's code, or the instructor's test of a graded cell."""

    source: str
    test: GradedCell | None = None
    graded: str | None = None  # the grade_id of a manually graded code cell


@dataclass(frozen=True)
class Answer:
    """What running one cell gave, as the trusted side read it."""

    status: str  # ok, error, timeout, memory_limit, crashed
    result: str | None = None
    error: str = ""
    stdout: str = ""
    stderr: str = ""
    checks: tuple = ()  # [number, data] of each expected-value check that ran
    figures: tuple[str, ...] = ()  # base64 PNGs the cell showed


def read_submission(path: Path) -> dict[str, Path]:
    """The submitted notebooks by name: a folder of them, or one .ipynb."""
    path = Path(path)
    if path.is_dir():
        return {p.stem: p for p in sorted(path.glob("*.ipynb"))}
    if path.suffix == ".ipynb" and path.is_file():
        return {path.stem: path}
    raise NotebookError(f"{path}: not a folder of notebooks nor an .ipynb file")


def grade_notebooks(
    exercise: NotebookExercise, submission: Mapping[str, Path | NotebookNode]
) -> NotebookResult:
    """Grade every notebook of the exercise from the submitted files (or parsed notebooks)."""
    start = time.monotonic()
    # Each notebook runs in an interpreter of its own, as in a kernel of its own in nbgrader.
    parts = tuple(_grade_one(exercise, spec, submission) for spec in exercise.notebooks)
    duration = (time.monotonic() - start) * 1000
    return NotebookResult(exercise.slug, parts, duration)


def _grade_one(exercise: NotebookExercise, spec: NotebookSpec, submission: Mapping) -> NotebookPart:
    item = submission.get(spec.name)
    if item is None:
        return _absent(spec, f"{spec.name}.ipynb was not submitted")
    if isinstance(item, NotebookNode):
        return grade_notebook(exercise, spec, item)
    try:
        notebook = read_notebook(item)
    except NotebookError as exc:
        return _absent(spec, str(exc).replace(str(item), f"{spec.name}.ipynb"))
    return grade_notebook(exercise, spec, notebook)


def _absent(spec: NotebookSpec, why: str) -> NotebookPart:
    """A notebook that cannot be graded scores 0 on every cell."""
    return NotebookPart(spec.name, tuple(CellResult(c, MISSING, 0.0, why) for c in spec.cells))


def grade_notebook(
    exercise: NotebookExercise, spec: NotebookSpec, nb: NotebookNode
) -> NotebookPart:
    """Run one submitted notebook and score its graded cells."""
    steps, answered = plan(spec, nb)
    answers = run_steps(steps, exercise)
    by_test = {s.test.grade_id: a for s, a in zip(steps, answers, strict=True) if s.test}
    shown = {s.graded: a.figures for s, a in zip(steps, answers, strict=True) if s.graded}
    results = []
    for cell in spec.cells:
        if cell.kind == TEST:
            results.append(score_test(cell, by_test[cell.grade_id]))
        else:
            result = score_manual(cell, answered.get(cell.grade_id))
            results.append(dataclasses.replace(result, figures=shown.get(cell.grade_id, ())))
    return NotebookPart(spec.name, tuple(results))


def plan(spec: NotebookSpec, nb: NotebookNode) -> tuple[list[Step], dict[str, NotebookNode]]:
    """The cells to run in order, and the submitted cells of the other graded cells.

    A test cell always runs the source's code: edited, emptied or deleted by the
    student (a deleted one where nbgrader's add_missing_cells would put it back).
    Later copies of a grade_id lose it, as nbgrader's DeduplicateIds does.
    """
    steps: list[Step] = []
    answered: dict[str, NotebookNode] = {}
    source_ids = [nbgrader.meta(c).get("grade_id") for c in spec.graded.cells]
    # Only tests absent from the submission are put back; the others run where they are.
    placed = {nbgrader.meta(c).get("grade_id") for c in nb.cells} & set(source_ids)
    seen: set[str] = set()
    for cell in nb.cells:
        grade_id = nbgrader.meta(cell).get("grade_id")
        known = grade_id is not None and grade_id in source_ids and grade_id not in seen
        if known:
            seen.add(grade_id)
            steps += _missing_before(spec, grade_id, placed)
        graded = spec.cell(grade_id) if known else None
        if graded is not None and graded.kind == TEST:
            steps.append(Step(graded.source, graded))
            continue
        if known and _locked_in_source(spec, grade_id):
            steps += _locked(spec, grade_id)
            continue
        if graded is not None:
            answered[grade_id] = cell
        if cell.cell_type == "code" and (graded is None or graded.cell_type == "code"):
            steps.append(Step(cell.source, graded=graded.grade_id if graded else None))
    steps += _missing_before(spec, None, placed)
    return steps, answered


def _source_cell(spec: NotebookSpec, grade_id: str) -> NotebookNode:
    return next(c for c in spec.graded.cells if nbgrader.meta(c).get("grade_id") == grade_id)


def _locked_in_source(spec: NotebookSpec, grade_id: str) -> bool:
    return nbgrader.is_locked(_source_cell(spec, grade_id))


def _locked(spec: NotebookSpec, grade_id: str) -> list[Step]:
    """A read-only cell runs as the source has it (nbgrader's OverwriteCells)."""
    cell = _source_cell(spec, grade_id)
    return [Step(cell.source)] if cell.cell_type == "code" else []


def _missing_before(spec: NotebookSpec, grade_id: str | None, placed: set[str]) -> list[Step]:
    """Deleted test cells that come before grade_id in the source (all left, for None)."""
    steps = []
    for cell in spec.graded.cells:
        other = nbgrader.meta(cell).get("grade_id")
        if other == grade_id and grade_id is not None:
            break
        test = spec.cell(other) if other else None
        if test is not None and test.kind == TEST and other not in placed:
            placed.add(other)
            steps.append(Step(test.source, test))
    return steps


def run_steps(steps: list[Step], exercise: NotebookExercise) -> list[Answer]:
    """Run the steps in one sandbox; after a cell kills it, replay the rest without it.

    A test's answer comes with the last call (collect) when it ran in a fork while the
    notebook went on; a replay runs every step left alive and keeps the answers missing.
    """
    answers: dict[int, Answer] = {}
    dead: set[int] = set()
    # One budget for the notebook: a cell that dodges its own time limit (SIGALRM
    # ignored) costs what is left of it, not a fresh wall_seconds per replay.
    deadline = time.monotonic() + exercise.limits.wall_seconds
    for _ in range(1 + MAX_RESTARTS):
        left = deadline - time.monotonic()
        if len(answers) == len(steps) or left < MIN_RUN_SECONDS:
            break
        order = [i for i in range(len(steps)) if i not in dead]
        calls = [*_file_calls(exercise), *(_call(steps, i, exercise) for i in order), COLLECT]
        run = get_sandbox().run("", calls, _limits(exercise, left), HARNESS)
        if run.load_outcome != "ok":
            raise NotebookError(f"the notebook harness did not load: {run.load_error}")
        placed, results = run.results[: len(exercise.files)], run.results[len(exercise.files) :]
        if any(r.outcome != "ok" for r in placed):
            raise NotebookError("the assignment's files could not be placed in the sandbox")
        _record(order, results, answers, dead)
    lost = Answer("crashed", error="not run: the notebook's sandbox time was used up")
    return [answers.get(i, lost) for i in range(len(steps))]


def _record(order: list[int], results: list, answers: dict[int, Answer], dead: set[int]) -> None:
    """Keep the answers of one sandbox run that are still missing; mark a killing cell dead."""
    for i, result in zip(order, results, strict=False):
        if result.outcome != "ok":
            dead.add(i)
            answers.setdefault(i, Answer("crashed", error=result.error or result.outcome))
            return
        data = _json(result.value)
        if i not in answers and not (isinstance(data, dict) and data.get("status") == "pending"):
            answers[i] = parse_answer(data)
    collected = results[len(order)] if len(results) > len(order) else None
    if collected is None or collected.outcome != "ok":
        return
    data = _json(collected.value)
    entries = data.get("answers") if isinstance(data, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, list) and len(entry) == 2 and type(entry[0]) is int:
            answers.setdefault(entry[0], parse_answer(entry[1]))


def _json(value: np.ndarray | None) -> object:
    """The harness's JSON, or None when it is not JSON."""
    try:
        return json.loads(value.tobytes().decode("utf-8"))
    except Exception:
        return None


def _file_calls(exercise: NotebookExercise) -> list[Call]:
    """Put the assignment's files (data, images) in the notebook's folder first."""
    return [
        Call("harness.put_file", (_bytes(name.encode("utf-8")), _bytes(data)))
        for name, data in exercise.files
    ]


def _bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, np.uint8)


def _call(steps: list[Step], index: int, exercise: NotebookExercise) -> Call:
    """The harness call of steps[index]: a test runs in a fork, kept in place if needed."""
    step, limits = steps[index], exercise.limits
    source = to_python(step.source)
    test = step.test is not None
    keep = test and keeps_state(source, [to_python(s.source) for s in steps[index + 1 :]])
    checks = test and bool(expected_checks(source))
    cap = limits.output_bytes
    options = [test, int(limits.cell_seconds * 1000), cap, _quiet(source), keep, checks, index]
    return Call("harness.cell", (_bytes(source.encode("utf-8")), np.array(options, np.int64)))


def _quiet(source: str) -> bool:
    """IPython's rule: a cell ending with ';' displays no value (so nbgrader sees none)."""
    from IPython.core.displayhook import DisplayHook

    if ";" not in source:  # tokenizing every cell would cost more than running it
        return False
    try:
        return bool(DisplayHook.semicolon_at_end_of_expression(source))
    except Exception:  # tokenize errors: the cell fails to compile anyway
        return False


def _limits(exercise: NotebookExercise, seconds: float) -> Limits:
    lim = exercise.limits
    return Limits(
        wall_seconds=seconds,
        cpu_seconds=seconds,
        memory_mb=lim.memory_mb,
        output_bytes=lim.output_bytes,
    )


@functools.cache
def _transformer():
    """IPython's own input transformer, which turns magics, !commands and ? into Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


@functools.lru_cache(maxsize=4096)  # every test's keep decision reads the later cells again
def to_python(source: str) -> str:
    """A cell's source as plain Python (IPython syntax into get_ipython() calls)."""
    try:  # most cells are Python already; parsing is ten times cheaper than transforming
        ast.parse(source)
        return source
    except (SyntaxError, ValueError):
        pass
    try:
        return _transformer().transform_cell(source)
    except Exception:  # the transformer gives up on some broken code: let Python say why
        return source


def parse_answer(data: object) -> Answer:
    """Read one answer of the harness (parsed JSON), trusting nothing in it."""
    try:
        fields = {k: data[k] for k in ("status", "result", "error", "stdout", "stderr")}
        checks, figures = data.get("checks", []), data.get("images", [])
    except Exception:
        return Answer("crashed", error="the cell's result could not be read")
    types_ok = all(isinstance(fields[k], t) for k, t in ANSWER_FIELDS.items())
    if not types_ok or not all(isinstance(fields[k], str) for k in ("stdout", "stderr")):
        return Answer("crashed", error="the cell's result could not be read")
    if fields["status"] not in ("ok", "error", "timeout", "memory_limit"):
        return Answer("crashed", error="the cell's result could not be read")
    if type(checks) is not list or not _figures_ok(figures):
        return Answer("crashed", error="the cell's result could not be read")
    return Answer(**fields, checks=tuple(checks), figures=tuple(figures))


def _figures_ok(figures: object) -> bool:
    """A short list of base64 strings that start as a PNG does (the browser decodes them)."""
    return (
        type(figures) is list
        and len(figures) <= MAX_FIGURES
        and all(type(f) is str and f.startswith(PNG_BASE64) and f.isascii() for f in figures)
    )


def score_test(cell: GradedCell, answer: Answer) -> CellResult:
    """nbgrader's determine_grade for a test cell: an error or stderr output scores 0;
    a value that reads as a number is partial credit; anything else is full points."""
    if answer.status == "ok" and (wrong := verify(to_python(cell.source), answer.checks)):
        answer = dataclasses.replace(answer, status="error", error=wrong)
    feedback = _feedback(cell, answer)
    result = _score_test(cell, answer, feedback)
    return dataclasses.replace(result, figures=() if cell.hidden else answer.figures)


def _score_test(cell: GradedCell, answer: Answer, feedback: str) -> CellResult:
    if answer.status != "ok":
        outcome = WRONG_ANSWER if answer.error.startswith("AssertionError") else answer.status
        outcome = RUNTIME_ERROR if outcome in ("error", "crashed") else outcome
        return CellResult(cell, outcome, 0.0, feedback)
    if answer.stderr:
        return CellResult(cell, WRONG_ANSWER, 0.0, feedback or "the test wrote to stderr")
    if answer.result is not None:
        partial = partial_grade(answer.result, cell.points)
        if partial is None:
            return CellResult(cell, WRONG_ANSWER, 0.0, "partial credit above the cell's points")
        outcome = PASSED if partial == cell.points else WRONG_ANSWER
        return CellResult(cell, outcome, partial, feedback)
    return CellResult(cell, PASSED, cell.points, feedback)


def partial_grade(text: str, max_points: float) -> float | None:
    """nbgrader's get_partial_grade: the value if it is a number from 0 to max_points.

    Not a number, or negative: full points (as nbgrader); above the maximum: None
    (nbgrader stops with an error there; here the cell scores 0).
    """
    try:
        grade = float(text)
    except ValueError:
        return max_points
    if grade < 0:
        return max_points
    return grade if grade <= max_points else None


def score_manual(cell: GradedCell, submitted: NotebookNode | None) -> CellResult:
    """A written answer or a task: 0 when left as released, else it waits for a person."""
    if cell.kind == TASK:
        return CellResult(cell, NEEDS_MANUAL, None, "")
    if submitted is None or _unchanged(cell, submitted):
        return CellResult(cell, MISSING, 0.0, "No response.")
    return CellResult(cell, NEEDS_MANUAL, None, "")


def _unchanged(cell: GradedCell, submitted: NotebookNode) -> bool:
    """The answer's checksum (with the source's flags and points) equals the release's."""
    probe = NotebookNode(
        cell_type=cell.cell_type,
        source=submitted.source,
        metadata={
            "nbgrader": {
                "grade": True,
                "solution": cell.solution,
                "grade_id": cell.grade_id,
                "points": cell.points,
            }
        },
    )
    return nbgrader.checksum(probe) == cell.checksum


def _feedback(cell: GradedCell, answer: Answer) -> str:
    """What the student reads: output and error; only the error's type for hidden tests."""
    if cell.hidden:
        return answer.error.split(":")[0] if answer.error else ""
    parts = [answer.stdout, answer.stderr, answer.error]
    return "\n".join(p.rstrip("\n") for p in parts if p)
