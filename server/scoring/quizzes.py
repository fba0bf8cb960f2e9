"""Taking a quiz: what a student sees, and scoring and recording an attempt."""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.lti import passback
from server.models import Assignment, Quiz, QuizAnswer, QuizAttempt, User
from server.models.types import utcnow
from server.scoring import late
from server.scoring.feedback import feedback_shown
from server.scoring.params import student_seed
from server.scoring.policy import AttemptRefused, attempt_status
from server.scoring.questions import AnswerError, kind_of

# Concurrent attempts by one student race for the next attempt number; the
# unique constraint makes the loser retry instead of exceeding the limit.
NUMBER_RETRIES = 5


class InvalidAnswers(AttemptRefused):
    """Some responses cannot be scored; nothing was recorded."""

    def __init__(self, problems: dict[str, str]):
        details = "; ".join(f"{key}: {msg}" for key, msg in problems.items())
        super().__init__("invalid_answer", f"invalid answers: {details}")
        self.problems = problems


@dataclass(frozen=True)
class QuestionVersion:
    """A question of a stored quiz version, as plain data."""

    id: int
    key: str
    kind: str
    points: float
    spec: dict[str, Any]


@dataclass(frozen=True)
class QuizVersion:
    """A stored quiz version as plain data; versions never change once stored."""

    id: int
    slug: str
    version: int
    title: str
    description: str
    questions: tuple[QuestionVersion, ...]

    def question(self, question_id: int) -> QuestionVersion:
        """Return one of this version's questions by its row id."""
        return next(q for q in self.questions if q.id == question_id)


# Stored versions are immutable, so every process may keep them: it saves two
# queries and an ORM load on every attempt.
_versions: dict[int, QuizVersion] = {}


def quiz_version(quiz_id: int) -> QuizVersion:
    """Return a stored quiz version, loading it once per process."""
    if quiz_id not in _versions:
        quiz = db.session.scalar(
            sa.select(Quiz).where(Quiz.id == quiz_id).options(so.selectinload(Quiz.questions))
        )
        questions = tuple(
            QuestionVersion(q.id, q.key, q.kind, q.points, q.spec) for q in quiz.questions
        )
        _versions[quiz_id] = QuizVersion(
            quiz.id, quiz.slug, quiz.version, quiz.title, quiz.description, questions
        )
    return _versions[quiz_id]


def current_quiz(assignment: Assignment) -> QuizVersion:
    """Return the newest synced version of the assignment's quiz."""
    quiz_id = db.session.scalar(
        sa.select(Quiz.id)
        .where(Quiz.slug == assignment.content_slug)
        .order_by(Quiz.version.desc())
        .limit(1)
    )
    if quiz_id is None:
        raise LookupError(f"quiz {assignment.content_slug!r} has not been synced")
    return quiz_version(quiz_id)


def question_params(
    assignment: Assignment, user: User, question: QuestionVersion, attempt: int = 1
) -> dict[str, float]:
    """Return this student's parameter values for a question (in a given attempt)."""
    seed = student_seed(assignment.id, user.id, question.key)
    # Attempt 1 keeps the plain seed, so turning the option on changes no first attempt.
    if question.spec.get("new_numbers_each_attempt") and attempt > 1:
        seed += f":attempt{attempt}"
    return kind_of(question.kind).params_for(question.spec, seed)


def public_questions(assignment: Assignment, user: User, quiz: QuizVersion) -> list[dict[str, Any]]:
    """Return the questions as this student sees them in their next attempt, without answers."""
    redraws = any(q.spec.get("new_numbers_each_attempt") for q in quiz.questions)
    attempt = len(attempts_of(assignment, user)) + 1 if redraws else 1
    return [
        {"id": q.key, "kind": q.kind, "points": q.points}
        | kind_of(q.kind).public(q.spec, question_params(assignment, user, q, attempt))
        for q in quiz.questions
    ]


def attempts_of(assignment: Assignment, user: User) -> list[QuizAttempt]:
    """Return a student's attempts at an assignment, oldest first."""
    return list(
        db.session.scalars(
            sa.select(QuizAttempt)
            .where(QuizAttempt.assignment_id == assignment.id, QuizAttempt.user_id == user.id)
            .order_by(QuizAttempt.number)
        )
    )


def parse_answers(quiz: QuizVersion, answers: Any) -> dict[str, Any]:
    """Parse raw responses by question id; raise InvalidAnswers naming each bad one."""
    if not isinstance(answers, dict):
        raise InvalidAnswers({"answers": "must be an object mapping question ids to answers"})
    by_key = {q.key: q for q in quiz.questions}
    problems = {key: "no such question in this quiz" for key in answers if key not in by_key}
    parsed = {}
    for key, raw in answers.items():
        if key not in by_key or _blank(raw):
            continue
        try:
            value = kind_of(by_key[key].kind).parse(by_key[key].spec, raw)
        except AnswerError as exc:
            problems[key] = str(exc)
            continue
        if value is not None:  # e.g. no box ticked: blank, like an omitted question
            parsed[key] = value
    if problems:
        raise InvalidAnswers(problems)
    return parsed


def unanswered(quiz: QuizVersion, responses: dict[str, Any]) -> list[str]:
    """Return the ids of the questions left blank, in the quiz's order (before submitting)."""
    return [q.key for q in quiz.questions if _blank(responses.get(q.key)) or responses[q.key] == []]


def _blank(raw: Any) -> bool:
    """Tell a blank response (null, or a string of nothing but spaces) from a given one.

    A list, an object or a boolean is not blank: each kind judges it (422 if it is not
    the kind's type), so a client's mistake is not silently recorded as unanswered.
    """
    return raw is None or (isinstance(raw, str) and not raw.strip())


@dataclass(frozen=True)
class RecordedAttempt:
    """A scored attempt as stored: its id and what the student is shown."""

    id: int
    result: dict[str, Any]


def submit_attempt(assignment: Assignment, user: User, answers: Any) -> RecordedAttempt:
    """Score a student's answers and record the attempt, or raise AttemptRefused."""
    quiz = current_quiz(assignment)
    parsed = parse_answers(quiz, answers)
    for _ in range(NUMBER_RETRIES):
        status = attempt_status(assignment, user)
        if status.refusal:
            raise status.refusal
        answers_rows = _mark(assignment, user, quiz, parsed, attempt=status.used + 1)
        try:
            return _record(assignment, user, quiz, answers_rows, number=status.used + 1)
        except IntegrityError:
            db.session.rollback()
    raise AttemptRefused("conflict", "too many simultaneous attempts; try again")


def _mark(
    assignment, user, quiz: QuizVersion, parsed: dict[str, Any], attempt: int = 1
) -> list[dict[str, Any]]:
    """Score every question with the attempt's numbers; return the answer rows to store."""
    rows = []
    for question in quiz.questions:
        params = question_params(assignment, user, question, attempt)
        response = parsed.get(question.key)
        marking = kind_of(question.kind).mark(question.spec, params, response, question.points)
        rows.append(
            {
                "question_id": question.id,
                "response": response,
                "params": params or None,
                "outcome": marking.outcome,
                "score": marking.score,
                "max_score": question.points,
            }
        )
    return rows


def _record(assignment, user, quiz: QuizVersion, rows, number: int) -> RecordedAttempt:
    """Insert the attempt and its answers in one transaction (Core: this is the hot path)."""
    submitted_at = utcnow()
    score = round(sum(row["score"] for row in rows), 6)
    max_score = sum(row["max_score"] for row in rows)
    attempt_id = db.session.scalar(
        sa.insert(QuizAttempt)
        .values(
            assignment_id=assignment.id,
            user_id=user.id,
            quiz_id=quiz.id,
            number=number,
            score=score,
            max_score=max_score,
            submitted_at=submitted_at,
        )
        .returning(QuizAttempt.id)
    )
    db.session.execute(sa.insert(QuizAnswer), [row | {"attempt_id": attempt_id} for row in rows])
    passback.score_changed(assignment, user)  # the LMS's copy, in the same transaction
    db.session.commit()
    shown = feedback_shown(user, assignment, user.id, submitted_at)
    result = {
        "id": attempt_id,
        "assignment": assignment.slug,
        "number": number,
        **_late_fields(assignment, user.id, score, max_score, submitted_at),
        "max_score": max_score,
        "submitted_at": submitted_at.isoformat(),
        "feedback_released": shown,
        "questions": [
            _answer_result(quiz.question(row["question_id"]), row, shown) for row in rows
        ],
    }
    return RecordedAttempt(attempt_id, result)


def _late_fields(assignment, user_id: int, score: float, max_score: float, at) -> dict:
    """The counted score of an attempt: late by the stored time and the student's own dates."""
    dates = late.dates_for(assignment, user_id)
    marked = late.mark(score, max_score, at, dates, late.rule_of(assignment))
    counted = {"score": marked.score, "raw_score": score}
    return counted | {"penalty": marked.penalty, "late": marked.late}


def attempt_result(attempt: QuizAttempt, viewer: User) -> dict[str, Any]:
    """Return a stored attempt as the result page shows it to the viewer."""
    quiz = quiz_version(attempt.quiz_id)
    shown = feedback_shown(viewer, attempt.assignment, attempt.user_id)
    return {
        "id": attempt.id,
        "assignment": attempt.assignment.slug,
        "number": attempt.number,
        **_late_fields(
            attempt.assignment,
            attempt.user_id,
            attempt.score,
            attempt.max_score,
            attempt.submitted_at,
        ),  # fmt: skip
        "max_score": attempt.max_score,
        "submitted_at": attempt.submitted_at.isoformat(),
        "feedback_released": shown,
        "questions": [
            _answer_result(quiz.question(answer.question_id), _stored(answer), shown)
            for answer in attempt.answers
        ],
    }


def _stored(answer: QuizAnswer) -> dict[str, Any]:
    fields = ("response", "params", "outcome", "score", "max_score")
    return {name: getattr(answer, name) for name in fields}


def _answer_result(
    question: QuestionVersion, answer: dict[str, Any], shown: bool
) -> dict[str, Any]:
    """One marked answer; its explanation and right choices only once feedback is released."""
    result = {
        "id": question.key,
        "prompt": kind_of(question.kind).public(question.spec, answer["params"] or {})["prompt"],
        "response": answer["response"],
        "outcome": answer["outcome"],
        "score": answer["score"],
        "max_score": answer["max_score"],
        "explanation": question.spec.get("explanation", "").strip() if shown else "",
    }
    if shown and question.spec.get("choices"):
        right = question.spec.get("answer")
        result["right"] = [right] if isinstance(right, str) else list(right or [])
    return result
