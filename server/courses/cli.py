"""`rubric course create` and `rubric roster import`: an operator's changes, audited as such."""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from server.courses import people
from server.courses.roster import RosterUnreadable, read_csv
from server.extensions import db
from server.models import Course


def _base_url() -> str:
    """Where the set-password links point: RUBRIC_BASE_URL, else localhost."""
    return current_app.config["RUBRIC_BASE_URL"] or "http://localhost:8000"


@click.group()
def course() -> None:
    """Create courses."""


@course.command("create")
@click.argument("slug")
@click.option("--title", required=True, help="the course's title")
@click.option("--timezone", default="UTC", show_default=True, help="an IANA name")
@click.option("--term", default="", help='e.g. "Fall 2026"')
@with_appcontext
def course_create(slug: str, title: str, timezone: str, term: str) -> None:
    """Create a course; exit 1 if the slug is taken or a value is refused."""
    try:
        made = people.create_course(slug, title, term, timezone)
        people.commit_course(made)
    except people.Refused as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(f"course {made.slug!r} created ({made.timezone}); add people: rubric roster import")


@click.group()
def roster() -> None:
    """Manage who is in a course."""


@roster.command("import")
@click.argument("course_slug", metavar="COURSE")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="show what would change, change nothing")
@click.option("--drop", is_flag=True, help="also drop the people who are not in the file")
@with_appcontext
def roster_import(course_slug: str, file: Path, dry_run: bool, drop: bool) -> None:
    """Add and update people from a CSV (email, name, role); exit 1 if a row is bad."""
    found = db.session.scalar(db.select(Course).filter_by(slug=course_slug))
    if found is None:
        raise click.ClickException(f"no course {course_slug!r}")
    try:
        roster = read_csv(file.read_bytes())
    except RosterUnreadable as unreadable:
        raise click.ClickException(f"{file}: {unreadable}") from None
    plan, applied = people.import_roster(found, roster, None, _base_url(), drop, dry_run)
    _report(plan, dry_run, drop, applied.links)
    if plan.problems:
        sys.exit(1)


def _report(plan: people.Plan, dry_run: bool, drop: bool, links: dict[str, str]) -> None:
    """Print the counts, each change, each new account's link and each bad row."""
    would = "would be " if dry_run else ""
    dropped = len(plan.dropped) if drop else 0
    click.echo(
        f"{would}added {len(plan.added)}, {would}changed {len(plan.changed)}, "
        f"unchanged {len(plan.unchanged)}, {would}dropped {dropped}"
    )
    for person in plan.added:
        click.echo(f"added: {person.email} ({person.role.value}) {links.get(person.email, '')}")
    for person, before in plan.changed:
        click.echo(f"changed: {person.email} {before.value} -> {person.role.value}")
    for member in plan.dropped:
        state = "dropped" if drop else "not in the file (kept; --drop drops)"
        click.echo(f"{state}: {member.email} ({member.role.value})")
    for problem in plan.problems:
        click.echo(f"bad row: {problem}", err=True)
