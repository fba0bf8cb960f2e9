"""Reading untrusted input once, for the API and the pages: JSON bodies, ids and numbers.

Every route reads its ids and JSON bodies through here, so a malformed one is a 4xx
everywhere instead of an exception deep in a view or in the database driver.
"""

import re
from typing import TypeVar

import orjson
from flask import request
from pydantic import ValidationError
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from server.api import bp
from server.api.errors import ApiError
from server.api.models import Body

B = TypeVar("B", bound=Body)

# Ids are INTEGER columns: 32-bit signed in PostgreSQL (64-bit in SQLite). A larger one
# reaches the driver as an out-of-range error (a 5xx), so it is refused before any query.
MAX_ID = 2**31 - 1
ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits only, 1 to MAX_ID, else the route is a 404.

    Werkzeug's own converter matches any Unicode digit (`\\d`) and has no upper bound.
    """

    regex = r"[0-9]+"

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def parse_id(raw: str) -> int | None:
    """Return a row id written in ASCII digits within 1..MAX_ID, or None."""
    if not ASCII_DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


@bp.before_app_request
def refuse_nul_in_url() -> None:
    """Answer 400 to a URL holding a NUL character, on every route (pages too).

    PostgreSQL's text cannot hold NUL: a course slug or ?student= with %00 would fail
    in the driver, which the API would report as the database being unavailable (503).
    """
    if "\x00" in request.path or b"%00" in request.query_string.lower():
        raise BadRequest("the URL holds a NUL character (%00)")


def json_body() -> dict:
    """Return the request's JSON object, or raise a 400 that says what is wrong.

    orjson, not the standard library: it refuses lone surrogates (which no database
    driver can store: UnicodeEncodeError, a 500) and nesting deeper than 1024 levels
    (the standard parser recurses and raises RecursionError on 100,000), both as
    ordinary decode errors.
    """
    try:
        body = orjson.loads(request.get_data(cache=True))
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    if _holds_nul(body):
        raise ApiError(400, "invalid_json", "a string in the body holds a NUL character (\\u0000)")
    return body


def body(model: type[B], optional: bool = False) -> B:
    """Return the request's JSON object validated by model; 422 naming the field if refused.

    An optional body may be left empty, which reads as {}.
    """
    raw = json_body() if request.get_data(cache=True) or not optional else {}
    return validated(model, raw)


def validated(model: type[B], raw: dict) -> B:
    """Return a parsed JSON object validated by model; 422 naming the field if refused."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])  # the body is an object: a field is at fault
        raise ApiError(422, model.error_code, model.error_message, field=field) from None


def _holds_nul(value: object) -> bool:
    """Tell whether any string (or key) in parsed JSON holds NUL, which PostgreSQL refuses.

    A loop over a stack, not recursion: orjson accepts 1,024 levels, past Python's limit.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
