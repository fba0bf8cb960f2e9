"""Typed SQLAlchemy models; tables come only from Alembic migrations."""

from server.models.accounts import ApiToken, LoginFailures, LoginSession, Role, User
from server.models.attempts import QuizAnswer, QuizAttempt
from server.models.content import Question, Quiz
from server.models.courses import (
    Accommodation,
    Assignment,
    AssignmentKind,
    Course,
    Enrollment,
    Extension,
    FeedbackRelease,
    ScoreOverride,
    ScorePolicy,
)
from server.models.drafts import Draft
from server.models.exercises import Exercise, Submission, SubmissionStatus
from server.models.lti import (
    LtiContext,
    LtiDeployment,
    LtiLoginState,
    LtiNonce,
    LtiPassback,
    LtiPendingLaunch,
    LtiPlatform,
    LtiResourceLink,
    LtiToolKey,
    LtiUser,
    PassbackStatus,
)
from server.models.manual import ManualGrade
from server.models.people import AuditEntry, PasswordPurpose, PasswordToken

__all__ = [
    "Accommodation",
    "ApiToken",
    "Assignment",
    "AuditEntry",
    "AssignmentKind",
    "Course",
    "Draft",
    "Enrollment",
    "Exercise",
    "Extension",
    "FeedbackRelease",
    "LoginFailures",
    "LoginSession",
    "LtiContext",
    "LtiDeployment",
    "LtiLoginState",
    "LtiNonce",
    "LtiPassback",
    "LtiPendingLaunch",
    "LtiPlatform",
    "LtiResourceLink",
    "LtiToolKey",
    "LtiUser",
    "ManualGrade",
    "PassbackStatus",
    "PasswordPurpose",
    "PasswordToken",
    "Question",
    "Quiz",
    "QuizAnswer",
    "QuizAttempt",
    "Role",
    "ScoreOverride",
    "ScorePolicy",
    "Submission",
    "SubmissionStatus",
    "User",
]
