"""Every API request body and response, described once (pydantic v2).

Request bodies are validated through these models (see `body` in server/api/inputs.py).
Responses are still built as plain dicts by the views: the models describe them for the
OpenAPI document (server/api/openapi.py), and tests check real answers against them.
Response models forbid unknown fields, so the document (additionalProperties: false)
and those tests catch a field a view adds without describing it here.
"""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from server.grading.result import Outcome, Status
from server.models import AssignmentKind, FeedbackRelease, Role, ScorePolicy, SubmissionStatus


class Body(BaseModel):
    """A request body: unknown fields are ignored; a refusal has one code and message."""

    error_code: ClassVar[str]
    error_message: ClassVar[str]


def _not_blank(value: str) -> str:
    """Refuse whitespace-only text, as Python's str.strip() sees it (as the page's form)."""
    if not value.strip():
        raise ValueError("blank")
    return value


class SubmissionRequest(Body):
    """Code submitted to an exercise."""

    error_code: ClassVar[str] = "invalid_code"
    error_message: ClassVar[str] = "the body needs a non-blank 'code' string"

    code: Annotated[StrictStr, AfterValidator(_not_blank)] = Field(
        pattern=r"\S", description="the whole Python file; blank is 422 invalid_code"
    )


class ExerciseSubmissionRequest(Body):
    """Work handed in to an exercise: `code` for a code exercise, `notebooks` for a notebook one.

    Send the one the exercise takes (GET .../assignments/SLUG says which: a notebook
    exercise lists its `notebooks`). A code exercise sent only `notebooks` is 422
    code_expected; a notebook exercise sent only `code` is 422 notebooks_expected.
    """

    # The OpenAPI document's body of POST .../submissions: the view validates `code` with
    # SubmissionRequest, and `notebooks` in server/api/notebooks.py, once it knows which.

    error_code: ClassVar[str] = "invalid_code"
    error_message: ClassVar[str] = "the body needs 'code' (a code exercise) or 'notebooks'"

    code: StrictStr = Field(
        None, pattern=r"\S", description="a code exercise: the whole Python file; blank is 422"
    )
    notebooks: dict[str, dict[str, Any] | str] = Field(
        None,
        description="a notebook exercise: file name (NAME.ipynb) -> the notebook's JSON "
        "(nbformat 4), or that JSON as text. A notebook of the exercise left out is accepted "
        "and its graded cells score 0 (the 202 names it in missing_notebooks); 20 MB in all, "
        "2 MB per notebook once its outputs are stripped",
        examples=[
            {"problem1.ipynb": {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}}
        ],
    )


ANSWERS_DESCRIPTION = (
    "question id -> a choice id (single choice), a list of choice ids (multiple choice; "
    "[] is blank), or a number (numeric). A number may be a JSON number or a string in "
    "ASCII notation: optional sign, digits, '.' decimal point, optional exponent ('-0.25', "
    "'+1', '.5', '1.5e-3'; spaces around it are ignored); a decimal comma, other digits or "
    "'_' are 422. null or an empty string is blank; omitted and blank questions score 0. "
    "Any other type (a list or object for a number, a boolean) is 422 naming the question"
)


class AttemptRequest(Body):
    """A quiz attempt's answers; the quiz's own rules check each one (InvalidAnswers)."""

    error_code: ClassVar[str] = "invalid_answer"
    error_message: ClassVar[str] = "the body needs an 'answers' object"

    # Any, not dict: a non-object is refused by the quiz, naming 'answers' in `questions`.
    answers: Any = Field(
        json_schema_extra={
            "type": "object",
            "additionalProperties": {},
            "examples": [{"q1": "b", "q2": 0.998, "q4": ["a", "b"]}],
        },
        description=ANSWERS_DESCRIPTION,
    )


class CourseRequest(Body):
    """A new course."""

    error_code: ClassVar[str] = "invalid_course"
    error_message: ClassVar[str] = "the body needs 'slug' and 'title' strings"

    slug: StrictStr = Field(description="1 to 64 of a-z, 0-9 and '-'; 409 slug_taken if used")
    title: StrictStr = Field(description="1 to 200 characters")
    term: StrictStr = Field("", description='e.g. "Fall 2026"')
    timezone: StrictStr = Field("UTC", description="an IANA time zone name, e.g. Europe/Berlin")


TIME = "ISO 8601 with its UTC offset, e.g. 2026-12-01T23:59:00+01:00 (no offset: 422)"
FRACTION = "a fraction of the maximum from 0 to 1 (0.1 is 10%)"


class AssignmentSettingsRequest(Body):
    """An assignment's dates and policies; in a PATCH only the fields given change."""

    error_code: ClassVar[str] = "invalid_assignment"
    error_message: ClassVar[str] = "a field of the assignment has the wrong type"

    title: StrictStr | None = Field(None, description="1 to 200 characters")
    opens_at: StrictStr | None = Field(None, description=f"no work before; {TIME}")
    due_at: StrictStr | None = Field(None, description=TIME)
    late_until: StrictStr | None = Field(
        None, description=f"late work is taken until then (null: the due date is a cutoff); {TIME}"
    )
    late_penalty_per_day: float | None = Field(
        None, description=f"per started day late, {FRACTION}"
    )
    late_penalty_per_hour: float | None = Field(
        None, description=f"per started hour late (not with per_day), {FRACTION}"
    )
    late_penalty_cap: float | None = Field(
        None, description=f"the most taken off in all, {FRACTION}"
    )
    attempt_limit: int | None = Field(None, description="1 to 10000; null: no limit")
    score_policy: ScorePolicy | None = Field(None, description="which attempt counts")
    weight: StrictInt | StrictFloat | None = Field(
        None, description="how much it counts in the weighted percentage, 0 to 1000 (default 1)"
    )
    feedback_release: FeedbackRelease | None = Field(
        None,
        description="when students see hidden-test names, quiz explanations and right "
        "choices: immediately, after_due (their own due date) or never",
    )


class PublishRequest(AssignmentSettingsRequest):
    """A quiz or exercise of the content published into a course."""

    error_code: ClassVar[str] = "invalid_assignment"
    error_message: ClassVar[str] = "the body needs 'content', the slug of a quiz or exercise"

    content: StrictStr = Field(description="the slug of a synced quiz or exercise")
    slug: StrictStr = Field("", description="the assignment's slug; default: the content's")


class ExtensionRequest(Body):
    """A student's own dates for one assignment."""

    error_code: ClassVar[str] = "invalid_extension"
    error_message: ClassVar[str] = "the body needs 'due_at', an ISO 8601 time with its offset"

    due_at: StrictStr = Field(description=TIME)
    late_until: StrictStr | None = Field(
        None, description=f"default: the assignment's late window moved with the due date; {TIME}"
    )


class AccommodationRequest(Body):
    """A course-wide shift of every due date and late window of one student."""

    error_code: ClassVar[str] = "invalid_accommodation"
    error_message: ClassVar[str] = "the body needs 'shift_hours', a number of hours"

    shift_hours: float = Field(description="hours added to each due date, above 0, at most 8760")
    reason: StrictStr | None = Field(None, description="why; kept in the audit log")


class OverrideRequest(Body):
    """A score set by hand, or the student excused, with a reason."""

    error_code: ClassVar[str] = "invalid_override"
    error_message: ClassVar[str] = "the body needs 'reason' and a 'score' or 'excused': true"

    score: float | None = Field(None, description="from 0 to the maximum")
    excused: bool = Field(False, description="excuse the student instead of a score")
    reason: StrictStr = Field(description="why; kept in the audit log")


class RosterRow(BaseModel):
    """One person of a JSON roster."""

    email: str
    name: str = ""
    role: str = Field("student", description="student, ta or instructor; blank is student")


class Answer(BaseModel):
    """A response: every field is described; an unknown one is an error in the tests."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    """What went wrong, with a stable code."""

    code: str = Field(examples=["not_found", "invalid_answer", "token_expired"])
    message: str
    # Absent or set, never null: `X = Field(None)` documents X without a null.
    field: str = Field(
        None, description="the body field, query parameter or header that was refused"
    )
    questions: dict[str, str] = Field(
        None, description="per question id, why its answer was refused"
    )
    expired_at: datetime = Field(
        None, description="with code token_expired: when the API token expired"
    )


class Error(Answer):
    """Every error answer."""

    error: ErrorDetail


class CourseSummary(Answer):
    """A course and the user's role in it."""

    slug: str
    title: str
    role: Role


class NewCourse(CourseSummary):
    """A course just created."""

    term: str
    timezone: str


class RosterPerson(Answer):
    """Someone in a roster report."""

    email: str
    name: str
    role: Role


class RosterChange(RosterPerson):
    """Someone whose role changes."""

    before: Role


class RosterReport(Answer):
    """What a roster import did, or would do with dry_run."""

    course: str
    dry_run: bool
    added: list[RosterPerson]
    changed: list[RosterChange]
    unchanged: int
    dropped: list[RosterPerson] = Field(
        description="enrolled but not in the roster: dropped with drop=true, else only listed"
    )
    drop: bool = Field(description="whether `dropped` were taken out of the course")
    errors: list[str] = Field(description="one message per bad row, e.g. 'line 4: ...'")
    links: dict[str, str] = Field(
        description="new accounts' one-time set-password links, by e-mail (also mailed)"
    )


class AuditLogEntry(Answer):
    """One change in a course."""

    id: int = Field(description="the entry's place in the log: a later entry has a larger id")
    at: datetime = Field(description="ISO 8601 with its offset")
    actor: str = Field(description="who: an e-mail, or 'command line'")
    action: str = Field(examples=["course.create", "roster.add", "roster.role", "roster.drop"])
    target: str = Field(description="what: e.g. a person's e-mail")
    before: Any = Field(description="the value before (null: there was none)")
    after: Any = Field(description="the value after (null: it is gone)")


class AuditLog(Answer):
    """A page of a course's audit log, the newest first (?limit=, default and at most 1000)."""

    course: str
    entries: list[AuditLogEntry]
    next: str | None = Field(
        description="the URL of the next (older) page, ?before= the last entry's id; null: no more"
    )


class CourseList(Answer):
    """The courses the user belongs to."""

    courses: list[CourseSummary]


class AssignmentSummary(Answer):
    """An assignment in a listing, with the user's attempts so far."""

    slug: str
    title: str
    kind: AssignmentKind
    opens_at: datetime | None
    due_at: datetime | None = Field(description="the user's own: an extension moves it")
    late_until: datetime | None = Field(
        description="late work is taken until then, with its penalty; null: the due date is "
        "a hard cutoff"
    )
    extended: bool = Field(description="the dates are the user's own extension")
    attempt_limit: int | None
    score_policy: ScorePolicy
    attempts_used: int
    attempts_left: int | None


class AssignmentList(Answer):
    """The assignments of a course."""

    assignments: list[AssignmentSummary]


class Choice(Answer):
    """A choice of a choice question."""

    id: str
    text: str


class Question(Answer):
    """A quiz question as a student sees it: never its answer."""

    id: str
    kind: Literal["single_choice", "multiple_choice", "numeric"]  # server/scoring/questions.py
    points: float
    prompt: str = Field(description="with this student's own parameters")
    choices: list[Choice] = Field(None, description="choice questions only")


class GradedCellInfo(Answer):
    """A graded cell of a notebook, as nbgrader marks it."""

    grade_id: str
    kind: Literal["test", "manual", "task"] = Field(
        description="test: graded automatically; manual or task: by a person"
    )
    points: float


class NotebookInfo(Answer):
    """One notebook of a notebook exercise."""

    name: str = Field(description="its file name without .ipynb")
    points: float
    cells: list[GradedCellInfo]


class AssignmentDetail(AssignmentSummary):
    """An assignment with its prompt and, for a quiz, its questions."""

    # A quiz's only; absent for an exercise.
    description: str = Field(None)
    version: int = Field(None, description="a quiz's, or a notebook exercise's")
    max_score: float = Field(None, description="a quiz's, or a notebook exercise's")
    questions: list[Question] = Field(None)
    notebooks: list[NotebookInfo] = Field(
        None,
        description="a notebook exercise's notebooks (hand in NAME.ipynb; the student "
        "version is at .../release.zip)",
    )


class QuestionResult(Answer):
    """How one answer of an attempt was marked."""

    id: str
    prompt: str
    response: Any
    outcome: Literal["correct", "partial", "incorrect", "unanswered"]
    score: float
    max_score: float
    explanation: str = Field(description="'' until the assignment releases feedback")
    right: list[str] = Field(
        None, description="a choice question's right choices, once feedback is released"
    )


class Attempt(Answer):
    """A graded quiz attempt."""

    id: int
    assignment: str
    number: int
    score: float = Field(description="counted: raw_score less the late penalty")
    raw_score: float = Field(description="the questions' points")
    penalty: float = Field(description="points taken off for lateness")
    late: int = Field(description="seconds past the student's due date (0: on time)")
    max_score: float
    submitted_at: datetime
    feedback_released: bool = Field(
        description="whether explanations and right choices are shown (the assignment's "
        "feedback_release: immediately, after the student's due date, or never)"
    )
    questions: list[QuestionResult]


class TestResult(Answer):
    """One test of a submission (SPEC's "Grading result")."""

    name: str
    outcome: Outcome | Literal["needs_manual_grading"] = Field(
        description="needs_manual_grading: a notebook's cell that a person grades"
    )
    score: float | None = Field(description="null while the cell waits for a person")
    max_score: float
    visible: bool
    feedback: str
    figures_png: list[str] | None = Field(
        None,
        description="a notebook's cell only, when it showed matplotlib figures: each a PNG,"
        " base64-encoded (at most 8, 1 MB each)",
    )


class PartResult(Answer):
    """The tests of one function to implement."""

    name: str
    score: float
    max_score: float
    tests: list[TestResult]


class WeightDecayDemo(Answer):
    """The weight-decay chart: a trajectory per λ, the student's and the reference's."""

    function: str
    lams: list[float]
    steps: int
    lr: float
    w0: float
    target: float
    reference: list[list[float | None]]
    student: list[list[float | None] | None] = Field(description="null per λ when unusable")
    student_error: str = Field(description="why the student's trajectories are unusable, or ''")


class SweepLosses(Answer):
    """Half the mean squared error after training, one per λ (null when not finite)."""

    train: list[float | None]
    validation: list[float | None]


class LambdaSweep(Answer):
    """The lambda sweep: training and validation loss against λ, the student's and reference's."""

    lams: list[float]
    steps: int
    degree: int = Field(description="the fitted polynomial's degree")
    trained_with: str = Field(description="the student's function the sweep trained with, or ''")
    student: SweepLosses
    student_best: float | None = Field(description="λ with the lowest validation loss")
    reference: SweepLosses
    reference_best: float | None
    student_error: str = Field(description="why the student's losses are unusable, or ''")


class GradingResult(Answer):
    """SPEC's "Grading result": what `rubric grade --json` prints and the API shows."""

    exercise: str
    status: Status
    score: float
    max_score: float
    feedback: str
    parts: list[PartResult]
    duration_ms: int = Field(description="rounded up to 100 ms")
    demo: WeightDecayDemo = Field(None, description="the weight-decay exercise only")
    sweep: LambdaSweep = Field(None, description="exercises that ship data/sweep.json only")


class SubmissionFields(Answer):
    """What every view of a submission has."""

    id: int
    assignment: str
    number: int
    status: SubmissionStatus
    submitted_at: datetime
    graded_at: datetime | None
    max_score: float
    late: int = Field(
        description="seconds past the student's due date when it was stored (0: on time)"
    )
    raw_score: float | None = Field(description="the grader's score, before any late penalty")
    penalty: float | None = Field(description="points taken off for lateness, once graded")
    score: float | None = Field(description="the counted score: raw_score less penalty")
    # A notebook submission with cells for a person (server/notebooks/manual.py) only.
    auto_score: float = Field(
        None, description="notebooks with cells for a person: the automatic score (result.score)"
    )
    manual_score: float = Field(
        None, description="notebooks: the points people gave so far, included in raw_score"
    )
    waiting: int = Field(None, description="notebooks: cells still waiting for a person")
    partly_graded: bool = Field(
        None, description="notebooks: true while some cells wait; raw_score is the score so far"
    )


class Submission(SubmissionFields):
    """A submission: its result once graded, a message if the grader failed."""

    error: str = Field(None, description="when the grader itself failed")
    result: GradingResult | None = Field(None, description="once graded")
    missing_notebooks: list[str] = Field(
        None,
        description="in the 202 of a notebook exercise's submission: its notebooks not handed "
        "in, whose graded cells score 0 (as in nbgrader)",
    )


class Student(Answer):
    """Who a row is about."""

    email: str
    name: str


class ListedSubmission(SubmissionFields):
    """A submission in a listing: no result, its student, whether it counts."""

    student: Student
    counts: bool = Field(
        description="the submission whose score the gradebook counts for its student, "
        "under the assignment's policy (best or last)"
    )


class SubmissionList(Answer):
    """Submissions to an exercise, newest first."""

    assignment: str
    submissions: list[ListedSubmission]


class Regrade(Answer):
    """What a regrade queued."""

    assignment: str
    queued: int = Field(description="submissions queued again")
    version: int = Field(description="the exercise version they go to")


class GradebookAssignment(Answer):
    """A column of the gradebook."""

    slug: str
    title: str
    points_possible: float | None = Field(description="the newest content version's maximum")
    weight: float = Field(description="its weight in each student's weighted percentage")
    average: float | None = Field(description="the class average of the students graded in it")
    graded: int = Field(description="how many students have a counted score in it")


class GradebookEntry(Answer):
    """A student's counted score on one assignment, and how it came about."""

    score: float | None = Field(description="counted: after any late penalty or override")
    max_score: float | None
    attempts: int
    raw_score: float | None = Field(description="the counted work's score before its penalty")
    penalty: float = Field(description="points taken off the counted work for lateness")
    late: int = Field(description="seconds the counted work was late (0: on time)")
    overridden: bool = Field(description="the score was set by hand (rubric score override)")
    excused: bool = Field(description="the student is excused: score null, not counted")


class GradebookRow(Answer):
    """One student's scores, by assignment slug."""

    student: Student
    scores: dict[str, GradebookEntry]
    total: float = Field(description="the sum of the counted scores (points)")
    possible: float = Field(description="the maxima of the assignments not excused")
    percent: float | None = Field(
        description="weighted percentage: each assignment's score over its maximum, times its "
        "weight; excused ones drop out, work not handed in counts 0; null when nothing counts"
    )


class AssignmentSettings(Answer):
    """An assignment as its instructors configure it; times in the course's time zone."""

    slug: str
    title: str
    kind: AssignmentKind
    content: str
    timezone: str = Field(description="the course's: the times below carry its offset")
    opens_at: datetime | None
    due_at: datetime | None
    late_until: datetime | None
    late_penalty_per_day: float | None
    late_penalty_per_hour: float | None
    late_penalty_cap: float | None
    attempt_limit: int | None
    score_policy: ScorePolicy
    feedback_release: FeedbackRelease
    weight: float = Field(description="its weight in the gradebook's weighted percentage")
    rescored: int = Field(description="changed counted scores queued for the LMS")


class ExtensionAnswer(Answer):
    """A student's extension."""

    assignment: str
    email: str
    due_at: datetime
    late_until: datetime | None = Field(description="the student's late window's end, if any")


class AccommodationAnswer(Answer):
    """A student's accommodation."""

    course: str
    email: str
    shift_hours: float
    reason: str


class OverrideAnswer(Answer):
    """A student's entry after an override."""

    assignment: str
    email: str
    entry: GradebookEntry
    reason: str


class Gradebook(Answer):
    """Every student's counted score on every assignment."""

    course: str
    assignments: list[GradebookAssignment]
    students: list[GradebookRow]
    average_percent: float | None = Field(description="the class average weighted percentage")
