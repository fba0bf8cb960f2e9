"""Grading by a person: the written answers and tasks of notebook submissions.

A notebook result marks each cell that waits for a person (outcome
needs_manual_grading, score None). A TA or instructor gives it points (0 to the cell's
maximum, in halves) and a comment; a submission's counted score is its automatic score
plus those points (server/scoring/gradebook.py adds them). Knows nothing of
HTTP: the pages and the API call `grading_queue`, `sheet` and `save`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import nbformat
import sqlalchemy as sa
import sqlalchemy.orm as so
from nbformat import NotebookNode
from sqlalchemy.exc import IntegrityError

from server.courses import audit, require_staff
from server.courses.release import feedback_released
from server.extensions import db
from server.lti import passback
from server.models import Assignment, Exercise, ScorePolicy, Submission, SubmissionStatus, User
from server.models.manual import ManualGrade
from server.models.types import utcnow
from server.notebooks import nbgrader
from server.notebooks.exercise import TASK, NotebookError, NotebookSpec, spec_of
from server.notebooks.result import NEEDS_MANUAL
from server.notebooks.submission import is_stored_notebooks, stored_notebooks
from server.scoring import late

MAX_COMMENT = 10_000  # characters of one cell's comment


class GradeRefused(ValueError):
    """A grade that cannot be stored; the message says why, for the grader."""


@dataclass(frozen=True)
class GradeInput:
    """Points and a comment for one cell, as a grader sent them."""

    notebook: str
    grade_id: str
    points: float | str | None
    comment: str = ""


@dataclass(frozen=True)
class Waiting:
    """A cell of a result that a person grades: where it is and its maximum."""

    notebook: str
    grade_id: str
    max_points: float


@dataclass(frozen=True)
class CellToGrade:
    """One cell on the grading page: the student's answer beside the source's solution."""

    notebook: str
    grade_id: str
    kind: str  # manual (a written answer or code) or task
    cell_type: str  # markdown or code
    max_points: float
    answer: list[NotebookNode]  # the student's cell (for a task, the cells after it too)
    solution: NotebookNode | None  # the source's cell, solution and mark scheme in
    grade: ManualGrade | None


@dataclass(frozen=True)
class Progress:
    """How far the grading of a submission's cells has come."""

    auto: float  # the automatic score
    manual: float  # points given by a person so far
    graded: int
    waiting: int  # cells still waiting for a person
    max_score: float

    @property
    def complete(self) -> bool:
        return self.waiting == 0

    @property
    def score(self) -> float:
        return self.auto + self.manual


@dataclass(frozen=True)
class QueueEntry:
    """A student's counted submission with cells for a person."""

    submission: Submission
    progress: Progress


@dataclass
class Queue:
    """An assignment's "needs grading" list: counted submissions with cells for a person."""

    entries: list[QueueEntry] = field(default_factory=list)

    @property
    def graded(self) -> int:
        return sum(e.progress.complete for e in self.entries)

    @property
    def total(self) -> int:
        return len(self.entries)

    def next_after(self, submission_id: int | None) -> QueueEntry | None:
        """The next submission still waiting, after this one (wrapping round), or None."""
        ids = [e.submission.id for e in self.entries]
        start = ids.index(submission_id) + 1 if submission_id in ids else 0
        ordered = self.entries[start:] + self.entries[:start]
        return next(
            (e for e in ordered if not e.progress.complete and e.submission.id != submission_id),
            None,
        )


# -- reading a result and its notebooks -------------------------------------------------


def waiting_cells(result: dict | None) -> list[Waiting]:
    """The cells of a stored notebook result that a person grades."""
    cells = []
    for part in (result or {}).get("parts", []):
        for test in part.get("tests", []):
            if test.get("outcome") == NEEDS_MANUAL:
                cells.append(Waiting(part["name"], test["name"], float(test["max_score"])))
    return cells


def grades_of(submission_id: int) -> dict[tuple[str, str], ManualGrade]:
    """A submission's grades by (notebook, grade_id)."""
    query = sa.select(ManualGrade).where(ManualGrade.submission_id == submission_id)
    return {(g.notebook, g.grade_id): g for g in db.session.scalars(query)}


def progress(submission: Submission, grades: dict | None = None) -> Progress:
    """The automatic score, the points given so far and the cells still waiting."""
    grades = grades_of(submission.id) if grades is None else grades
    waiting = waiting_cells(submission.result)
    keys = [(w.notebook, w.grade_id) for w in waiting]
    given = [grades[key] for key in keys if key in grades]
    return Progress(
        auto=submission.score or 0.0,
        manual=math.fsum(g.points for g in given),
        graded=len(given),
        waiting=len(waiting) - len(given),
        max_score=submission.max_score,
    )


@dataclass(frozen=True)
class Tally:
    """What people have given a notebook submission so far, for its listings and JSON."""

    points: float  # given by a person
    waiting: int  # cells still waiting for one


def tallies(submission_ids: Iterable[int]) -> dict[int, Tally]:
    """By id, the graded notebook submissions among these that have cells for a person.

    Two queries whatever the number; code submissions (and their big results) are left
    out by the database, so a code exercise's listing pays one empty query.
    """
    ids, found = sorted(set(submission_ids)), {}
    for start in range(0, len(ids), 500):  # under every database's limit of bound values
        found |= _tallies(ids[start : start + 500])
    return found


def _tallies(ids: list[int]) -> dict[int, Tally]:
    query = (
        sa.select(Submission.id, Submission.result)
        .join(Exercise, Exercise.id == Submission.exercise_id)
        .where(
            Submission.id.in_(ids),
            Submission.status == SubmissionStatus.GRADED,
            Exercise.public["kind"].as_string() == "notebook",
        )
    )
    waiting = {row.id: waiting_cells(row.result) for row in db.session.execute(query)}
    waiting = {key: cells for key, cells in waiting.items() if cells}
    if not waiting:
        return {}
    given: dict[int, dict] = {}
    grades = sa.select(ManualGrade).where(ManualGrade.submission_id.in_(list(waiting)))
    for grade in db.session.scalars(grades):
        given.setdefault(grade.submission_id, {})[(grade.notebook, grade.grade_id)] = grade
    found = {}
    for key, cells in waiting.items():
        mine = given.get(key, {})
        keys = [(c.notebook, c.grade_id) for c in cells]
        points = [mine[k].points for k in keys if k in mine]
        found[key] = Tally(math.fsum(points), len(cells) - len(points))
    return found


@functools.lru_cache(maxsize=32)
def _specs(exercise_id: int, content_hash: str) -> dict[str, tuple[NotebookSpec, dict, dict]]:
    """Per notebook of a stored version: its spec, and its source and release cells by grade_id.

    Versions never change once stored (a change is a new row), so the hash keys the cache.
    """
    bundle = db.session.get(Exercise, exercise_id).bundle
    found = {}
    for path, text in bundle.items():
        if not (path.startswith("source/") and path.endswith(".ipynb") and path.count("/") == 1):
            continue
        name = path.removeprefix("source/").removesuffix(".ipynb")
        source = nbformat.reads(text, as_version=4)
        release = nbformat.reads(bundle.get(f"release/{name}.ipynb", text), as_version=4)
        found[name] = (spec_of(name, source), _by_grade_id(source), _by_grade_id(release))
    return found


def exercise_specs(exercise: Exercise) -> dict[str, tuple[NotebookSpec, dict, dict]]:
    """The notebooks of a stored exercise version: spec, source cells, release cells."""
    try:
        return _specs(exercise.id, exercise.content_hash)
    except (NotebookError, ValueError) as exc:
        raise GradeRefused(f"the exercise's notebooks cannot be read: {exc}") from None


def _by_grade_id(nb: NotebookNode) -> dict[str, NotebookNode]:
    return {nbgrader.meta(c)["grade_id"]: c for c in nb.cells if nbgrader.meta(c).get("grade_id")}


def submitted_notebooks(submission: Submission) -> dict[str, NotebookNode]:
    """The notebooks a submission holds, by name without .ipynb ({} when it holds none).

    As server/notebooks/submission.py stored them: checked when handed in, so read
    without validating again (a schema check per notebook would cost most of a page).
    """
    if not is_stored_notebooks(submission.code or ""):
        return {}
    try:
        found = stored_notebooks(submission.code)
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}
    return {name.removesuffix(".ipynb"): nb for name, nb in found.items()}


# -- the queue and the grading sheet -----------------------------------------------------


def counted_submissions(assignment: Assignment) -> list[tuple[Submission, Progress]]:
    """Each student's graded submission that counts (as the gradebook picks it), by e-mail."""
    query = (
        sa.select(Submission)
        .join(User, User.id == Submission.user_id)
        .where(
            Submission.assignment_id == assignment.id,
            Submission.status == SubmissionStatus.GRADED,
        )
        .options(so.undefer(Submission.result), so.joinedload(Submission.user))
        .order_by(User.email, Submission.number)
    )
    by_student: dict[int, list[Submission]] = {}
    for submission in db.session.scalars(query):
        by_student.setdefault(submission.user_id, []).append(submission)
    grades = _grades_in(assignment)
    # Every student's dates from two queries, as the gradebook reads them, not two each.
    extensions, shifts = late.extensions_in([assignment.id]), late.shifts_in(assignment.course_id)
    counted = []
    for user_id, mine in by_student.items():
        extension, shift = extensions.get((user_id, assignment.id)), shifts.get(user_id, 0)
        dates = late.shifted(assignment, extension, shift)
        counted.append(_counted(assignment, mine, grades, dates))
    return [item for item in counted if item is not None]


def _grades_in(assignment: Assignment) -> dict[int, dict[tuple[str, str], ManualGrade]]:
    """Every grade of an assignment's submissions, by submission: one query, not one each."""
    query = (
        sa.select(ManualGrade)
        .join(Submission, Submission.id == ManualGrade.submission_id)
        .where(Submission.assignment_id == assignment.id)
    )
    found: dict[int, dict] = {}
    for grade in db.session.scalars(query):
        found.setdefault(grade.submission_id, {})[(grade.notebook, grade.grade_id)] = grade
    return found


def grading_queue(assignment: Assignment, grader: User) -> Queue:
    """Each student's counted submission that has cells for a person, by student e-mail."""
    require_staff(grader, assignment.course)
    queue = Queue()
    for submission, done in counted_submissions(assignment):
        if waiting_cells(submission.result):
            queue.entries.append(QueueEntry(submission, done))
    return queue


def _counted(
    assignment: Assignment, mine: list[Submission], grades: dict[int, dict], dates: late.Dates
) -> tuple[Submission, Progress] | None:
    """The submission that counts, with the points a person gave each one (as the gradebook)."""
    scored = [(s, progress(s, grades.get(s.id, {}))) for s in mine if s.score is not None]
    if not scored:
        return None
    if assignment.score_policy == ScorePolicy.LAST or len(scored) == 1:
        return scored[-1]
    rule = late.rule_of(assignment)

    def counted(item: tuple[Submission, Progress]) -> float:
        s, p = item
        return late.mark(p.score, s.max_score, s.submitted_at, dates, rule).score

    best = max(counted(item) for item in scored)
    return next(item for item in scored if counted(item) == best)


def sheet(submission: Submission, grader: User) -> list[CellToGrade]:
    """The cells of a submission a person grades, each with the answer and the solution."""
    require_staff(grader, submission.assignment.course)
    specs = exercise_specs(submission.exercise)
    notebooks = submitted_notebooks(submission)
    grades = grades_of(submission.id)
    cells = []
    for waiting in waiting_cells(submission.result):
        spec, source, _ = specs.get(waiting.notebook, (None, {}, {}))
        graded = spec.cell(waiting.grade_id) if spec else None
        cells.append(
            CellToGrade(
                notebook=waiting.notebook,
                grade_id=waiting.grade_id,
                kind=graded.kind if graded else "manual",
                cell_type=graded.cell_type if graded else "markdown",
                max_points=waiting.max_points,
                answer=_answer(notebooks.get(waiting.notebook), waiting.grade_id, graded),
                solution=source.get(waiting.grade_id),
                grade=grades.get((waiting.notebook, waiting.grade_id)),
            )
        )
    return cells


def _answer(nb: NotebookNode | None, grade_id: str, graded) -> list[NotebookNode]:
    """The student's cell; for a task, also their cells after it up to the next nbgrader cell."""
    if nb is None:
        return []
    for i, cell in enumerate(nb.cells):
        if nbgrader.meta(cell).get("grade_id") != grade_id:
            continue
        if graded is None or graded.kind != TASK:
            return [cell]
        after = []
        for other in nb.cells[i + 1 :]:
            if nbgrader.meta(other):
                break
            after.append(other)
        return [cell, *after]
    return []


# -- saving grades ----------------------------------------------------------------------


def parse_points(value: float | str | None, maximum: float, where: str) -> float:
    """Points from a grader: a number from 0 to the cell's maximum, in steps of 0.5."""
    try:
        points = float(str(value).strip().replace(",", ".")) if value not in (None, "") else None
    except ValueError:
        points = None
    if points is None or not math.isfinite(points):
        raise GradeRefused(f"{where}: give the points as a number from 0 to {maximum:g}")
    if points < 0 or points > maximum + 1e-9:
        raise GradeRefused(f"{where}: {points:g} points is outside 0 to {maximum:g}")
    if not math.isclose(points * 2, round(points * 2), abs_tol=1e-9) and points != maximum:
        raise GradeRefused(f"{where}: points go in steps of 0.5 ({points:g} is not one)")
    return points


def save(submission: Submission, grader: User, given: list[GradeInput]) -> Progress:
    """Store the points and comments for some of a submission's cells, audited; commit.

    Every cell is checked before any is stored: one bad value stores nothing. The
    student's counted score changes at once, and goes to the LMS (grade passback).
    """
    assignment = submission.assignment
    require_staff(grader, assignment.course)
    if submission.status != SubmissionStatus.GRADED:
        raise GradeRefused("this submission has no result yet; grade it once it is graded")
    if not given:
        raise GradeRefused("give points for at least one cell")
    waiting = {(w.notebook, w.grade_id): w for w in waiting_cells(submission.result)}
    checked = []
    for item in given:
        cell = waiting.get((item.notebook, item.grade_id))
        where = f"{item.notebook}/{item.grade_id}"
        if cell is None:
            raise GradeRefused(f"{where}: no cell of this submission waits for a person there")
        comment = (item.comment or "").replace("\r\n", "\n").strip()
        if len(comment) > MAX_COMMENT:
            raise GradeRefused(f"{where}: the comment is longer than {MAX_COMMENT} characters")
        checked.append((cell, parse_points(item.points, cell.max_points, where), comment))
    for _ in range(2):
        try:
            return _save_checked(submission, grader, checked)
        except IntegrityError:
            # Another grader stored one of these cells first (its unique row): once more,
            # over what they stored, as a change of theirs.
            db.session.rollback()
    raise GradeRefused("another grader is saving this submission at the same time; save again")


def _save_checked(submission: Submission, grader: User, checked: list) -> Progress:
    grades = grades_of(submission.id)
    changed = False
    for cell, points, comment in checked:
        changed |= _store(submission, grader, grades, cell, points, comment)
    if changed:
        passback.score_changed(submission.assignment, submission.user)
    db.session.commit()
    return progress(submission)


def _store(submission, grader, grades, cell: Waiting, points: float, comment: str) -> bool:
    """Insert or change one grade and audit it; False when nothing changed."""
    grade = grades.get((cell.notebook, cell.grade_id))
    before = None if grade is None else {"points": grade.points, "comment": grade.comment}
    after = {"points": points, "comment": comment}
    if before == after:
        return False
    if grade is None:
        grade = ManualGrade(
            submission_id=submission.id, notebook=cell.notebook, grade_id=cell.grade_id
        )
        db.session.add(grade)
        grades[(cell.notebook, cell.grade_id)] = grade
    grade.points, grade.comment, grade.max_points = points, comment, cell.max_points
    grade.grader_id, grade.graded_by, grade.graded_at = grader.id, grader.email, utcnow()
    target = (
        f"{submission.assignment.slug} {submission.user.email} submission"
        f" {submission.number} {cell.notebook}/{cell.grade_id}"
    )
    audit.record(submission.assignment.course, grader, "manual_grade", target, before, after)
    db.session.flush()
    return True


def keep_matching(submission_id: int) -> None:
    """After a new result (a regrade), drop the grades of cells it no longer has waiting
    for a person with the same maximum; the others stay. In the caller's transaction."""
    grades = grades_of(submission_id)
    if not grades:
        return
    result = db.session.scalar(sa.select(Submission.result).where(Submission.id == submission_id))
    waiting = {(w.notebook, w.grade_id): w.max_points for w in waiting_cells(result)}
    for key, grade in grades.items():
        if key not in waiting or not math.isclose(waiting[key], grade.max_points):
            db.session.delete(grade)
    db.session.flush()


# -- what the student sees --------------------------------------------------------------


def released(assignment: Assignment, user_id: int) -> bool:
    """Whether the student sees the points and comments a person gave (feedback release)."""
    return feedback_released(assignment, user_id, utcnow())
