"""Accounts: users, passwords and one-time password links, log-in sessions, the log-in
throttle and API tokens.

Knows nothing of HTTP: the web layer passes in addresses, user agents and settings.
"""

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from werkzeug.security import check_password_hash, generate_password_hash

from server.extensions import db
from server.models import (
    ApiToken,
    LoginFailures,
    LoginSession,
    PasswordPurpose,
    PasswordToken,
    Role,
    User,
)
from server.models.types import utcnow

# `rubric token create` without --expires-in: long enough for a term, not forever.
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
# "Last seen" is written at most this often, so a page view rarely costs a write.
_LAST_SEEN_EVERY = timedelta(minutes=1)

# A new account's first password link lasts a week (a roster goes out before term);
# a "forgot password" link an hour, as it is asked for by whoever knows the e-mail.
PASSWORD_LINK_LIFETIME = {
    PasswordPurpose.SET: timedelta(days=7),
    PasswordPurpose.RESET: timedelta(hours=1),
}
# The password hash of an account whose owner has not set a password yet: no password
# hashes to it, so nobody logs in until the one-time link is used.
NO_PASSWORD = "!"


def hash_password(password: str) -> str:
    """Hash a password by the app's RUBRIC_PASSWORD_HASH_METHOD (Werkzeug's scrypt).

    Not an environment setting: only the test suite picks a cheap method, as Django's
    tests do, or its thousands of log-ins would spend minutes in scrypt.
    """
    return generate_password_hash(password, method=_hash_method())


def _hash_method() -> str:
    return current_app.config.get("RUBRIC_PASSWORD_HASH_METHOD", "scrypt")


@functools.cache
def _dummy_hash(method: str) -> str:
    """A valid hash to check when the e-mail is unknown, so that a failed log-in takes
    as long for a missing account as for a wrong password."""
    return generate_password_hash("not-a-password", method=method)


def find_user(email: str) -> User | None:
    """Return the user with this e-mail (case-insensitive), if any."""
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def ensure_user(email: str, name: str, password: str, role: Role = Role.STUDENT) -> User:
    """Return the user with this e-mail, creating it with the given password if new."""
    user = find_user(email)
    if user is None:
        user = User(email=email.strip().lower(), name=name, role=role)
        user.password_hash = hash_password(password)
        db.session.add(user)
        db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the user if the e-mail and password match."""
    user = find_user(email)
    if user is None or user.password_hash == NO_PASSWORD:
        check_password_hash(_dummy_hash(_hash_method()), password)  # as slow as a wrong password
        return None
    return user if check_password_hash(user.password_hash, password) else None


def new_user(email: str, name: str) -> User:
    """Add an account with no password yet; its owner sets one through a password link."""
    user = User(email=email.strip().lower(), name=name, role=Role.STUDENT)
    user.password_hash = NO_PASSWORD
    db.session.add(user)
    return user


def set_password(user: User, password: str) -> None:
    """Store a new password for a user (hashed)."""
    user.password_hash = hash_password(password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# One-time password links: the link holds a random token, the table its SHA-256 digest.


def create_password_token(user: User, purpose: PasswordPurpose) -> str:
    """Make a one-time password link's token; the user's older links stop working."""
    db.session.execute(sa.delete(PasswordToken).where(PasswordToken.user_id == user.id))
    token = "rbp_" + secrets.token_urlsafe(32)
    expires_at = utcnow() + PASSWORD_LINK_LIFETIME[purpose]
    row = PasswordToken(
        user_id=user.id, token_hash=_digest(token), purpose=purpose, expires_at=expires_at
    )
    db.session.add(row)
    return token


def password_token_user(token: str) -> User | None:
    """Return the user a live password link is for, or None (unknown, used or expired)."""
    query = sa.select(PasswordToken).where(PasswordToken.token_hash == _digest(token))
    row = db.session.scalar(query)
    if row is None or row.expires_at <= utcnow():
        return None
    return row.user


def use_password_token(token: str, password: str) -> User | None:
    """Set a password through a one-time link, ending the user's sessions; None if it is dead."""
    user = password_token_user(token)
    if user is None:
        return None
    # Deleting by digest and counting: of two posts of one link, only one sets a password.
    used = sa.delete(PasswordToken).where(PasswordToken.token_hash == _digest(token))
    if db.session.execute(used).rowcount != 1:
        return None
    db.session.execute(sa.delete(PasswordToken).where(PasswordToken.user_id == user.id))
    set_password(user, password)
    end_sessions(user)
    return user


class TokenExpired(Exception):
    """An API token that was valid once, but whose time is up."""

    def __init__(self, expired_at: datetime):
        super().__init__(f"the API token expired at {expired_at.isoformat(timespec='seconds')}")
        self.expired_at = expired_at


def create_token(user: User, lifetime: timedelta | None = DEFAULT_TOKEN_LIFETIME) -> str:
    """Make a new API token for a user, valid for `lifetime` (None: forever); store its digest."""
    token = "rbc_" + secrets.token_urlsafe(32)
    expires_at = utcnow() + lifetime if lifetime is not None else None
    db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=expires_at))
    return token


def revoke_tokens(user: User) -> int:
    """Delete every API token of a user; return how many there were."""
    result = db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user.id))
    return result.rowcount


def tokens_of(user: User) -> list[ApiToken]:
    """Return a user's API tokens, the newest first."""
    return list(db.session.scalars(user.tokens.select().order_by(ApiToken.id.desc())))


def revoke_token_of(user: User, token_id: int) -> bool:
    """Delete one of a user's own API tokens by its row id; False if they have no such token."""
    query = sa.delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    return db.session.execute(query).rowcount == 1


def revoke_token(token: str) -> bool:
    """Delete one API token, given its value; False if it was not known."""
    result = db.session.execute(sa.delete(ApiToken).where(ApiToken.token_hash == _digest(token)))
    return result.rowcount == 1


# On the path of every API request: built once, only the digest is bound per call
# (building and keying the statement each time cost as much as running it).
_TOKEN_OWNER = (
    sa.select(User, ApiToken.expires_at)
    .join(ApiToken)
    .where(ApiToken.token_hash == sa.bindparam("digest"))
)


def user_for_token(token: str) -> User | None:
    """Return the owner of a bearer token, if the token is known; raise TokenExpired if old."""
    # A SHA-256 digest of a 256-bit random token needs no slow hash or salt.
    row = db.session.execute(_TOKEN_OWNER, {"digest": _digest(token)}).first()
    if row is None:
        return None
    user, expires_at = row
    if expires_at is not None and expires_at <= utcnow():
        raise TokenExpired(expires_at)
    return user


# Log-in sessions: the browser's cookie holds a random id, the table its SHA-256 digest.


def open_session(user: User, user_agent: str, address: str, limits: "SessionLimits") -> str:
    """Start a log-in session for a user; return its id (for the cookie), set on the user.

    The user's expired sessions are deleted here: a browser closed for good never
    presents its cookie again, so nothing else would remove its row.
    """
    now = utcnow()
    expired = sa.or_(
        LoginSession.created_at <= now - limits.lifetime,
        LoginSession.last_seen_at <= now - limits.idle,
    )
    db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id, expired))
    session_id = "rbs_" + secrets.token_urlsafe(32)
    row = LoginSession(
        user_id=user.id,
        token_hash=_digest(session_id),
        user_agent=user_agent[:256],
        address=address[:64],
    )
    db.session.add(row)
    user.session_id = session_id
    return session_id


@dataclass(frozen=True)
class SessionLimits:
    """How long a log-in lasts in all, and without a request."""

    lifetime: timedelta
    idle: timedelta

    def expired(self, row: LoginSession, now: datetime) -> bool:
        """Tell whether a session is past its lifetime or has been idle too long."""
        return now >= row.created_at + self.lifetime or now >= row.last_seen_at + self.idle


_SESSION_OWNER = (
    sa.select(LoginSession, User)
    .join(User, LoginSession.user_id == User.id)
    .where(LoginSession.token_hash == sa.bindparam("digest"))
)


def user_for_session(session_id: str, limits: SessionLimits) -> User | None:
    """Return the user of a live session (ending it if expired), noting when it was last seen."""
    row = db.session.execute(_SESSION_OWNER, {"digest": _digest(session_id)}).first()
    if row is None:
        return None
    login, user = row
    now = utcnow()
    if limits.expired(login, now):
        db.session.delete(login)
        db.session.commit()
        return None
    if now - login.last_seen_at >= _LAST_SEEN_EVERY:
        login.last_seen_at = now
        db.session.commit()
    user.session_id = session_id
    return user


def end_session(session_id: str) -> None:
    """End one log-in session, wherever its cookie is."""
    digest = _digest(session_id)
    db.session.execute(sa.delete(LoginSession).where(LoginSession.token_hash == digest))


def end_sessions(user: User, keep: str | None = None) -> int:
    """End every log-in session of a user, but `keep` (a session id) if given; return how many."""
    query = sa.delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep is not None:
        query = query.where(LoginSession.token_hash != _digest(keep))
    return db.session.execute(query).rowcount


def sessions_of(user: User) -> list[LoginSession]:
    """Return a user's log-in sessions, the most recently used first."""
    query = user.sessions.select().order_by(LoginSession.last_seen_at.desc())
    return list(db.session.scalars(query))


def is_session(row: LoginSession, session_id: str | None) -> bool:
    """Tell whether a session row is the one with this id."""
    return session_id is not None and row.token_hash == _digest(session_id)


def change_password(user: User, current: str, new: str) -> bool:
    """Set a new password if the current one matches, ending the user's other sessions."""
    if not check_password_hash(user.password_hash, current):
        return False
    set_password(user, new)
    end_sessions(user, keep=user.session_id)
    return True


# The log-in throttle: failures counted per account and per address, with a bounded backoff.
# A table rather than Flask-Limiter: its fixed windows have no growing backoff, and its
# default in-memory counters are per gunicorn worker (one more table row is shared by
# every worker and web machine, and survives restarts).


@dataclass(frozen=True)
class Throttle:
    """Failed log-ins let through free, and the longest wait the backoff asks for."""

    free_per_account: int
    free_per_address: int
    max_delay: timedelta

    @property
    def forget_after(self) -> timedelta:
        """Failures older than this are forgotten (so a typo last week costs nothing)."""
        return 4 * self.max_delay

    def delay(self, failures: int, free: int) -> timedelta:
        """The wait after `failures` failures: none for the free ones, then 1 s, 2 s, 4 s..."""
        if failures < free:
            return timedelta(0)
        return min(timedelta(seconds=2 ** min(failures - free, 30)), self.max_delay)


def throttle_keys(email: str, address: str) -> dict[str, str]:
    """Return the counters a log-in attempt touches, by scope."""
    return {"account": "account:" + email.strip().lower()[:254], "address": "address:" + address}


def claim_attempt(throttle: Throttle, keys: dict[str, str]) -> tuple[str, int] | None:
    """Count a log-in attempt before its password is checked, or say how long it must wait.

    Returns None when the attempt may go on (it is counted as a failure until
    `attempt_succeeded`), else the scope that holds it back and the seconds to wait.
    Past the free attempts, a count only goes up from the value just read, so of
    several attempts sent at the same instant exactly one is let through per wait.
    """
    now = utcnow()
    # Read afresh: a session kept from an earlier call would hold old counts.
    query = sa.select(LoginFailures).where(LoginFailures.key.in_(keys.values()))
    rows = db.session.scalars(query.execution_options(populate_existing=True))
    seen = {row.key: row for row in rows}
    free = {"account": throttle.free_per_account, "address": throttle.free_per_address}
    for scope, key in keys.items():
        if (row := seen.get(key)) is not None and now - row.last_failed_at < throttle.forget_after:
            left = row.last_failed_at + throttle.delay(row.count, free[scope]) - now
            if left > timedelta(0):
                db.session.rollback()
                return scope, -(-left // timedelta(seconds=1))  # whole seconds, rounded up
    for scope, key in keys.items():
        if not _count(key, seen.get(key), free[scope], now, throttle.forget_after):
            db.session.rollback()  # another attempt was counted first: it is this one's turn
            return scope, 1
    db.session.commit()
    _forget_old_failures(now - throttle.forget_after)
    return None


def _forget_old_failures(before: datetime) -> None:
    """Delete forgotten counts, so an attacker trying many e-mails cannot grow the table."""
    try:
        db.session.execute(sa.delete(LoginFailures).where(LoginFailures.last_failed_at < before))
        db.session.commit()
    except sa.exc.OperationalError:
        # Housekeeping only: two log-ins deleting the same rows may deadlock on PostgreSQL;
        # the next log-in deletes them instead.
        db.session.rollback()


def _count(
    key: str, row: LoginFailures | None, free: int, now: datetime, forget_after: timedelta
) -> bool:
    """Add one to a key's count (from 0 if forgotten), unless another attempt changed it."""
    if row is None:
        insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        query = insert(LoginFailures).values(key=key, count=1, last_failed_at=now)
        if free > 1:  # a classroom's first log-ins, all at once: each counts, none waits
            more = {"count": LoginFailures.count + 1, "last_failed_at": now}
            query = query.on_conflict_do_update(index_elements=[LoginFailures.key], set_=more)
        else:
            query = query.on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
        return db.session.execute(query.returning(LoginFailures.key)).first() is not None
    forgotten = now - row.last_failed_at >= forget_after
    count = 1 if forgotten else LoginFailures.count + 1
    query = sa.update(LoginFailures).where(LoginFailures.key == key)
    query = query.values(count=count, last_failed_at=now)
    if forgotten or row.count + 1 >= free:  # starts again, or starts or goes on backing off
        query = query.where(LoginFailures.count == row.count)
    return db.session.execute(query).rowcount == 1


def attempt_succeeded(keys: dict[str, str]) -> None:
    """Forget the account's failures, and take back the address's count of this attempt.

    The address keeps its other failures: one valid account must not clear an
    attacker's address.
    """
    db.session.execute(sa.delete(LoginFailures).where(LoginFailures.key == keys["account"]))
    query = sa.update(LoginFailures).where(
        LoginFailures.key == keys["address"], LoginFailures.count > 0
    )
    db.session.execute(query.values(count=LoginFailures.count - 1))
