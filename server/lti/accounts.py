"""The Rubric account of an LMS user, and their enrolment in the linked course by LTI role."""

import hashlib
import logging
from typing import Any

import sqlalchemy as sa

from server.accounts import NO_PASSWORD, find_user
from server.courses import audit
from server.extensions import db
from server.lti.launch import CLAIM, Launch
from server.models import Course, Enrollment, LtiUser, Role, User

log = logging.getLogger("rubric.lti")

# Context roles (LIS vocabulary) that teach; the short forms are deprecated but still sent.
TEACHING_ROLES = {
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "Instructor",
    "ContentDeveloper",
    "TeachingAssistant",
}


def role_of(roles: Any) -> Role:
    """Instructor for a teaching role; anything else, or no role at all, is a student."""
    if isinstance(roles, list) and any(role in TEACHING_ROLES for role in roles):
        return Role.INSTRUCTOR
    return Role.STUDENT


def _name(claims: dict[str, Any]) -> str:
    joined = " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p)
    return (claims.get("name") or joined or "LMS user")[:120]


def _placeholder_email(issuer: str, sub: str) -> str:
    """An address no one can log in with, unique per (issuer, sub)."""
    digest = hashlib.sha256(f"{issuer}\0{sub}".encode()).hexdigest()[:24]
    return f"lti-{digest}@lti.invalid"


def _email(claims: dict[str, Any], issuer: str, sub: str) -> str:
    """The token's e-mail if free; never the address of an existing account.

    Taking over an existing account on an LMS's say-so would let any platform admin
    log in as anyone; the accounts stay apart until linked on purpose (later session).
    """
    email = claims.get("email")
    if isinstance(email, str) and "@" in email and len(email) <= 254:
        if find_user(email) is None:
            return email.strip().lower()
        log.warning("lti: %s's e-mail belongs to an existing account; not merged", sub)
    return _placeholder_email(issuer, sub)


def user_for(launch: Launch) -> User:
    """The account of (issuer, sub), created on the first launch.

    Two first launches at once (a double click, two tabs) both find no account; the
    unique (issuer, sub) and e-mail let one insert win, and the other, on its
    IntegrityError, takes the winner's account. A second try covers an e-mail taken
    meanwhile by another account: it then gets the placeholder address.
    """
    issuer, sub = launch.platform.issuer, str(launch.claims["sub"])
    for _ in range(CREATE_TRIES):
        if identity := _identity(issuer, sub):
            return identity.user
        try:
            return _create(launch, issuer, sub)
        except sa.exc.IntegrityError:
            db.session.rollback()
            log.info("lti: concurrent first launch of %s at %s; using its account", sub, issuer)
    identity = _identity(issuer, sub)
    if identity is None:
        raise RuntimeError(f"no account for {sub} at {issuer} after {CREATE_TRIES} tries")
    return identity.user


CREATE_TRIES = 3


def _identity(issuer: str, sub: str) -> LtiUser | None:
    return db.session.scalar(sa.select(LtiUser).filter_by(issuer=issuer, sub=sub))


def _create(launch: Launch, issuer: str, sub: str) -> User:
    """Insert the account and its (issuer, sub) in one transaction."""
    # No password logs in to it. Not the scrypt hash of a random secret: that cost
    # 0.2 s of CPU per account, 90% of a roster pull (bench/lti_roster_bench.py).
    user = User(
        email=_email(launch.claims, issuer, sub),
        name=_name(launch.claims),
        role=Role.STUDENT,
        password_hash=NO_PASSWORD,
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(LtiUser(issuer=issuer, sub=sub, user_id=user.id))
    db.session.commit()
    log.info("lti: new account %s for %s at %s", user.id, sub, issuer)
    return user


def enrol(user: User, course: Course, roles: Any, issuer: str) -> Enrollment:
    """Enrol the user in the course with the role the LMS (issuer) gives now; audited."""
    role = role_of(roles)
    try:
        return _set_enrolment(user, course, role, issuer)
    except sa.exc.IntegrityError:
        # Two first launches at once: the other one enrolled them; set the role on it.
        db.session.rollback()
        return _set_enrolment(user, course, role, issuer)


def _set_enrolment(user: User, course: Course, role: Role, issuer: str) -> Enrollment:
    query = sa.select(Enrollment).filter_by(course_id=course.id, user_id=user.id)
    enrolment = db.session.scalar(query)
    actor = f"LMS {issuer}"
    if enrolment is None:
        enrolment = Enrollment(course_id=course.id, user_id=user.id, role=role)
        db.session.add(enrolment)
        after = {"role": role.value, "name": user.name}
        audit.record(course, actor, "roster.add", user.email, None, after)
    elif enrolment.role != role:
        # The LMS is the source of truth for its course's roles.
        before = {"role": enrolment.role.value}
        enrolment.role = role
        audit.record(course, actor, "roster.role", user.email, before, {"role": role.value})
    db.session.commit()
    return enrolment


def launch_roles(launch: Launch) -> Any:
    """The token's roles claim."""
    return launch.claims.get(CLAIM + "roles")
