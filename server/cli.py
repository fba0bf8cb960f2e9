"""The `rubric` command line; the same commands hang under `flask --app server`."""

import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from server.content.check import check_paths
from server.content.sync import sync_content
from server.courses.assignments_cli import accommodation, assignment, extension, score
from server.courses.cli import course, roster
from server.grading.cli import grade
from server.lti.cli import lti
from server.notebooks.cli import nbgrader
from server.submissions.cli import regrade


def main() -> None:
    """Run the `rubric` console script."""
    from server import create_app
    from server.security import SettingError

    group = FlaskGroup(create_app=create_app, add_version_option=False, help=__doc__)
    try:
        group(prog_name="rubric")
    except SettingError as refused:  # a bad setting: one line, not a traceback
        sys.exit(f"rubric: {refused}")


def register(app: Flask) -> None:
    """Attach Rubric's commands to an app's CLI."""
    app.cli.add_command(content)
    app.cli.add_command(seed_demo)
    app.cli.add_command(token)
    app.cli.add_command(serve)
    app.cli.add_command(worker)
    app.cli.add_command(grade)
    app.cli.add_command(submissions)
    app.cli.add_command(lti)
    app.cli.add_command(course)
    app.cli.add_command(roster)
    app.cli.add_command(assignment)
    app.cli.add_command(extension)
    app.cli.add_command(accommodation)
    app.cli.add_command(score)
    app.cli.add_command(nbgrader)
    app.cli.add_command(regrade)


@click.group()
def content() -> None:
    """Check or load quizzes and exercises."""


@content.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@with_appcontext
def content_check(paths: tuple[Path, ...]) -> None:
    """Validate content files; exit 1 with one line per problem."""
    root = Path(current_app.config["RUBRIC_CONTENT_ROOT"])
    targets = list(paths) or [root / "quizzes", root / "exercises"]
    problems, checked = check_paths(targets)
    for problem in problems:
        click.echo(problem)
    if problems:
        sys.exit(1)
    click.echo(f"ok: {checked} content item(s) checked")


@content.command("sync")
@with_appcontext
def content_sync() -> None:
    """Load content into the database; a changed item becomes a new version."""
    report = sync_content(Path(current_app.config["RUBRIC_CONTENT_ROOT"]))
    for line in report.created:
        click.echo(f"new: {line}")
    for line in report.refused:
        click.echo(f"refused: {line}", err=True)
    click.echo(f"{len(report.created)} new, {len(report.unchanged)} unchanged")
    if report.refused:
        sys.exit(1)


@content.command("schema")
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder to write into (default docs/schemas/)",
)
@with_appcontext
def content_schema(into: Path | None) -> None:
    """Write the JSON Schemas of exercise.toml and quiz files, and the OpenAPI document."""
    from server.content.schemas import SCHEMA_DIR, write_schemas

    for path in write_schemas(into or SCHEMA_DIR):
        click.echo(f"wrote {path}")


@click.group()
def submissions() -> None:
    """Manage code submissions."""


@submissions.command("regrade")
@click.argument("course")
@click.argument("assignment")
@click.option("--student", default="", help="only this student's (e-mail)")
@with_appcontext
def submissions_regrade(course: str, assignment: str, student: str) -> None:
    """Grade again, against the newest exercise version, what was graded on an older one."""
    from server.courses import assignment_by_slugs
    from server.submissions.regrade import NotAnExercise, regrade

    try:  # an unknown course, assignment or student; a quiz; an exercise never synced
        done = regrade(assignment_by_slugs(course, assignment), student)
    except (LookupError, NotAnExercise) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{done.submissions} submission(s) queued to be graded again on version "
        f"{done.version}; the old scores count until then (graded when the queue is idle)"
    )


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo course, users and assignments (idempotent)."""
    from server.demo import INSTRUCTOR, STUDENTS, seed_demo

    course = seed_demo()
    click.echo(f"course {course.slug!r} with {len(course.assignments)} assignment(s)")
    click.echo(f"instructor: {INSTRUCTOR[0]} / password {INSTRUCTOR[2]}")
    click.echo(f"students:   {STUDENTS[0][0]} ... student9@example.edu / password student")


@click.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("email")
@click.option(
    "--expires-in",
    "days",
    type=click.IntRange(1, 36500),
    help="days until the token stops working [default: 90]",
)
@click.option("--no-expiry", is_flag=True, help="a token that never expires (avoid)")
@with_appcontext
def token_create(email: str, days: int | None, no_expiry: bool) -> None:
    """Print a new API token for a user (the only thing printed); it expires in 90 days."""
    from datetime import timedelta

    from server.accounts import create_token, find_user
    from server.extensions import db

    if no_expiry and days is not None:
        raise click.UsageError("give --expires-in DAYS or --no-expiry, not both")
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no user with e-mail {email!r}")
    value = create_token(user, None if no_expiry else timedelta(days=days or 90))
    db.session.commit()
    click.echo(value)


@token.command("revoke")
@click.argument("email", required=False)
@click.option("--token", "value", help="revoke only this token (its value, as printed)")
@with_appcontext
def token_revoke(email: str | None, value: str | None) -> None:
    """Revoke every API token of a user, or one token given with --token."""
    from server.accounts import find_user, revoke_token, revoke_tokens
    from server.extensions import db

    if (email is None) == (value is None):
        raise click.UsageError("give a user's e-mail or --token TOKEN, not both")
    if value is not None:
        if not revoke_token(value.strip()):
            raise click.ClickException("no such token (already revoked?)")
        revoked = 1
    else:
        user = find_user(email)
        if user is None:
            raise click.ClickException(f"no user with e-mail {email!r}")
        revoked = revoke_tokens(user)
    db.session.commit()
    click.echo(f"revoked {revoked} token(s)")


def gunicorn_command(bind: str, workers: int, *extra: str) -> list[str]:
    """Return the command that serves the app with `rubric serve`'s gunicorn settings."""
    # gthread workers, and each worker starts its grading pool and sweep at boot.
    config = ["--config", "python:server.gunicorn_conf"]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        *config,
        "--workers",
        str(workers),
        "--bind",
        bind,
        *extra,
        "server:create_app()",
    ]


@click.command()
@click.option("--port", default=lambda: int(os.environ.get("PORT", "8000")), show_default="8000")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", default=lambda: int(os.environ.get("WEB_CONCURRENCY", "4")))
def serve(port: int, host: str, workers: int) -> None:
    """Serve the web app and API with gunicorn."""
    args = gunicorn_command(f"{host}:{port}", workers, "--access-logfile", "-")
    os.execv(sys.executable, args)


@click.command()
@click.option("--concurrency", default=lambda: os.cpu_count() or 2, help="grading threads")
@click.option("--loglevel", default="INFO", show_default=True)
@with_appcontext
def worker(concurrency: int, loglevel: str) -> None:
    """Run a grading worker (Celery) with its own warm fork server."""
    if not current_app.config["RUBRIC_BROKER_URL"]:
        raise click.ClickException("set RUBRIC_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    from server.submissions.celery_app import run_worker

    run_worker(current_app._get_current_object(), concurrency, loglevel)


if __name__ == "__main__":
    main()
