"""Reading untrusted input once, for the API and the pages: JSON bodies, ids and numbers.

Every route reads its ids and JSON bodies through here, so a malformed one is a 4xx
everywhere instead of an exception deep in a view or in the database driver.
"""

import re

import orjson
from flask import request
from werkzeug.routing import IntegerConverter

from server.api.errors import ApiError

# Ids are 64-bit signed integers in PostgreSQL (BIGINT) and SQLite: a larger one is
# sent to the driver as an overflow error (500), so it is refused before any query.
MAX_ID = 2**63 - 1
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
    return body
