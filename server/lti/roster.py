"""Rosters from the LMS: the Names and Role Provisioning Service (NRPS 2.0) of a linked course.

Each LMS course linked to the Rubric course whose launches offered a memberships URL
is read page by page (`Link: <...>; rel="next"`); each active member gets the account
a launch of theirs would get (server/lti/accounts.py) and is enrolled by LTI role, so
the gradebook lists students before their first launch.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from server.extensions import db
from server.lti import accounts, services
from server.lti.launch import Launch
from server.models import Course, Enrollment, LtiContext, LtiPlatform

log = logging.getLogger("rubric.lti")

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
# A platform whose next links never end is cut off here (at 100 or so per page: 50,000).
MAX_PAGES = 500
# Members the LMS lists but who are not (or no longer) taking part in the course.
NOT_ACTIVE = {"Inactive", "Deleted"}


class RosterError(Exception):
    """A roster that could not be pulled; the message says why, for the page or the CLI."""


@dataclass
class RosterCounts:
    """What a pull did: enrolled, already there, role changed, and members left alone."""

    added: int = 0
    unchanged: int = 0
    changed: int = 0
    inactive: int = 0  # Inactive or Deleted in the LMS: not enrolled, nor removed
    skipped: int = 0  # a member without a usable user_id

    def __str__(self) -> str:
        return (
            f"{self.added} added, {self.unchanged} already there, {self.changed} role changed, "
            f"{self.inactive} inactive in the LMS (left as they are), {self.skipped} skipped"
        )


def linked_contexts(course: Course) -> list[LtiContext]:
    """The LMS courses linked to this course whose launches offered NRPS."""
    query = sa.select(LtiContext).where(
        LtiContext.course_id == course.id, LtiContext.memberships_url.is_not(None)
    )
    return list(db.session.scalars(query.order_by(LtiContext.id)))


def _same_origin(url: str, first: str) -> bool:
    """A next page on the memberships URL's own origin (never elsewhere: no SSRF relay)."""
    a, b = urlsplit(url), urlsplit(first)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc) and a.scheme in ("http", "https")


def _page(platform: LtiPlatform, url: str) -> tuple[list[Any], str | None]:
    """One page of members and the URL of the next one, if any."""
    try:
        answer = services.call(platform, "GET", url, [NRPS_SCOPE], accept=MEMBERSHIPS)
    except services.ServiceError as exc:
        later = " (try again later)" if exc.retryable else ""
        raise RosterError(f"the LMS's roster service failed: {exc}{later}") from exc
    try:
        members = answer.json().get("members")
    except (ValueError, AttributeError) as exc:
        raise RosterError("the LMS's roster answer is not a membership container") from exc
    if not isinstance(members, list):
        raise RosterError("the LMS's roster answer has no members list")
    return members, (answer.links.get("next") or {}).get("url")


def members(platform: LtiPlatform, url: str) -> Iterator[Any]:
    """Every member of the memberships URL, following next links."""
    first, pages = url, 0
    while url:
        if pages == MAX_PAGES:
            raise RosterError(f"the LMS's roster has more than {MAX_PAGES} pages")
        if not _same_origin(url, first):
            raise RosterError(f"the LMS's next roster page {url!r} is on another site")
        page, url = _page(platform, url)
        pages += 1
        yield from page


def _user_id(member: Any) -> str | None:
    """The member's LMS user id (the `sub` of their launches), if usable."""
    if not isinstance(member, dict):
        return None
    user_id = member.get("user_id")
    return user_id if isinstance(user_id, str) and 0 < len(user_id) <= 255 else None


def _identity_claims(member: dict[str, Any], user_id: str) -> dict[str, Any]:
    """The member as the identity claims of a launch (NRPS uses the same names)."""
    names = ("name", "given_name", "family_name", "email")
    return {"sub": user_id} | {n: member[n] for n in names if isinstance(member.get(n), str)}


def _enrol(member: dict[str, Any], user_id: str, course: Course, platform, counts) -> None:
    """Find or make the member's account and enrol them by role, counting what changed."""
    user = accounts.user_for(Launch(platform=platform, claims=_identity_claims(member, user_id)))
    query = sa.select(Enrollment.role).filter_by(course_id=course.id, user_id=user.id)
    before = db.session.scalar(query)
    after = accounts.enrol(user, course, member.get("roles"), platform.issuer).role
    if before is None:
        counts.added += 1
    elif before == after:
        counts.unchanged += 1
    else:
        counts.changed += 1


def _platform_of(issuer: str) -> LtiPlatform | None:
    """The issuer's newest registration: after a re-registration the old client is dead."""
    query = sa.select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    return db.session.scalar(query.order_by(LtiPlatform.id.desc()).limit(1))


def _pull_context(context: LtiContext, course: Course, counts: RosterCounts) -> None:
    platform = _platform_of(context.issuer)
    if platform is None:
        raise RosterError(f"no platform registered with issuer {context.issuer!r}")
    for member in members(platform, context.memberships_url):
        user_id = _user_id(member)
        if user_id is None:
            counts.skipped += 1
        elif member.get("status", "Active") in NOT_ACTIVE:
            # Kept as they are: dropping would hide their work; the LMS may re-activate.
            counts.inactive += 1
        else:
            _enrol(member, user_id, course, platform, counts)


def pull(course: Course) -> RosterCounts:
    """Fill the course's roster from every linked LMS course that offers NRPS."""
    contexts = linked_contexts(course)
    if not contexts:
        raise RosterError(
            f"course {course.slug!r} has no linked LMS course whose launches offered the "
            "roster service (NRPS): link it, and launch Rubric from the LMS once"
        )
    counts = RosterCounts()
    for context in contexts:
        _pull_context(context, course, counts)
    log.info("lti: roster of %s pulled: %s", course.slug, counts)
    return counts
