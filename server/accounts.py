"""Accounts: users, passwords and API tokens. Knows nothing of HTTP."""

import hashlib
import secrets

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from server.extensions import db
from server.models import ApiToken, Role, User

# A valid hash to compare against when the e-mail is unknown, so a failed
# log-in takes as long for a missing account as for a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password")


def find_user(email: str) -> User | None:
    """Return the user with this e-mail (case-insensitive), if any."""
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def ensure_user(email: str, name: str, password: str, role: Role = Role.STUDENT) -> User:
    """Return the user with this e-mail, creating it with the given password if new."""
    user = find_user(email)
    if user is None:
        user = User(email=email.strip().lower(), name=name, role=role)
        user.password_hash = generate_password_hash(password)
        db.session.add(user)
        db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the user if the e-mail and password match."""
    user = find_user(email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User) -> str:
    """Make a new API token for a user; only its digest is stored."""
    token = "rbc_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token)))
    return token


def revoke_tokens(user: User) -> int:
    """Delete every API token of a user; return how many there were."""
    result = db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user.id))
    return result.rowcount


def revoke_token(token: str) -> bool:
    """Delete one API token, given its value; False if it was not known."""
    result = db.session.execute(sa.delete(ApiToken).where(ApiToken.token_hash == _digest(token)))
    return result.rowcount == 1


# On the path of every API request: built once, only the digest is bound per call
# (building and keying the statement each time cost as much as running it).
_TOKEN_OWNER = sa.select(User).join(ApiToken).where(ApiToken.token_hash == sa.bindparam("digest"))


def user_for_token(token: str) -> User | None:
    """Return the owner of a bearer token, if the token is known."""
    # A SHA-256 digest of a 256-bit random token needs no slow hash or salt.
    return db.session.scalar(_TOKEN_OWNER, {"digest": _digest(token)})
