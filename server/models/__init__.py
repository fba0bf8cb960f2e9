"""Typed SQLAlchemy models; tables come only from Alembic migrations."""

from server.models.accounts import ApiToken, LoginFailures, LoginSession, Role, User
from server.models.attempts import QuizAnswer, QuizAttempt
from server.models.content import Question, Quiz
from server.models.courses import Assignment, AssignmentKind, Course, Enrollment, ScorePolicy
from server.models.exercises import Exercise, Submission, SubmissionStatus

__all__ = [
    "ApiToken",
    "Assignment",
    "AssignmentKind",
    "Course",
    "Enrollment",
    "Exercise",
    "LoginFailures",
    "LoginSession",
    "Question",
    "Quiz",
    "QuizAnswer",
    "QuizAttempt",
    "Role",
    "ScorePolicy",
    "Submission",
    "SubmissionStatus",
    "User",
]
