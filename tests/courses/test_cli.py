"""`rubric course create` and `rubric roster import`, run as an operator would."""

import sqlalchemy as sa

from server.courses import audit
from server.extensions import db
from server.mail import outbox
from server.models import Course, Enrollment, Role, User

ROSTER = (
    b"email,name,role\n"
    b"new1@example.edu,New One,\n"
    b"new2@example.edu,New Two,ta\n"
    b"student@example.edu,Demo Student,instructor\n"
    b"student2@example.edu,,student\n"
)


def course(slug: str) -> Course:
    return db.session.scalar(sa.select(Course).where(Course.slug == slug))


def roles(slug: str) -> dict[str, Role]:
    query = sa.select(User.email, Enrollment.role).join(Enrollment).join(Course)
    return dict(db.session.execute(query.where(Course.slug == slug)).all())


def test_course_create_then_the_slug_is_taken(runner, app):
    made = runner.invoke(
        args=["course", "create", "ml-2027", "--title", "ML", "--timezone", "Europe/Berlin"]
    )
    assert made.exit_code == 0, made.output
    created = course("ml-2027")
    assert (created.title, created.timezone) == ("ML", "Europe/Berlin")
    assert [(e.actor, e.action) for e in audit.entries(created)] == [
        ("command line", "course.create")
    ]
    again = runner.invoke(args=["course", "create", "ml-2027", "--title", "Other"])
    assert again.exit_code == 1
    assert "taken" in again.output
    assert course("ml-2027").title == "ML"


def test_course_create_refuses_a_bad_zone_or_slug(runner, app):
    for args in (["good", "--timezone", "Mars/Olympus"], ["Bad Slug"]):
        result = runner.invoke(args=["course", "create", *args, "--title", "T"])
        assert result.exit_code == 1
        assert "Error:" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


def test_roster_import_dry_run_then_apply_then_idempotent(runner, demo, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(ROSTER)
    before = roles("demo")

    preview = runner.invoke(args=["roster", "import", "demo", str(path), "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert "would be added 2, would be changed 1, unchanged 1" in preview.output
    assert roles("demo") == before

    applied = runner.invoke(args=["roster", "import", "demo", str(path)])
    assert applied.exit_code == 0, applied.output
    assert "added 2, changed 1, unchanged 1, dropped 0" in applied.output
    after = roles("demo")
    assert after["new1@example.edu"] == Role.STUDENT
    assert after["new2@example.edu"] == Role.TA
    assert after["student@example.edu"] == Role.INSTRUCTOR
    assert after["student3@example.edu"] == Role.STUDENT  # not in the file: kept
    # Each new account's link is printed and mailed (to the outbox: no SMTP server).
    mailed = {m.to: m.body for m in outbox()}
    assert set(mailed) == {"new1@example.edu", "new2@example.edu"}
    for line in applied.output.splitlines():
        if line.startswith("added: new1"):
            assert line.split()[-1] in mailed["new1@example.edu"]

    again = runner.invoke(args=["roster", "import", "demo", str(path)])
    assert "added 0, changed 0, unchanged 4, dropped 0" in again.output
    assert roles("demo") == after
    actions = [(e.action, e.target) for e in audit.entries(demo)]
    assert sorted(actions) == [
        ("roster.add", "new1@example.edu"),
        ("roster.add", "new2@example.edu"),
        ("roster.role", "student@example.edu"),
    ]


def test_roster_import_drop_takes_out_who_is_missing(runner, demo, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"email\nstudent@example.edu\ninstructor@example.edu\n")
    result = runner.invoke(args=["roster", "import", "demo", str(path), "--drop"])
    assert result.exit_code == 0, result.output
    assert "dropped: student2@example.edu" in result.output
    # The demo instructor is in the file as a student now: a roster decides roles.
    assert set(roles("demo")) == {"student@example.edu", "instructor@example.edu"}


def test_bad_rows_are_printed_by_line_and_exit_1(runner, demo, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"email,role\nok@example.edu,\nnope,\nok@example.edu,ta\n")
    result = runner.invoke(args=["roster", "import", "demo", str(path)])
    assert result.exit_code == 1
    assert "added 1," in result.output
    assert "bad row: line 3: 'nope' is not an e-mail address" in result.output
    assert "bad row: line 4: ok@example.edu is already on line 2" in result.output
    assert "ok@example.edu" in roles("demo")


def test_an_unreadable_file_or_unknown_course_changes_nothing(runner, demo, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"name\nAda\n")
    result = runner.invoke(args=["roster", "import", "demo", str(path)])
    assert result.exit_code == 1
    assert "no e-mail column" in result.output
    result = runner.invoke(args=["roster", "import", "nope", str(path)])
    assert result.exit_code == 1
    assert "no course 'nope'" in result.output
