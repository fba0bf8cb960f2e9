"""Taking a quiz: what a student sees, and scoring and recording an attempt."""

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import Assignment, Question, Quiz, QuizAnswer, QuizAttempt, User
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


def current_quiz(assignment: Assignment) -> Quiz:
    """Return the newest synced version of the assignment's quiz."""
    quiz = db.session.scalar(
        sa.select(Quiz)
        .where(Quiz.slug == assignment.content_slug)
        .order_by(Quiz.version.desc())
        .limit(1)
        .options(so.selectinload(Quiz.questions))
    )
    if quiz is None:
        raise LookupError(f"quiz {assignment.content_slug!r} has not been synced")
    return quiz


def question_params(assignment: Assignment, user: User, question: Question) -> dict[str, float]:
    """Return this student's parameter values for a question."""
    seed = student_seed(assignment.id, user.id, question.key)
    return kind_of(question.kind).params_for(question.spec, seed)


def public_questions(assignment: Assignment, user: User, quiz: Quiz) -> list[dict[str, Any]]:
    """Return the questions as this student sees them, without answers."""
    return [
        {"id": q.key, "kind": q.kind, "points": q.points}
        | kind_of(q.kind).public(q.spec, question_params(assignment, user, q))
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


def parse_answers(quiz: Quiz, answers: Any) -> dict[str, Any]:
    """Parse raw responses by question id; raise InvalidAnswers naming each bad one."""
    if not isinstance(answers, dict):
        raise InvalidAnswers({"answers": "must be an object mapping question ids to answers"})
    by_key = {q.key: q for q in quiz.questions}
    problems = {key: "no such question in this quiz" for key in answers if key not in by_key}
    parsed = {}
    for key, raw in answers.items():
        if key in by_key and raw is not None and raw != "" and raw != []:
            try:
                parsed[key] = kind_of(by_key[key].kind).parse(by_key[key].spec, raw)
            except AnswerError as exc:
                problems[key] = str(exc)
    if problems:
        raise InvalidAnswers(problems)
    return parsed


def submit_attempt(assignment: Assignment, user: User, answers: Any) -> QuizAttempt:
    """Score a student's answers and record the attempt, or raise AttemptRefused."""
    quiz = current_quiz(assignment)
    parsed = parse_answers(quiz, answers)
    for _ in range(NUMBER_RETRIES):
        status = attempt_status(assignment, user)
        if status.refusal:
            raise status.refusal
        attempt = _score(assignment, user, quiz, parsed, number=status.used + 1)
        db.session.add(attempt)
        try:
            db.session.commit()
            return attempt
        except IntegrityError:
            db.session.rollback()
    raise AttemptRefused("conflict", "too many simultaneous attempts; try again")


def _score(assignment, user, quiz: Quiz, parsed: dict[str, Any], number: int) -> QuizAttempt:
    attempt = QuizAttempt(
        assignment=assignment,
        user=user,
        quiz=quiz,
        number=number,
        score=0.0,
        max_score=0.0,
    )
    for question in quiz.questions:
        params = question_params(assignment, user, question)
        response = parsed.get(question.key)
        marking = kind_of(question.kind).mark(question.spec, params, response, question.points)
        attempt.answers.append(
            QuizAnswer(
                question=question,
                response=response,
                params=params or None,
                outcome=marking.outcome,
                score=marking.score,
                max_score=question.points,
            )
        )
        attempt.score += marking.score
        attempt.max_score += question.points
    attempt.score = round(attempt.score, 6)
    return attempt


def attempt_result(attempt: QuizAttempt) -> dict[str, Any]:
    """Return a graded attempt as the API and the result page show it."""
    return {
        "id": attempt.id,
        "assignment": attempt.assignment.slug,
        "number": attempt.number,
        "score": attempt.score,
        "max_score": attempt.max_score,
        "submitted_at": attempt.submitted_at.isoformat(),
        "questions": [_answer_result(answer) for answer in attempt.answers],
    }


def _answer_result(answer: QuizAnswer) -> dict[str, Any]:
    question = answer.question
    return {
        "id": question.key,
        "prompt": kind_of(question.kind).public(question.spec, answer.params or {})["prompt"],
        "response": answer.response,
        "outcome": answer.outcome,
        "score": answer.score,
        "max_score": answer.max_score,
        "explanation": question.spec.get("explanation", "").strip(),
    }
