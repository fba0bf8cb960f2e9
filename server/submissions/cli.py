"""`rubric regrade`: grade an assignment's work again after a content fix, from the server."""

import click
from flask.cli import with_appcontext

from server.courses import assignment_by_slugs
from server.submissions import regrade as regrading


@click.command("regrade")
@click.argument("course")
@click.argument("slug")
@click.option("--student", default="", help="only this student's work (e-mail)")
@click.option("--same-version", is_flag=True, help="on the version each was graded on")
@click.option("--dry-run", is_flag=True, help="show what would change, record nothing")
@with_appcontext
def regrade(course: str, slug: str, student: str, same_version: bool, dry_run: bool) -> None:
    """Grade an exercise's submissions or a quiz's attempts again, on the newest version.

    Prints each student's counted score before and after; without --dry-run records the
    new results (the old ones kept in each one's history), here, however many there are.
    """
    try:  # an unknown course, assignment or student; content never synced
        scope = regrading.scope_of(
            assignment_by_slugs(course, slug), student.strip().lower(), same_version
        )
        previewed = regrading.preview(scope)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    for line in preview_lines(previewed):
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing recorded")
        return
    done = regrading.apply_previewed(previewed, None)
    click.echo(f"recorded {done.regraded} result(s); the old ones are kept in each one's history")


def preview_lines(previewed: regrading.Preview) -> list[str]:
    """One line per student (counted score before -> after), then the totals."""
    lines = [
        f"{row.student.email}: {_counted(row.before)} -> {_counted(row.after)}"
        + ("  (changes)" if row.changed else "")
        + "".join(f"  [#{w.number}: grader failed]" for w in row.work if w.failed)
        for row in previewed.students
    ]
    where = f"version {previewed.version}" if previewed.version else "the same version"
    lines.append(
        f"{previewed.changed} of {len(previewed.students)} counted score(s) change; "
        f"{len(previewed.work)} piece(s) of work graded again on {where} "
        f"in {previewed.seconds:.1f} s"
    )
    return lines


def _counted(entry) -> str:
    """A counted score as 'score/max', 'excused' or '-'."""
    if entry is None:
        return "-"
    if entry.excused:
        return "excused"
    return f"{entry.score:g}/{entry.max_score:g}"
