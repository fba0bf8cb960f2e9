"""The instructor's gradebook page (paged, filtered, sorted) and its CSV downloads."""

from dataclasses import dataclass

from flask import Response, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from server.courses import get_course, require_staff
from server.models import AssignmentKind, Course, User
from server.scoring.exports import FORMATS, export, filename
from server.scoring.gradebook import EMPTY, Entry, Gradebook, build_gradebook
from server.web import bp
from server.web.errors import error_page
from server.web.filters import points

PER_PAGE = 50
SORTS = {"name": "name", "email": "e-mail", "percent": "percentage, highest first"}


class BadQuery(ValueError):
    """A query parameter of the page that means nothing."""


@dataclass(frozen=True)
class View:
    """What part of the gradebook the page shows: a filter, an order and a page."""

    q: str = ""
    sort: str = "name"
    page: int = 1


@bp.get("/courses/<course>/gradebook")
@login_required
def gradebook(course: str):
    """Show every student's counted scores, a page of students at a time (instructors and TAs)."""
    found = _staff_course(course)
    try:
        view = _view(request.args)
    except BadQuery as exc:
        return error_page(400, "Bad Request", str(exc))
    book = build_gradebook(found)
    links = _links(found)
    chosen = _chosen(book, view)
    page, pages, shown = _page_of(chosen, view.page)
    return render_template(
        "gradebook.html",
        course=found,
        book=book,
        shown=shown,
        cells={s.id: _cells(book, s, links) for s in shown},
        totals={s.id: book.totals(s) for s in shown},
        averages={a.id: book.average(a) for a in book.assignments},
        overall=book.class_totals(),
        matching=len(chosen),
        view=view,
        page=page,
        pages=pages,
        first=(page - 1) * PER_PAGE + 1,
        sorts=SORTS,
        formats=FORMATS,
        links=links,
    )


@bp.get("/courses/<course>/gradebook.csv")
@login_required
def gradebook_download(course: str):
    """Download the gradebook as CSV: ?format=csv (Rubric's), canvas or moodle."""
    found = _staff_course(course)
    output = request.args.get("format", "csv")
    if output not in FORMATS:
        return error_page(400, "Bad Request", "format is csv, canvas or moodle")
    return Response(
        export(build_gradebook(found), output),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename(found.slug, output)}"'},
    )


def _staff_course(slug: str) -> Course:
    """The course, if the user is one of its TAs or instructors (404 or 403 otherwise)."""
    found = get_course(current_user, slug)
    require_staff(current_user, found)
    return found


def _view(args) -> View:
    """Read ?q=, ?sort= and ?page=; a value that means nothing is a BadQuery."""
    sort = args.get("sort", "name")
    if sort not in SORTS:
        raise BadQuery(f"sort is one of {', '.join(SORTS)}")
    page = args.get("page", "1")
    if not page.isascii() or not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise BadQuery("page is a whole number from 1")
    q = args.get("q", "").strip()
    if len(q) > 254:
        raise BadQuery("the filter is at most 254 characters")
    return View(q, sort, int(page))


def _chosen(book: Gradebook, view: View) -> list[User]:
    """The students whose name or e-mail holds the filter, in the view's order."""
    needle = view.q.casefold()
    found = [
        s for s in book.students if needle in s.name.casefold() or needle in s.email.casefold()
    ]
    if view.sort == "email":
        return sorted(found, key=lambda s: s.email)
    if view.sort == "percent":
        # Highest first; students with no percentage (all excused) last.
        def percent(s: User) -> float:
            value = book.totals(s).percent
            return -value if value is not None else float("inf")

        return sorted(found, key=lambda s: (percent(s), s.name.casefold()))
    return sorted(found, key=lambda s: (s.name.casefold(), s.email))


def _page_of(chosen: list[User], wanted: int) -> tuple[int, int, list[User]]:
    """The page shown (a page past the last shows the last), how many there are, its students."""
    pages = max(1, -(-len(chosen) // PER_PAGE))
    page = min(wanted, pages)
    return page, pages, chosen[(page - 1) * PER_PAGE : page * PER_PAGE]


def _links(course: Course) -> dict[str, str]:
    """The URL prefixes the cells link to, built once rather than once per cell."""

    def prefix(endpoint: str, **values) -> str:
        return url_for(endpoint, course=course.slug, **values).rsplit("/", 1)[0] + "/"

    return {
        "attempt": prefix("web.attempt", attempt_id=0),
        "submission": prefix("web.submission", submission_id=0),
        "assignment": prefix("web.assignment", slug="x"),
    }


def _cells(book: Gradebook, student: User, links: dict[str, str]) -> list[Markup]:
    """A student's cells as HTML, made here rather than in the template: 1,500 a page."""
    cells = []
    for assignment in book.assignments:
        entry = book.entries.get((student.id, assignment.id), EMPTY)
        kind = "attempt" if assignment.kind == AssignmentKind.QUIZ else "submission"
        href = f"{links[kind]}{entry.work_id}" if entry.work_id else ""
        # A score set by hand links to where it is changed or cleared.
        overrides = f"{links['assignment']}{assignment.slug}/students#overrides"
        cells.append(_cell(entry, href, overrides))
    return cells


def _cell(entry: Entry, href: str, overrides: str) -> Markup:
    """One cell: the counted score linked to the work behind it, and its mark."""
    # Each mark's title also in hidden text: a screen reader need not read a title.
    if entry.excused:
        mark = (
            '<a href="{0}"><abbr class="mark mark-excused" title="Excused: {1}">EX</abbr>'
            '<span class="visually-hidden"> excused: {1}</span></a>'
        )
        return Markup(mark).format(overrides, entry.reason)
    if entry.score is None:
        return NOTHING
    attempts = f"{entry.attempts} attempt{'' if entry.attempts == 1 else 's'}"
    score = points(entry.score)
    shown = (
        Markup('<a href="{}" title="{}">{}</a>').format(href, attempts, score)
        if href
        else escape(score)
    )
    if entry.overridden:
        mark = (
            '<a href="{0}"><abbr class="mark mark-override" title="Set by hand: {1}">O</abbr>'
            '<span class="visually-hidden"> set by hand: {1}</span></a>'
        )
        return shown + Markup(" ") + Markup(mark).format(overrides, entry.reason)
    if entry.late:
        title = f"Late: {points(entry.raw_score)} − {points(entry.penalty)} penalty"
        mark = (
            '<abbr class="mark mark-late" title="{0}">L</abbr>'
            '<span class="visually-hidden"> {0}</span>'
        )
        return shown + Markup(" ") + Markup(mark).format(title)
    return shown


NOTHING = Markup(
    '<span class="muted" aria-hidden="true">–</span>'
    '<span class="visually-hidden">nothing handed in</span>'
)
