"""Reading rosters as LMSs and spreadsheets write them: encodings, headers, bad rows."""

import pytest

from server.courses.roster import MAX_ROWS, RosterUnreadable, read_csv, read_json
from server.models import Role


def people(roster):
    return [(p.email, p.name, p.role) for p in roster.people]


def test_a_plain_roster_with_roles_and_a_default():
    roster = read_csv(b"email,name,role\nAda@Example.org,Ada L,ta\nbob@example.org,Bob,\n")
    assert people(roster) == [
        ("ada@example.org", "Ada L", Role.TA),
        ("bob@example.org", "Bob", Role.STUDENT),
    ]
    assert roster.problems == []


def test_excel_on_windows_cp1252_with_semicolons():
    data = "E-mail;Name;Role\nzoe@example.org;Zoë Müller;Teacher\n".encode("cp1252")
    assert people(read_csv(data)) == [("zoe@example.org", "Zoë Müller", Role.INSTRUCTOR)]


def test_utf8_with_a_byte_order_mark_and_crlf():
    data = "\ufeffemail,name\r\nrené@example.org,René\r\n".encode()
    assert people(read_csv(data)) == [("rené@example.org", "René", Role.STUDENT)]


def test_canvas_gradebook_export():
    data = (
        b"Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (123)\n"
        b"    Points Possible,,,,,10\n"
        b'"Doe, Jane",17,s17,jane@uni.edu,ML 101,8\n'
    )
    assert people(read_csv(data)) == [("jane@uni.edu", "Doe, Jane", Role.STUDENT)]


def test_moodle_participants_export():
    data = (
        b"First name,Surname,Email address,Roles\n"
        b"Ann,Smith,ann@uni.edu,Student\n"
        b"Tom,Jones,tom@uni.edu,Non-editing teacher\n"
    )
    assert people(read_csv(data)) == [
        ("ann@uni.edu", "Ann Smith", Role.STUDENT),
        ("tom@uni.edu", "Tom Jones", Role.TA),
    ]


def test_bad_rows_are_named_by_line_and_the_rest_kept():
    data = (
        b"email,name,role\n"
        b"good@example.org,Good,\n"
        b"not-an-address,Bad,\n"
        b"GOOD@example.org,Again,\n"
        b",No mail,\n"
        b"x@example.org,X,dean\n"
        b"y@example..org,Y,\n"
    )
    roster = read_csv(data)
    assert people(roster) == [("good@example.org", "Good", Role.STUDENT)]
    assert [p.split(":")[0] for p in roster.problems] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
    ]
    assert "already on line 2" in roster.problems[1]
    assert "unknown role 'dean'" in roster.problems[3]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"name,role\nAda,ta\n", "no e-mail column"),
        (b"", "empty"),
        ("email\nx@y.org\n".encode("utf-16"), "NUL"),
        (b"email\n" + b"a@b.org\n" * (MAX_ROWS + 1), "more than"),
    ],
)
def test_files_that_are_not_rosters_are_refused_whole(data, reason):
    with pytest.raises(RosterUnreadable, match=reason):
        read_csv(data)


def test_a_json_list_is_checked_as_rows_are():
    roster = read_json(
        [
            {"email": "a@example.org", "name": "A", "role": "instructor"},
            {"email": "b@example.org"},
            {"email": 7},
            "c@example.org",
            {"email": "d@example.org", "name": "nul\u0000"},
        ]
    )
    assert people(roster) == [
        ("a@example.org", "A", Role.INSTRUCTOR),
        ("b@example.org", "", Role.STUDENT),
    ]
    assert [p.split(":")[0] for p in roster.problems] == ["item 3", "item 4", "item 5"]
    with pytest.raises(RosterUnreadable):
        read_json({"email": "a@example.org"})
