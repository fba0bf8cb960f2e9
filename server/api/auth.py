"""Bearer-token authentication for API views."""

from functools import wraps

from flask import g, request

from server.accounts import TokenExpired, user_for_token
from server.api.errors import ApiError


def token_required(view):
    """Run the view with `g.user` set from the Authorization header, or answer 401."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "send an 'Authorization: Bearer TOKEN' header")
        try:
            g.user = user_for_token(token.strip())
        except TokenExpired as expired:
            message = f"{expired}; ask for a new one (rubric token create)"
            when = expired.expired_at.isoformat(timespec="seconds")
            raise ApiError(401, "token_expired", message, expired_at=when) from None
        if g.user is None:
            raise ApiError(401, "unauthorized", "the API token is not valid")
        return view(*args, **kwargs)

    return wrapped
