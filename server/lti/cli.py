"""`rubric lti ...`: register platforms, link LMS courses, rotate the tool's key."""

import sys

import click
import sqlalchemy as sa
from flask import current_app, url_for
from flask.cli import with_appcontext

from server.extensions import db
from server.lti import keys, platforms, registration, roster
from server.models import Course


@click.group()
def lti() -> None:
    """LTI 1.3: Rubric as a tool that LMS platforms launch."""


@lti.group()
def platform() -> None:
    """Register and list LMS platforms."""


def _fail(message: str) -> None:
    """One line on stderr and exit 2, as for a bad option."""
    click.echo(f"rubric lti: {message}", err=True)
    sys.exit(2)


def tool_urls() -> dict[str, str]:
    """The URLs an LMS administrator enters for Rubric."""
    with current_app.test_request_context(base_url=_base_url()):
        return {
            "login": url_for("lti.login", _external=True),
            "launch": url_for("lti.launch", _external=True),
            "jwks": url_for("lti.jwks", _external=True),
        }


def _base_url() -> str:
    """RUBRIC_BASE_URL when set (the public https address), else localhost."""
    configured = current_app.config["RUBRIC_BASE_URL"]
    return configured or "http://localhost:8000"


@platform.command("add")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--deployment-id", "deployment_ids", required=True, multiple=True)
@click.option("--auth-login-url", required=True)
@click.option("--auth-token-url", required=True)
@click.option("--keyset-url", required=True)
@click.option("--name", default="")
@with_appcontext
def platform_add(
    issuer, client_id, deployment_ids, auth_login_url, auth_token_url, keyset_url, name
):
    """Register a platform (idempotent per issuer and client id) and print the tool's URLs."""
    registration = platforms.Registration(
        issuer=issuer,
        client_id=client_id,
        deployment_ids=tuple(deployment_ids),
        auth_login_url=auth_login_url,
        auth_token_url=auth_token_url,
        keyset_url=keyset_url,
        name=name,
    )
    try:
        found, created = platforms.add_platform(registration)
    except platforms.BadValue as bad:
        _fail(str(bad))
    click.echo(f"{'registered' if created else 'updated'}: {found.issuer} client {found.client_id}")
    for label, url in tool_urls().items():
        click.echo(f"{label}: {url}")


@platform.command("list")
@with_appcontext
def platform_list() -> None:
    """One line per platform: issuer, client id, name, deployments."""
    for found in platforms.platforms():
        deployments = ",".join(d.deployment_id for d in found.deployments)
        click.echo(f"{found.issuer}\t{found.client_id}\t{found.name}\t{deployments}")


@platform.command("register-url")
@with_appcontext
def platform_register_url() -> None:
    """Print a one-time Dynamic Registration URL to paste into the LMS (valid an hour)."""
    code = registration.make_code(current_app.config["SECRET_KEY"])
    with current_app.test_request_context(base_url=_base_url()):
        url = url_for("lti.register", code=code, _external=True)
    click.echo(url)
    click.echo(f"valid for {registration.CODE_LIFETIME}, for one registration", err=True)


@lti.group()
def context() -> None:
    """Link LMS courses to Rubric courses."""


@context.command("link")
@click.option("--issuer", required=True)
@click.option("--context-id", required=True)
@click.argument("course")
@with_appcontext
def context_link(issuer: str, context_id: str, course: str) -> None:
    """Bind an LMS course (its context id) to the Rubric course COURSE (a slug)."""
    found = db.session.scalar(sa.select(Course).filter_by(slug=course))
    if found is None:
        _fail(f"COURSE: no course {course!r}")
    try:
        platforms.link_context(issuer, context_id, found)
    except platforms.BadValue as bad:
        _fail(str(bad))
    click.echo(f"linked: {issuer} context {context_id} -> {course}")


@lti.command("roster")
@click.argument("course")
@with_appcontext
def roster_pull(course: str) -> None:
    """Pull the roster of COURSE (a slug) from its linked LMS courses (NRPS)."""
    found = db.session.scalar(sa.select(Course).filter_by(slug=course))
    if found is None:
        _fail(f"COURSE: no course {course!r}")
    try:
        counts = roster.pull(found)
    except roster.RosterError as error:
        click.echo(f"rubric lti roster: {error}", err=True)
        sys.exit(1)
    click.echo(f"{course}: {counts}")


@lti.command("rotate-key")
@with_appcontext
def rotate_key() -> None:
    """Make a new tool key; the old one stays published until its tokens expire."""
    folder = keys.key_dir(current_app.config, current_app.instance_path)
    key = keys.rotate(folder)
    click.echo(f"new key: {key.kid}; retired keys stay published for {keys.RETIRED_KEY_GRACE}")


@lti.command("sync")
@click.argument("course")
@click.argument("slug")
@with_appcontext
def sync(course: str, slug: str) -> None:
    """Resend every graded student's counted score on COURSE's assignment SLUG to the LMS."""
    from server.courses import NotFound, assignment_by_slugs
    from server.lti import passback

    try:
        assignment = assignment_by_slugs(course, slug)
    except NotFound as exc:
        _fail(str(exc))
    queued = passback.resend(assignment, wake=False)
    counts = passback.deliver_due(assignment.id)
    sent, failed = counts.get("sent", 0), counts.get("failed", 0)
    retry = counts.get("pending", 0)
    click.echo(f"queued {queued}; sent {sent}, to retry {retry}, failed {failed}")
    if failed or retry:
        sys.exit(1)
