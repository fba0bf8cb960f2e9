"""The gradebook as CSV files: Rubric's own, and the columns Canvas and Moodle import.

Every file holds counted scores (after late penalties and overrides). Text a person
typed (names, e-mails, titles) is defused against spreadsheet formulas (CSV injection);
the marks Rubric writes itself (EX, -) are left as the LMS expects them.

- csv: e-mail, name, one column per assignment slug, total points, weighted percent;
  a "Points Possible" row under the header; excused reads EX.
- canvas: the columns of Canvas's gradebook export, which its importer reads back
  (Student, ID, SIS User ID, SIS Login ID, Section, then one column per assignment, then
  the read-only Final Points and Final Score). The student is matched by the SIS Login
  ID (the e-mail) or else by name, as Rubric knows no Canvas ids; an assignment by its
  title (a new one is created for an unknown title, with the "Points Possible" row as
  its maximum). Excused reads EX, as in Canvas.
- moodle: Moodle's grade import maps one column to the user (choose "Email address"
  under "Map from" and "Email address" under "Map to") and each other column to a grade
  item. It reads every row under the header as a student, so there is no points-possible
  row: the maximum is the grade item's. Excused reads "-", Moodle's "no grade".
"""

import csv
import io
from collections import Counter
from collections.abc import Callable

from server.scoring.gradebook import Entry, Gradebook

FORMATS = ("csv", "canvas", "moodle")
# Canvas's importer takes this cell of the points-possible row as a read-only column.
READ_ONLY = "(read only)"


def export(book: Gradebook, format: str) -> str:
    """The gradebook as a CSV file of the given format (one of FORMATS)."""
    writers: dict[str, Callable[[Gradebook, csv.writer], None]] = {
        "csv": _rubric,
        "canvas": _canvas,
        "moodle": _moodle,
    }
    out = io.StringIO()
    writers[format](book, csv.writer(out))
    return out.getvalue()


def filename(course_slug: str, format: str) -> str:
    """The file name of a course's gradebook export."""
    suffix = "" if format == "csv" else f"-{format}"
    return f"{course_slug}-gradebook{suffix}.csv"


def _rubric(book: Gradebook, writer) -> None:
    """Rubric's own columns, by assignment slug, with points possible and totals."""
    writer.writerow(["email", "name", *(a.slug for a in book.assignments), "total", "percent"])
    possible = [book.possible.get(a.id) for a in book.assignments]
    total = sum(p or 0.0 for p in possible)
    writer.writerow(["", "Points Possible", *map(number, possible), number(total), "100"])
    for student in book.students:
        cells = [_marked(book.entry(student, a), "EX") for a in book.assignments]
        totals = book.totals(student)
        row = [safe(student.email), safe(student.name), *cells]
        writer.writerow([*row, number(totals.points), number(totals.percent)])


def _canvas(book: Gradebook, writer) -> None:
    """Canvas's gradebook import columns."""
    titles = _titles(book)
    student = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    writer.writerow([*student, *titles, "Final Points", "Final Score"])
    possible = [number(book.possible.get(a.id)) for a in book.assignments]
    writer.writerow(["Points Possible", "", "", "", "", *possible, READ_ONLY, READ_ONLY])
    for person in book.students:
        cells = [_marked(book.entry(person, a), "EX") for a in book.assignments]
        totals = book.totals(person)
        who = [safe(person.name), "", "", safe(person.email), ""]
        writer.writerow([*who, *cells, number(totals.points), number(totals.percent)])


def _moodle(book: Gradebook, writer) -> None:
    """Moodle's grade import: the e-mail to identify the user, one column per grade item."""
    writer.writerow(["Email address", *_titles(book)])
    for person in book.students:
        cells = [_marked(book.entry(person, a), "-") for a in book.assignments]
        writer.writerow([safe(person.email), *cells])


def _titles(book: Gradebook) -> list[str]:
    """Each assignment's title; a title two assignments share gets the slug after it."""
    counts = Counter(a.title for a in book.assignments)
    return [
        safe(a.title if counts[a.title] == 1 else f"{a.title} [{a.slug}]") for a in book.assignments
    ]


def _marked(entry: Entry, excused: str) -> str:
    """A cell: the counted score, the LMS's mark for excused, or blank before any work."""
    return excused if entry.excused else number(entry.score)


def number(value: float | None) -> str:
    """A score as the LMSs read it: a plain decimal, at most 4 places, no exponent."""
    if value is None:
        return ""
    return f"{round(value, 4):.4f}".rstrip("0").rstrip(".")


def safe(text: str) -> str:
    """Defuse text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
