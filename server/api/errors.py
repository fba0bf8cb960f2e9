"""JSON errors: {"error": {"code": ..., "message": ...}} with a fitting status."""

import logging

import sqlalchemy as sa
from flask import jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from server.api import bp
from server.courses import Forbidden, NotFound
from server.scoring.policy import AttemptRefused
from server.scoring.quizzes import InvalidAnswers

log = logging.getLogger("rubric.api")


class ApiError(Exception):
    """An error answer with an HTTP status and a stable code."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(status: int, code: str, message: str, **extra):
    """Return the JSON error body with its status."""
    return jsonify({"error": {"code": code, "message": message, **extra}}), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return error_response(404, "not_found", str(exc))


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    return error_response(403, "forbidden", str(exc))


@bp.errorhandler(InvalidAnswers)
def _invalid_answers(exc: InvalidAnswers):
    return error_response(422, exc.code, str(exc), questions=exc.problems)


# Refusals are 409 (the state forbids it) unless their nature has its own status.
REFUSAL_STATUS = {
    "code_too_large": 413,
    "course_queue_full": 429,
    "idempotency_key_reused": 422,
}


@bp.errorhandler(AttemptRefused)
def _attempt_refused(exc: AttemptRefused):
    response = error_response(REFUSAL_STATUS.get(exc.code, 409), exc.code, str(exc))
    if retry_after := getattr(exc, "retry_after", None):
        response[0].headers["Retry-After"] = str(retry_after)
    return response


@bp.errorhandler(sa.exc.DBAPIError)
def _database_down(exc: sa.exc.DBAPIError):
    # The pool pre-pings connections, so the next request after the database
    # returns reconnects by itself; until then, answer clearly instead of 500.
    log.warning("database unavailable: %s", exc.orig)
    response = error_response(503, "database_unavailable", "the database is unavailable")
    response[0].headers["Retry-After"] = "5"
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Turn a werkzeug HTTP error (404, 405, 413, ...) into the JSON shape."""
    code = (exc.name or "error").lower().replace(" ", "_")
    body, status = error_response(exc.code or 500, code, exc.description or exc.name)
    if exc.response is not None:  # e.g. Flask-Limiter's 429 carries Retry-After
        body.headers.extend((k, v) for k, v in exc.response.headers if k.lower() != "content-type")
    elif retry_after := getattr(exc, "retry_after", None):
        body.headers["Retry-After"] = str(retry_after)
    allow_methods(body, exc)
    return body, status


def allow_methods(response, exc: HTTPException) -> None:
    """Give a 405 its Allow header (RFC 9110), which a handler's own response would lose."""
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
