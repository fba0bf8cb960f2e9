"""`rubric assignment`, `rubric extension`, `rubric accommodation` and `rubric score`:
an operator's changes, audited."""

from collections.abc import Callable

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from server.courses import (
    NotFound,
    accommodations,
    assignment_by_slugs,
    extensions,
    overrides,
)
from server.courses import assignments as publishing
from server.courses.people import Refused
from server.extensions import db
from server.models import Course


def _options(command: Callable) -> Callable:
    """The options `assignment publish` and `assignment update` share."""
    options = [
        click.option("--title", default=None, help="shown to students"),
        click.option("--opens", default=None, help="ISO 8601 with offset; '' clears"),
        click.option("--due", default=None, help="ISO 8601 with offset; '' clears"),
        click.option("--late-until", default=None, help="late work taken until; '' clears"),
        click.option("--late-penalty-per-day", default=None, help="fraction of the max, 0.1"),
        click.option("--late-penalty-per-hour", default=None, help="fraction of the max"),
        click.option("--late-penalty-cap", default=None, help="at most this fraction in all"),
        click.option("--attempts", default=None, help="attempt limit; '' for none"),
        click.option("--policy", default=None, type=click.Choice(["best", "last"])),
        click.option("--weight", default=None, help="in the weighted percentage; default 1"),
        click.option(
            "--feedback-release",
            default=None,
            type=click.Choice(["immediately", "after_due", "never"]),
            help="when students see hidden-test names and quiz keys",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _settings(given: dict) -> dict:
    """The options given, by their setting's name ('' clears a setting)."""
    names = {
        "opens": "opens_at",
        "due": "due_at",
        "late_until": "late_until",
        "late_penalty_per_day": "late_penalty_per_day",
        "late_penalty_per_hour": "late_penalty_per_hour",
        "late_penalty_cap": "late_penalty_cap",
        "attempts": "attempt_limit",
        "policy": "score_policy",
        "weight": "weight",
        "feedback_release": "feedback_release",
    }
    settings = {names[k]: v for k, v in given.items() if k in names and v is not None}
    if settings.get("attempt_limit"):
        try:
            settings["attempt_limit"] = int(settings["attempt_limit"])
        except ValueError:
            raise click.ClickException("--attempts is a whole number") from None
    return settings


def _course(slug: str) -> Course:
    found = db.session.scalar(db.select(Course).filter_by(slug=slug))
    if found is None:
        raise click.ClickException(f"no course {slug!r}")
    return found


def _run(change: Callable):
    """Run a change and commit it; a refusal is one line and exit 1.

    A page or request that made the same row meanwhile fails the commit on its unique
    key: the change runs once more against what it stored.
    """
    for attempt in (1, 2):
        try:
            done = change()
            db.session.commit()
            return done
        except (Refused, NotFound) as refused:
            db.session.rollback()
            raise click.ClickException(str(refused)) from None
        except sa.exc.IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise click.ClickException("changed meanwhile by someone else; try again") from None
    raise AssertionError("unreachable")


@click.group()
def assignment() -> None:
    """Publish quizzes and exercises into a course; change their dates and policies."""


@assignment.command("publish")
@click.argument("course_slug", metavar="COURSE")
@click.argument("content")
@click.option("--slug", default="", help="the assignment's slug (default: the content's)")
@_options
@with_appcontext
def assignment_publish(course_slug: str, content: str, slug: str, title, **given) -> None:
    """Publish a quiz or exercise of the content into a course."""
    found = _course(course_slug)
    made = _run(
        lambda: publishing.publish(found, content, None, slug, title or "", **_settings(given))
    )
    click.echo(f"published {made.slug!r} ({made.kind.value}) in {found.slug!r}")


@assignment.command("update")
@click.argument("course_slug", metavar="COURSE")
@click.argument("slug")
@_options
@with_appcontext
def assignment_update(course_slug: str, slug: str, title, **given) -> None:
    """Change an assignment's title, dates or policies; counted scores follow at once."""
    changes = _settings(given) | ({"title": title} if title is not None else {})
    queued = _run(
        lambda: publishing.update(assignment_by_slugs(course_slug, slug), None, **changes)
    )
    click.echo(f"updated {slug!r}; {queued} changed score(s) queued for the LMS")


@click.group()
def extension() -> None:
    """A student's own dates for one assignment."""


@extension.command("grant")
@click.argument("course_slug", metavar="COURSE")
@click.argument("slug")
@click.argument("email")
@click.option("--due", required=True, help="ISO 8601 with offset")
@click.option("--late-until", default=None, help="default: the assignment's late window, moved")
@with_appcontext
def extension_grant(course_slug: str, slug: str, email: str, due: str, late_until) -> None:
    """Give a student a new due date (and late window) for one assignment."""
    _run(
        lambda: extensions.grant(
            assignment_by_slugs(course_slug, slug), email, due, late_until, None
        )
    )
    click.echo(f"extension granted to {email} on {slug!r}")


@extension.command("revoke")
@click.argument("course_slug", metavar="COURSE")
@click.argument("slug")
@click.argument("email")
@with_appcontext
def extension_revoke(course_slug: str, slug: str, email: str) -> None:
    """Take a student's extension back."""
    done = _run(lambda: extensions.revoke(assignment_by_slugs(course_slug, slug), email, None))
    click.echo(f"extension of {email} revoked" if done else f"{email} had no extension")


@click.group()
def accommodation() -> None:
    """Shift every due date of one student in a course by a set time."""


@accommodation.command("grant")
@click.argument("course_slug", metavar="COURSE")
@click.argument("email")
@click.option("--hours", required=True, help="hours added to each due date and late window")
@click.option("--reason", default="", help="why, for the audit log")
@with_appcontext
def accommodation_grant(course_slug: str, email: str, hours: str, reason: str) -> None:
    """Give a student a course-wide shift of their dates, or change the one they have."""
    found = _course(course_slug)
    _run(lambda: accommodations.grant(found, email, hours, reason, None))
    click.echo(f"{email}'s dates in {course_slug!r} move by {hours} hour(s)")


@accommodation.command("revoke")
@click.argument("course_slug", metavar="COURSE")
@click.argument("email")
@with_appcontext
def accommodation_revoke(course_slug: str, email: str) -> None:
    """Take a student's accommodation back: the assignments' own dates apply again."""
    found = _course(course_slug)
    done = _run(lambda: accommodations.revoke(found, email, None))
    click.echo(f"accommodation of {email} revoked" if done else f"{email} had no accommodation")


@click.group()
def score() -> None:
    """Set or undo a student's counted score by hand."""


@score.command("override")
@click.argument("course_slug", metavar="COURSE")
@click.argument("slug")
@click.argument("email")
@click.argument("value", metavar="SCORE", required=False)
@click.option("--excused", is_flag=True, help="excuse the student instead of a score")
@click.option("--reason", required=True, help="why, for the audit log")
@with_appcontext
def score_override(course_slug, slug, email, value, excused: bool, reason: str) -> None:
    """Set a student's counted score (SCORE) or excuse them (--excused), with a reason."""
    if (value is None) == (not excused):
        raise click.UsageError("give either SCORE or --excused")
    _run(
        lambda: overrides.override(
            assignment_by_slugs(course_slug, slug), email, value, excused, reason, None
        )
    )
    click.echo(f"{email} on {slug!r}: " + ("excused" if excused else f"score set to {value}"))


@score.command("clear")
@click.argument("course_slug", metavar="COURSE")
@click.argument("slug")
@click.argument("email")
@with_appcontext
def score_clear(course_slug: str, slug: str, email: str) -> None:
    """Undo a student's override: their work counts again."""
    done = _run(lambda: overrides.clear(assignment_by_slugs(course_slug, slug), email, None))
    click.echo(f"override of {email} cleared" if done else f"{email} had no override")
