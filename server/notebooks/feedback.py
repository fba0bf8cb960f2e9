"""Graded notebooks with their feedback, as nbgrader's `generate_feedback` writes them.

Per student, one HTML page per notebook: each cell as submitted (Markdown rendered, code
as text), each graded cell with its score, its output or error and the grader's
comment, and the totals; zipped per assignment. Rendered with Rubric's own Markdown
(raw HTML escaped) and a template rather than nbconvert: nbconvert is not installed,
brings Jupyter's templating stack, and would pass a student's raw HTML through.
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from dataclasses import dataclass

from flask import render_template
from markupsafe import Markup
from nbformat import NotebookNode

from server.models import Assignment, Submission
from server.notebooks import nbgrader
from server.notebooks.exercise import TEST
from server.notebooks.manual import (
    GradeRefused,
    Progress,
    counted_submissions,
    exercise_specs,
    grades_of,
    progress,
    submitted_notebooks,
)
from server.notebooks.result import NEEDS_MANUAL
from server.notebooks.submission import notebook_version
from server.web.markdown import render_markdown


@dataclass(frozen=True)
class GradedMark:
    """What one graded cell scored, and why."""

    grade_id: str
    score: float | None  # None: still waiting for a person
    max_score: float
    outcome: str
    output: str  # the test's output or error (hidden tests: only the error's type)
    comment: str
    by_person: bool


@dataclass(frozen=True)
class ShownCell:
    """A cell of the student's notebook as the page shows it."""

    cell_type: str
    source: str
    mark: GradedMark | None

    @property
    def html(self) -> Markup:
        """A Markdown cell rendered (math left for KaTeX)."""
        return _markdown(self.source)


# Most Markdown cells are the release's own, the same in every student's notebook: a
# class's export renders each once, not once per student (most of its time before).
_markdown = functools.lru_cache(maxsize=4096)(render_markdown)


@dataclass(frozen=True)
class NotebookFeedback:
    """One notebook: its graded cells' marks, and its cells."""

    name: str
    marks: list[GradedMark]
    cells: list[ShownCell]
    submitted: bool

    @property
    def score(self) -> float:
        return sum(m.score or 0.0 for m in self.marks)

    @property
    def max_score(self) -> float:
        return sum(m.max_score for m in self.marks)


@dataclass(frozen=True)
class Feedback:
    """A submission's graded notebooks and totals."""

    submission: Submission
    notebooks: list[NotebookFeedback]
    progress: Progress


def feedback_for(submission: Submission) -> Feedback:
    """Gather a graded notebook submission's marks, comments and cells."""
    grades = grades_of(submission.id)
    specs = exercise_specs(submission.exercise)
    submitted = submitted_notebooks(submission)
    notebooks = []
    for part in (submission.result or {}).get("parts", []):
        marks = [_mark(part["name"], test, grades) for test in part.get("tests", [])]
        release = specs.get(part["name"], (None, {}, {}))[2]
        nb = submitted.get(part["name"])
        cells = _cells(nb, {m.grade_id: m for m in marks}, release, specs, part["name"])
        notebooks.append(NotebookFeedback(part["name"], marks, cells, nb is not None))
    return Feedback(submission, notebooks, progress(submission, grades))


def _mark(notebook: str, test: dict, grades: dict) -> GradedMark:
    grade = grades.get((notebook, test["name"]))
    waiting = test["outcome"] == NEEDS_MANUAL
    score = grade.points if waiting and grade else test["score"]
    return GradedMark(
        grade_id=test["name"],
        score=score,
        max_score=test["max_score"],
        outcome="graded" if waiting and grade else test["outcome"],
        output=test.get("feedback", ""),
        comment=grade.comment if grade and waiting else "",
        by_person=waiting,
    )


def _cells(nb: NotebookNode | None, marks: dict, release: dict, specs, name) -> list[ShownCell]:
    """The student's cells; a test or read-only cell shows the release's text, which ran.

    Never the source's: a test's hidden part stays hidden.
    """
    if nb is None:
        return []
    spec = specs.get(name, (None,))[0]
    cells = []
    for cell in nb.cells:
        grade_id = nbgrader.meta(cell).get("grade_id")
        graded = spec.cell(grade_id) if spec and grade_id else None
        fixed = grade_id in release and (graded is None or graded.kind == TEST)
        fixed = fixed and nbgrader.is_locked(release[grade_id])
        source = release[grade_id].source if fixed else cell.source
        cells.append(ShownCell(cell.cell_type, source, marks.get(grade_id)))
    return cells


def render_feedback(feedback: Feedback, notebook: NotebookFeedback) -> str:
    """One notebook's feedback as a standalone HTML page (as nbgrader's feedback/ files)."""
    return render_template("manual_feedback.html", feedback=feedback, notebook=notebook)


def _safe_name(text: str) -> str:
    """A file or folder name for the zip: no separators, no dot-dot."""
    return re.sub(r"[^A-Za-z0-9@._+-]+", "_", text).lstrip(".") or "_"


def feedback_files(assignment: Assignment) -> dict[str, str]:
    """{path in the zip: HTML}: each student's counted submission, one page per notebook."""
    if notebook_version(assignment) is None:
        raise GradeRefused(f"{assignment.slug!r} is not a notebook assignment: no feedback files")
    files = {}
    for submission, _ in counted_submissions(assignment):
        feedback = feedback_for(submission)
        student = _safe_name(submission.user.email)
        for notebook in feedback.notebooks:
            path = f"{student}/{_safe_name(assignment.slug)}/{_safe_name(notebook.name)}.html"
            files[path] = render_feedback(feedback, notebook)
    return files


def feedback_zip(assignment: Assignment) -> bytes:
    """The assignment's feedback files as one zip: STUDENT/ASSIGNMENT/NOTEBOOK.html."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, html in sorted(feedback_files(assignment).items()):
            archive.writestr(f"feedback/{path}", html)
    return out.getvalue()
