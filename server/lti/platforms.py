"""Registered LMS platforms, their deployments, and links of LMS courses to Rubric courses."""

from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from server.extensions import db
from server.models import Course, LtiContext, LtiDeployment, LtiPlatform

# Plain http is only for a platform on this machine, during development and in tests.
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class BadValue(ValueError):
    """A registration value that cannot be right; its message is one line."""


@dataclass(frozen=True)
class Registration:
    """What `rubric lti platform add` gives."""

    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    auth_token_url: str
    keyset_url: str
    name: str = ""


def check_url(option: str, url: str) -> str:
    """Return the URL if it is https (or http on this machine); else raise BadValue."""
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or local):
        raise BadValue(f"{option}: {url!r} is not an https URL (http only for localhost)")
    return url


def _check(reg: Registration) -> None:
    check_url("--issuer", reg.issuer)
    for option, url in (
        ("--auth-login-url", reg.auth_login_url),
        ("--auth-token-url", reg.auth_token_url),
        ("--keyset-url", reg.keyset_url),
    ):
        check_url(option, url)
    if not reg.client_id.strip():
        raise BadValue("--client-id: empty")
    if not reg.deployment_ids or not all(d.strip() for d in reg.deployment_ids):
        raise BadValue("--deployment-id: give at least one, none empty")


def add_platform(reg: Registration) -> tuple[LtiPlatform, bool]:
    """Register or update the platform (issuer, client id); return it and whether it is new."""
    _check(reg)
    platform = find_platform(reg.issuer, reg.client_id)
    created = platform is None
    if platform is None:
        platform = LtiPlatform(issuer=reg.issuer, client_id=reg.client_id)
        db.session.add(platform)
    platform.auth_login_url = reg.auth_login_url
    platform.auth_token_url = reg.auth_token_url
    platform.keyset_url = reg.keyset_url
    platform.name = reg.name or platform.name or ""
    known = {d.deployment_id for d in platform.deployments}
    for deployment_id in dict.fromkeys(reg.deployment_ids):
        if deployment_id not in known:
            platform.deployments.append(LtiDeployment(deployment_id=deployment_id))
    db.session.commit()
    return platform, created


def find_platform(issuer: str, client_id: str | None = None) -> LtiPlatform | None:
    """The platform of an issuer (and client id); with no client id, the only one it has."""
    query = sa.select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = list(db.session.scalars(query.limit(2)))
    # Without a client id an issuer with two registrations is ambiguous: refuse it.
    return found[0] if len(found) == 1 else None


def platforms() -> list[LtiPlatform]:
    """Every registered platform, oldest first."""
    return list(db.session.scalars(sa.select(LtiPlatform).order_by(LtiPlatform.id)))


def has_deployment(platform: LtiPlatform, deployment_id: str) -> bool:
    """Whether the deployment id is registered for the platform."""
    return any(d.deployment_id == deployment_id for d in platform.deployments)


def link_context(issuer: str, context_id: str, course: Course, title: str = "") -> LtiContext:
    """Bind an LMS course (issuer, context id) to a Rubric course, replacing any binding."""
    if find_platform_any(issuer) is None:
        raise BadValue(f"--issuer: no platform registered with issuer {issuer!r}")
    link = find_context(issuer, context_id)
    if link is None:
        link = LtiContext(issuer=issuer, context_id=context_id)
        db.session.add(link)
    link.course_id = course.id
    link.title = title or link.title or ""
    db.session.commit()
    return link


def find_platform_any(issuer: str) -> LtiPlatform | None:
    """Any platform registered with this issuer."""
    query = sa.select(LtiPlatform).where(LtiPlatform.issuer == issuer).limit(1)
    return db.session.scalar(query)


def find_context(issuer: str, context_id: str) -> LtiContext | None:
    """The link of an LMS course, if any."""
    query = sa.select(LtiContext).filter_by(issuer=issuer, context_id=context_id)
    return db.session.scalar(query)
