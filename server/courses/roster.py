"""Reading a roster (CSV as an LMS or a spreadsheet writes it, or a JSON list) into rows.

What is accepted (docs/instructors.md): UTF-8 with or without a BOM, else
Windows-1252 (Excel's "CSV" on Windows); commas, semicolons or tabs; a header row
whose names are matched loosely (case, spaces and punctuation ignored):
- e-mail: `email`, `e-mail`, `Email address` (Moodle); else Canvas's `SIS Login ID`
- name: `name`, `Full name`, `Student` (Canvas), or `First name` + `Last name`/`Surname`
- role: `role` or `roles`: student/learner, ta/teaching assistant/non-editing teacher,
  instructor/teacher; blank is student.
Every other column (Canvas's ID, Section, scores...) is ignored. A bad row is
reported with its line number and skipped; the other rows still count.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

from server.models import Role

# A roster larger than this is a mistake (or a whole university): refused as a whole.
MAX_ROWS = 5000
EMAIL_MAX, NAME_MAX = 254, 120

EMAIL_HEADERS = ("email", "emailaddress", "mail")
LOGIN_HEADERS = ("sisloginid", "loginid")
NAME_HEADERS = ("name", "fullname", "student", "studentname", "displayname")
FIRST_HEADERS = ("firstname", "givenname")
LAST_HEADERS = ("lastname", "surname", "familyname")
ROLE_HEADERS = ("role", "roles", "courserole")

ROLE_NAMES = {
    "": Role.STUDENT,
    "student": Role.STUDENT,
    "learner": Role.STUDENT,
    "studentenrollment": Role.STUDENT,
    "ta": Role.TA,
    "teachingassistant": Role.TA,
    "noneditingteacher": Role.TA,
    "taenrollment": Role.TA,
    "instructor": Role.INSTRUCTOR,
    "teacher": Role.INSTRUCTOR,
    "editingteacher": Role.INSTRUCTOR,
    "teacherenrollment": Role.INSTRUCTOR,
}
# Canvas's gradebook export has this row under the header: not a person.
CANVAS_POINTS_ROW = "pointspossible"


class RosterUnreadable(ValueError):
    """The whole file cannot be read as a roster (encoding, header, size)."""


@dataclass(frozen=True)
class Person:
    """One good row: who, and in what role."""

    line: int
    email: str
    name: str
    role: Role
    what: str = "line"  # "item" in a JSON list


@dataclass
class Roster:
    """The good rows, and one message per bad row ("line 4: ...")."""

    people: list[Person] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _key(text: str) -> str:
    """A header or role name as compared: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def decode(data: bytes) -> str:
    """Return a file's text: UTF-8 (a BOM dropped), else Windows-1252."""
    if b"\x00" in data:
        raise RosterUnreadable("the file is not text (it holds NUL bytes; UTF-16?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise RosterUnreadable("the file is neither UTF-8 nor Windows-1252 text") from None


def read_csv(data: bytes) -> Roster:
    """Read a CSV roster's rows."""
    text = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(rows, None)
        if header is None:
            raise RosterUnreadable("the file is empty")
        columns = _columns(header)
        records = ((rows.line_num, row) for row in rows if any(cell.strip() for cell in row))
        return _read(records, columns)
    except csv.Error as exc:
        raise RosterUnreadable(f"line {rows.line_num}: not valid CSV ({exc})") from None


def _columns(header: list[str]) -> dict[str, int]:
    """Find each wanted column's index in the header row."""
    keys = [_key(name) for name in header]

    def find(names: tuple[str, ...]) -> int | None:
        return next((i for i, key in enumerate(keys) if key in names), None)

    found = {
        "email": find(EMAIL_HEADERS),
        "login": find(LOGIN_HEADERS),
        "name": find(NAME_HEADERS),
        "first": find(FIRST_HEADERS),
        "last": find(LAST_HEADERS),
        "role": find(ROLE_HEADERS),
    }
    if found["email"] is None:
        found["email"] = found.pop("login")
    if found["email"] is None:
        raise RosterUnreadable(
            "the header row has no e-mail column (email, Email address or SIS Login ID)"
        )
    return {name: index for name, index in found.items() if index is not None}


def _read(records, columns: dict[str, int]) -> Roster:
    """Check each record, keeping the good ones and a message for each bad one."""
    roster, seen = Roster(), {}

    def cell(row: list[str], name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    for count, (line, row) in enumerate(records, 1):
        if count > MAX_ROWS:
            raise RosterUnreadable(f"more than {MAX_ROWS} people; split the file")
        name = cell(row, "name") or " ".join(filter(None, (cell(row, "first"), cell(row, "last"))))
        if not cell(row, "email") and _key(name) == CANVAS_POINTS_ROW:
            continue
        _check(roster, seen, line, cell(row, "email"), name, cell(row, "role"))
    return roster


def read_json(items: object) -> Roster:
    """Read a roster given as a JSON list of {"email", "name", "role"} objects."""
    if not isinstance(items, list):
        raise RosterUnreadable("a JSON roster is a list of {email, name, role} objects")
    if len(items) > MAX_ROWS:
        raise RosterUnreadable(f"more than {MAX_ROWS} people; split the list")
    roster, seen = Roster(), {}
    for number, item in enumerate(items, 1):
        fields = item if isinstance(item, dict) else {}
        values = [fields.get(key, "") for key in ("email", "name", "role")]
        if not isinstance(item, dict) or not all(isinstance(v, str) for v in values):
            roster.problems.append(f"item {number}: not an object of strings email, name, role")
            continue
        _check(roster, seen, number, *(value.strip() for value in values), what="item")
    return roster


def _check(
    roster: Roster, seen: dict, line: int, email: str, name: str, role: str, what: str = "line"
) -> None:
    """Add one row to the roster, or a message saying what is wrong with it."""
    where = f"{what} {line}"
    if "\x00" in email + name + role:  # JSON may carry it; PostgreSQL's text cannot
        roster.problems.append(f"{where}: a value holds a NUL character")
        return
    problem, address = _email(email)
    if problem:
        roster.problems.append(f"{where}: {problem}")
        return
    if address in seen:
        roster.problems.append(f"{where}: {address} is already on {what} {seen[address]}")
        return
    if _key(role) not in ROLE_NAMES:
        roster.problems.append(f"{where}: unknown role {role[:40]!r} (student, ta or instructor)")
        return
    if len(name) > NAME_MAX:
        roster.problems.append(f"{where}: the name is longer than {NAME_MAX} characters")
        return
    seen[address] = line
    roster.people.append(Person(line, address, name, ROLE_NAMES[_key(role)], what))


def _email(raw: str) -> tuple[str, str]:
    """Return (a problem, "") or ("", the address normalized and in lower case)."""
    if not raw:
        return "no e-mail address", ""
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"{raw[:80]!r} is not an e-mail address ({exc})", ""
    address = checked.normalized.lower()
    if len(address) > EMAIL_MAX:
        return f"the e-mail address is longer than {EMAIL_MAX} characters", ""
    return "", address
