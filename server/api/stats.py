"""Class statistics of an assignment (instructors and TAs), in SPEC's shape."""

from flask import g
from pydantic import Field

from server.analytics.assignment import api_stats, assignment_stats
from server.api import bp
from server.api.auth import token_required
from server.api.models import Answer
from server.courses import get_assignment, require_staff


class HistogramBin(Answer):
    """Scores from `from` (included) to `to` (excluded; the last bin includes it)."""

    from_: float = Field(alias="from", serialization_alias="from")
    to: float
    count: int


class ScoreSummary(Answer):
    """Mean, median (null with no scores) and histogram of scores out of the maximum."""

    mean: float | None
    median: float | None
    histogram: list[HistogramBin]


class AttemptsBin(Answer):
    """How many students reached full marks on their n-th graded attempt."""

    attempts: int
    students: int


class AttemptsToFull(Answer):
    """Graded attempts until full marks (raw score), over students with graded work."""

    reached: int
    never: int
    mean: float | None
    median: float | None
    histogram: list[AttemptsBin]


class TestPassRate(Answer):
    """One test's share of counted submissions that passed it."""

    part: str
    name: str
    pass_rate: float


class MistakeCount(Answer):
    """A known mistake (its file name without .py) and how many students' counted work made it."""

    name: str
    hint: str
    students: int


class VisibleOutcome(Answer):
    """What a submission did on one visible test (never a hidden one)."""

    part: str
    name: str
    outcome: str
    feedback: str


class UnknownGroup(Answer):
    """Counted wrong submissions matching no known mistake, alike on the visible tests."""

    students: int
    example: int = Field(description="the id of one submission of the group")
    visible: list[VisibleOutcome]


class QuestionStats(Answer):
    """Item analysis of one quiz question over the counted attempts (docs/instructors.md)."""

    id: str
    correct_rate: float | None
    discrimination: float | None = Field(
        description="upper-lower 27% index by total score, -1 to 1; null under two attempts"
    )
    choices: dict[str, float] = Field(description="each choice label's share of attempts")


class AssignmentStats(Answer):
    """Class statistics over each student's counted submission or attempt."""

    students: int = Field(description="enrolled students")
    submitted: int = Field(description="students who submitted anything")
    score: ScoreSummary = Field(description="counted scores (late penalties, overrides)")
    tests: list[TestPassRate] = Field(description="code exercises; empty for a quiz")
    mistakes: list[MistakeCount] = Field(description="most students first; 0: made by nobody")
    questions: list[QuestionStats] = Field(description="quizzes; empty for an exercise")
    first_attempt_score: ScoreSummary = Field(description="each student's first graded score")
    attempts_to_full_marks: AttemptsToFull
    unknown_mistakes: list[UnknownGroup] = Field(description="largest groups first")


@bp.get("/courses/<course>/assignments/<slug>/stats")
@token_required
def show_assignment_stats(course: str, slug: str):
    """Return an assignment's class statistics (instructors and TAs)."""
    found = get_assignment(g.user, course, slug)
    require_staff(g.user, found.course)
    return api_stats(assignment_stats(found))
