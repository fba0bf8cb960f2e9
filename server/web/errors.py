"""Error pages: HTML for the site, the JSON shape under /api/ and for the pages' .json."""

import functools

from flask import make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from server.api.errors import allow_methods, error_response, http_error
from server.courses import Forbidden, NotFound
from server.web import bp

MESSAGES = {
    400: "The request could not be understood. If you submitted a form, reload the page "
    "and try again.",
    403: "You do not have permission to see this page.",
    404: "There is nothing here, or you may not see it.",
    405: "This page does not accept that kind of request.",
    413: "What you sent is too large.",
    500: "Something went wrong on our side. Please try again in a moment.",
}


def error_page(status: int, title: str, message: str | None = None):
    """Render the HTML error page with its status."""
    text = message or MESSAGES.get(status, "")
    # A 500 may come from a broken database, so its page must not look up the user.
    page = render_template(
        "error.html", status=status, title=title, message=text, bare=status >= 500
    )
    return page, status


def _wants_json() -> bool:
    """The API and the pages' own .json endpoints (read by their scripts) answer in JSON."""
    return request.path.startswith("/api/") or request.path.endswith(".json")


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if _wants_json():
        return http_error(exc)
    # Werkzeug's own descriptions talk to developers, so users get plainer words.
    page, status = error_page(exc.code or 500, exc.name)
    response = make_response(page, status)
    allow_methods(response, exc)
    return response


@bp.app_errorhandler(CSRFError)
def _csrf_error(exc: CSRFError):
    if _wants_json():
        return http_error(exc)
    message = (
        f"The form could not be accepted ({exc.description}). It may have been open too long "
        "or sent from another site: reload the page and submit it again."
    )
    return error_page(400, "Form expired", message)


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):
    if _wants_json():
        return error_response(404, "not_found", str(exc))
    return error_page(404, "Not Found")


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    if _wants_json():
        return error_response(403, "forbidden", str(exc))
    return error_page(403, "Forbidden", f"You may not see this page: {exc}.")


def nul_free(view):
    """Refuse a form holding NUL with a clear 400: PostgreSQL's text cannot store it (a 500)."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        if request.method == "POST" and any("\x00" in v for _, v in request.form.items(multi=True)):
            message = "The form holds a NUL character (\\0), which no field accepts."
            return error_page(400, "Bad character in the form", message)
        return view(*args, **kwargs)

    return checked
