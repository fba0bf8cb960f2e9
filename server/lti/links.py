"""Where a launch lands: the linked course and, if the link names one, its assignment."""

from dataclasses import dataclass

import sqlalchemy as sa

from server.extensions import db
from server.lti import platforms
from server.lti.launch import Launch
from server.models import Assignment, Course, LtiContext, LtiResourceLink

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"


@dataclass(frozen=True)
class Destination:
    """The course a launch opens (None: its context is not linked) and maybe an assignment."""

    context_id: str | None
    course: Course | None
    assignment: Assignment | None = None


def _record_services(link: LtiContext, launch: Launch) -> None:
    """Keep the AGS and NRPS endpoints the platform offers, for passback and rosters."""
    ags = launch.claims.get(AGS) or {}
    nrps = launch.claims.get(NRPS) or {}
    link.lineitems_url = ags.get("lineitems") or link.lineitems_url
    link.memberships_url = nrps.get("context_memberships_url") or link.memberships_url


def _resource_link(launch: Launch, context: LtiContext) -> LtiResourceLink:
    """The row of the launch's resource link, created on its first launch."""
    claim = launch.claim("resource_link") or {}
    issuer = launch.platform.issuer
    query = sa.select(LtiResourceLink).filter_by(issuer=issuer, resource_link_id=claim["id"])
    link = db.session.scalar(query)
    if link is None:
        link = LtiResourceLink(issuer=issuer, resource_link_id=claim["id"])
        db.session.add(link)
    link.context_id = context.id
    link.title = (claim.get("title") or link.title or "")[:200]
    link.lineitem_url = (launch.claims.get(AGS) or {}).get("lineitem") or link.lineitem_url
    return link


def _assignment(course: Course, slug: object) -> Assignment | None:
    if not isinstance(slug, str):
        return None
    return db.session.scalar(sa.select(Assignment).filter_by(course_id=course.id, slug=slug))


def destination(launch: Launch) -> Destination:
    """Record the launch's links and return where it lands.

    The custom parameter `assignment` (a slug) wins; else the assignment the resource
    link was bound to; else the course page.
    """
    try:
        return _destination(launch)
    except sa.exc.IntegrityError:
        # Two first launches of one link at once: the other created its row; use it.
        db.session.rollback()
        return _destination(launch)


def _destination(launch: Launch) -> Destination:
    context_id = (launch.claim("context") or {}).get("id")
    context = platforms.find_context(launch.platform.issuer, context_id) if context_id else None
    if context is None:
        return Destination(context_id=context_id, course=None)
    _record_services(context, launch)
    link = _resource_link(launch, context)
    custom = launch.claim("custom") or {}
    assignment = _assignment(context.course, custom.get("assignment"))
    if assignment is not None:
        link.assignment_id = assignment.id
    elif link.assignment is not None and link.assignment.course_id == context.course_id:
        assignment = link.assignment
    db.session.commit()
    return Destination(context_id=context_id, course=context.course, assignment=assignment)
