"""JSON errors: {"error": {"code": ..., "message": ...}} with a fitting status."""

from flask import jsonify
from werkzeug.exceptions import HTTPException

from server.api import bp
from server.courses import Forbidden, NotFound
from server.scoring.quizzes import AttemptRefused, InvalidAnswers


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


@bp.errorhandler(AttemptRefused)
def _attempt_refused(exc: AttemptRefused):
    return error_response(409, exc.code, str(exc))


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Turn a werkzeug HTTP error (404, 405, 413, ...) into the JSON shape."""
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_response(exc.code or 500, code, exc.description or exc.name)
