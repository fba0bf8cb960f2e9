"""The instructors' pages: assignments (publish, edit), extensions, overrides,
accommodations, course settings and the audit log's pages, each write with its CSRF token."""

import html
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from server.courses import accommodations, audit, extensions, overrides
from server.extensions import db
from server.models import Accommodation, Assignment, AuditEntry, Course, Extension, ScoreOverride
from server.scoring import late
from tests.statements import statements_during
from tests.web.support import PageClient

from .conftest import OTHER_INSTRUCTOR, TA

INSTRUCTOR = ("instructor@example.edu", "instructor")
STUDENT = "student@example.edu"
QUIZ = "l2-regularization-quiz"
EXERCISE = "l2-regularization"


@pytest.fixture
def login(app, staff):
    """Make a client logged in through the form as one of the demo course's people."""

    def make(email: str, password: str) -> PageClient:
        client = PageClient(app, app.response_class, use_cookies=True)
        assert client.login(email, password).status_code == 302
        return client

    return make


@pytest.fixture
def instructor(login):
    return login(*INSTRUCTOR)


def post(client: PageClient, page: str, action: str, data: dict):
    """Post a page's form with the CSRF token the page carries."""
    return client.post(action, data=data | {"csrf_token": client.csrf_token(page)})


def text(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


def course() -> Course:
    db.session.remove()
    return db.session.scalar(sa.select(Course).filter_by(slug="demo"))


def assignment(slug: str) -> Assignment:
    db.session.remove()
    return db.session.scalar(sa.select(Assignment).filter_by(slug=slug))


def actions() -> list[tuple[str, str]]:
    return [(e.action, e.target) for e in audit.entries(course())]


PUBLISH = {
    "content": f"exercise:{EXERCISE}",
    "slug": "hw1",
    "title": "Homework 1",
    "opens_at": "2026-11-30T09:00",
    "due_at": "2026-12-07T23:59",
    "late": "until",
    "late_until": "2026-12-10T23:59",
    "penalty": "10",
    "penalty_unit": "day",
    "cap": "30",
    "attempt_limit": "5",
    "score_policy": "last",
    "feedback_release": "after_due",
}


def test_an_instructor_publishes_with_times_in_the_courses_zone(instructor, staff):
    settings = post(
        instructor,
        "/courses/demo/settings",
        "/courses/demo/settings",
        {"title": "Demo course", "term": "Fall 2026", "timezone": "Europe/Berlin"},
    )
    assert settings.status_code == 302
    page = "/courses/demo/assignments"
    answer = post(instructor, page, page, PUBLISH)
    assert answer.status_code == 302, text(answer)
    made = assignment("hw1")
    berlin = ZoneInfo("Europe/Berlin")
    assert made.due_at == datetime(2026, 12, 7, 23, 59, tzinfo=berlin)
    assert made.due_at.astimezone(UTC) == datetime(2026, 12, 7, 22, 59, tzinfo=UTC)
    assert (made.late_penalty_per_day, made.late_penalty_per_hour, made.late_penalty_cap) == (
        0.1,
        None,
        0.3,
    )
    assert (made.attempt_limit, made.score_policy.value, made.feedback_release.value) == (
        5,
        "last",
        "after_due",
    )
    listed = text(instructor.get(page))
    assert "2026-12-07 23:59 CET (UTC+01:00)" in listed
    assert 'href="/courses/demo/assignments/hw1/regrade"' in listed
    assert "10% per day, at most 30%" in listed
    assert ("assignment.publish", "hw1") in actions()
    assert ("course.update", "demo") in actions()
    # The edit form shows the same local times back, and saving it unchanged changes nothing.
    edit = text(instructor.get("/courses/demo/assignments/hw1/edit"))
    assert 'value="2026-12-07T23:59"' in edit and 'value="10"' in edit
    before = len(actions())
    same = PUBLISH | {"title": "Homework 1"}
    saved = post(
        instructor, "/courses/demo/assignments/hw1/edit", "/courses/demo/assignments/hw1/edit", same
    )
    assert saved.status_code == 302
    assert len(actions()) == before


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        ({"due_at": "2026-11-29T09:00"}, "the due date must be after the opening date", "due_at"),
        ({"penalty": "150"}, "penalty is a percentage from 0 to 100", "penalty"),
        ({"penalty": "ten"}, "penalty is a percentage from 0 to 100", "penalty"),
        ({"cap": "-5"}, "cap is a percentage from 0 to 100", "cap"),
        ({"attempt_limit": "2.5"}, "attempt limit is a whole number", "attempt_limit"),
        ({"due_at": "next week"}, "is not a date and time", "due_at"),
        (
            {"late_until": "2026-12-01T00:00"},
            "late_until must not be before the due date",
            "late_until",
        ),
        ({"late_until": ""}, "late work needs the date until which it is accepted", "late_until"),
        ({"slug": "Bad Slug"}, "the slug is 1 to 64", "slug"),
        ({"content": "exercise:nothing-here"}, "no quiz or exercise", "content"),
        ({"feedback_release": "someday"}, "feedback_release is immediately", "feedback_release"),
    ],
)
def test_bad_settings_are_shown_again_in_the_form(instructor, change, message, field):
    page = "/courses/demo/assignments"
    answer = post(instructor, page, page, PUBLISH | change)
    assert answer.status_code == 400
    shown = text(answer)
    assert message in shown
    assert f'href="#f-{field}"' in shown
    # What was typed comes back in the form.
    assert 'value="Homework 1"' in shown
    assert assignment("hw1") is None


def test_a_time_before_the_first_utc_date_is_refused_not_a_crash(instructor):
    found = course()
    found.timezone = "Europe/Berlin"  # 0001-01-01T00:30 there is before 0001-01-01 in UTC
    db.session.commit()
    page = "/courses/demo/assignments"
    answer = post(instructor, page, page, PUBLISH | {"opens_at": "0001-01-01T00:30"})
    assert answer.status_code == 400 and "opens_at is out of range" in text(answer)


def test_editing_a_due_date_recounts_scores_and_is_audited(instructor):
    quiz = assignment(QUIZ)
    page = f"/courses/demo/assignments/{QUIZ}/edit"
    form = text(instructor.get(page))
    assert f"Edit {quiz.title}" in form
    answer = post(instructor, page, page, PUBLISH | {"title": "Renamed quiz", "opens_at": ""})
    assert answer.status_code == 302, text(answer)
    assert assignment(QUIZ).title == "Renamed quiz"
    assert ("assignment.update", QUIZ) in actions()
    bad = post(instructor, page, page, PUBLISH | {"title": ""})
    assert bad.status_code == 400 and "the title is 1 to 200 characters" in text(bad)
    assert assignment(QUIZ).title == "Renamed quiz"


def test_extensions_and_overrides_through_the_pages(instructor, login):
    page = f"/courses/demo/assignments/{QUIZ}/students"
    granted = post(
        instructor,
        page,
        f"/courses/demo/assignments/{QUIZ}/extensions",
        {"email": STUDENT, "due_at": "2031-01-02T10:00", "late_until": ""},
    )
    assert granted.status_code == 302, text(granted)
    found = db.session.scalar(sa.select(Extension))
    assert found.due_at == datetime(2031, 1, 2, 10, 0, tzinfo=UTC)  # the demo course is in UTC
    assert "2031-01-02 10:00 UTC (UTC+00:00)" in text(instructor.get(page))
    # A TA overrides a score and clears it; a TA may not grant extensions.
    ta = login(TA, "ta-password")
    assert "Grant the extension" not in text(ta.get(page))
    refused = post(
        ta,
        page,
        f"/courses/demo/assignments/{QUIZ}/extensions",
        {"email": STUDENT, "due_at": "2031-01-03T10:00"},
    )
    assert refused.status_code == 403
    missing_reason = post(
        ta,
        page,
        f"/courses/demo/assignments/{QUIZ}/overrides",
        {"email": STUDENT, "score": "3", "reason": ""},
    )
    assert missing_reason.status_code == 400 and "give a reason for the override" in text(
        missing_reason
    )
    too_high = post(
        ta,
        page,
        f"/courses/demo/assignments/{QUIZ}/overrides",
        {"email": STUDENT, "score": "999", "reason": "x"},
    )
    assert too_high.status_code == 400 and "the score is a number from 0 to" in text(too_high)
    unknown = post(
        ta,
        page,
        f"/courses/demo/assignments/{QUIZ}/overrides",
        {"email": "ghost@example.edu", "score": "1", "reason": "x"},
    )
    assert unknown.status_code == 400 and "is not a student of the course" in text(unknown)
    done = post(
        ta,
        page,
        f"/courses/demo/assignments/{QUIZ}/overrides",
        {"email": STUDENT, "score": "2.5", "reason": "regraded by hand"},
    )
    assert done.status_code == 302, text(done)
    override = db.session.scalar(sa.select(ScoreOverride))
    assert (override.score, override.excused, override.set_by) == (2.5, False, TA)
    assert "regraded by hand" in text(ta.get(page))
    excused = post(
        ta,
        page,
        f"/courses/demo/assignments/{QUIZ}/overrides",
        {"email": STUDENT, "excused": "yes", "reason": "ill"},
    )
    assert excused.status_code == 302
    assert "Excused" in text(ta.get(page))
    cleared = post(
        ta, page, f"/courses/demo/assignments/{QUIZ}/overrides/clear", {"email": STUDENT}
    )
    assert cleared.status_code == 302
    assert db.session.scalar(sa.select(ScoreOverride)) is None
    revoked = post(
        instructor, page, f"/courses/demo/assignments/{QUIZ}/extensions/revoke", {"email": STUDENT}
    )
    assert revoked.status_code == 302
    assert db.session.scalar(sa.select(Extension)) is None
    done_actions = {a for a, _ in actions()}
    assert {"extension.grant", "extension.revoke", "score.override", "score.clear"} <= done_actions


def test_an_accommodation_from_the_people_page_moves_the_students_own_dates(instructor, login):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    quiz = assignment(QUIZ)
    quiz.due_at = due
    db.session.commit()
    people = text(instructor.get("/courses/demo/people"))
    assert f"/courses/demo/accommodations?email={STUDENT}" in people
    page = f"/courses/demo/accommodations?email={STUDENT}"
    assert f'<option value="{STUDENT}" selected>' in text(instructor.get(page))
    bad = post(
        instructor, page, "/courses/demo/accommodations", {"email": STUDENT, "shift_hours": "-2"}
    )
    assert bad.status_code == 400 and "the shift is a number of hours above 0" in text(bad)
    answer = post(
        instructor,
        page,
        "/courses/demo/accommodations",
        {"email": STUDENT, "shift_hours": "48", "reason": "accessibility office"},
    )
    assert answer.status_code == 302, text(answer)
    assert db.session.scalar(sa.select(Accommodation.shift_seconds)) == 48 * 3600
    # The student sees their own, moved due date on the quiz page, the other student the course's.
    student = login(STUDENT, "student")
    mine = text(student.get(f"/courses/demo/assignments/{QUIZ}"))
    moved = (due + timedelta(hours=48)).strftime("%Y-%m-%d %H:%M")
    assert f"{moved} UTC (UTC+00:00)" in mine and "(your accommodation)" in mine
    assert "(your accommodation)" in text(student.get("/courses/demo"))
    other = login("student2@example.edu", "student")
    theirs = text(other.get(f"/courses/demo/assignments/{QUIZ}"))
    assert f"{due:%Y-%m-%d %H:%M} UTC" in theirs and "(your accommodation)" not in theirs
    assert late.dates_for(
        assignment(QUIZ), db.session.scalar(sa.select(Accommodation.user_id))
    ).accommodated
    revoked = post(
        instructor,
        "/courses/demo/accommodations",
        "/courses/demo/accommodations/revoke",
        {"email": STUDENT},
    )
    assert revoked.status_code == 302
    assert ("accommodation.revoke", STUDENT) in actions()


def test_the_exercise_page_shows_the_students_late_window(login):
    quiz = assignment(EXERCISE)
    quiz.due_at = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    quiz.late_until = datetime(2030, 5, 3, 12, 0, tzinfo=UTC)
    quiz.late_penalty_per_hour = 0.02
    db.session.commit()
    page = text(login(STUDENT, "student").get(f"/courses/demo/assignments/{EXERCISE}"))
    assert "2030-05-01 12:00 UTC (UTC+00:00)" in page
    assert "until" in page and "2030-05-03 12:00 UTC" in page and "less 2% per started hour" in page


@pytest.mark.parametrize(
    "path",
    [
        "/courses/demo/assignments",
        f"/courses/demo/assignments/{QUIZ}/students",
        f"/courses/demo/assignments/{QUIZ}/edit",
        "/courses/demo/accommodations",
        "/courses/demo/settings",
    ],
)
def test_who_may_open_each_page(login, path):
    configures = not path.endswith(("/assignments", "/students"))
    assert login(*INSTRUCTOR).get(path).status_code == 200
    assert login(TA, "ta-password").get(path).status_code == (403 if configures else 200)
    assert login(STUDENT, "student").get(path).status_code == 403
    assert login(OTHER_INSTRUCTOR, "other-pass").get(path).status_code == 404


def test_writes_are_refused_to_students_other_courses_and_without_csrf(login, instructor):
    writes = [
        ("/courses/demo/assignments", PUBLISH),
        (f"/courses/demo/assignments/{QUIZ}/edit", PUBLISH),
        (
            f"/courses/demo/assignments/{QUIZ}/extensions",
            {"email": STUDENT, "due_at": "2031-01-01T00:00"},
        ),
        (
            f"/courses/demo/assignments/{QUIZ}/overrides",
            {"email": STUDENT, "score": "1", "reason": "r"},
        ),
        ("/courses/demo/accommodations", {"email": STUDENT, "shift_hours": "5"}),
        ("/courses/demo/settings", {"title": "Taken over", "term": "", "timezone": "UTC"}),
    ]
    student, other = login(STUDENT, "student"), login(OTHER_INSTRUCTOR, "other-pass")
    other_ta = login("other-ta@example.edu", "other-pass")
    for action, data in writes:
        assert post(student, "/courses/demo", action, data).status_code == 403, action
        assert post(other, "/account", action, data).status_code == 404, action
        assert post(other_ta, "/account", action, data).status_code == 404, action
        assert instructor.post(action, data=data).status_code == 400, action  # no CSRF token
    assert course().title != "Taken over"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Extension)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScoreOverride)) == 0
    assert assignment("hw1") is None


def test_course_settings_refuse_an_unknown_zone(instructor):
    page = "/courses/demo/settings"
    answer = post(instructor, page, page, {"title": "Demo", "term": "", "timezone": "Mars/Olympus"})
    assert answer.status_code == 400
    assert "'Mars/Olympus' is not a time zone name" in text(answer)
    assert course().timezone == "UTC"


def test_the_audit_log_pages_fifty_at_a_time(instructor):
    demo = course()
    for number in range(120):
        audit.record(demo, None, "test.step", f"step {number}", None, {"n": number})
    db.session.commit()
    first = text(instructor.get("/courses/demo/audit"))
    assert "step 119" in first and "step 70" in first and "step 69" not in first
    cursor = first.split("/courses/demo/audit?before=")[1].split('"')[0]
    second = text(instructor.get(f"/courses/demo/audit?before={cursor}"))
    assert "step 69" in second and "step 20" in second and "step 70" not in second
    assert instructor.get("/courses/demo/audit?before=abc").status_code == 404


NUL = "a\x00b"
STUDENTS = f"/courses/demo/assignments/{QUIZ}/students"
FORMS = [
    ("/courses/demo/assignments", "/courses/demo/assignments", PUBLISH | {"title": NUL}),
    ("/courses/demo/assignments", "/courses/demo/assignments", PUBLISH | {"content": NUL}),
    (f"/courses/demo/assignments/{QUIZ}/edit", f"/courses/demo/assignments/{QUIZ}/edit",
     PUBLISH | {"title": NUL}),
    (STUDENTS, f"/courses/demo/assignments/{QUIZ}/extensions",
     {"email": NUL, "due_at": "2031-01-01T00:00"}),
    (STUDENTS, f"/courses/demo/assignments/{QUIZ}/overrides",
     {"email": STUDENT, "score": "1", "reason": NUL}),
    (STUDENTS, f"/courses/demo/assignments/{QUIZ}/overrides/clear", {"email": NUL}),
    (STUDENTS, f"/courses/demo/assignments/{QUIZ}/extensions/revoke", {"email": NUL}),
    ("/courses/demo/accommodations", "/courses/demo/accommodations",
     {"email": STUDENT, "shift_hours": "5", "reason": NUL}),
    ("/courses/demo/settings", "/courses/demo/settings",
     {"title": NUL, "term": "", "timezone": "UTC"}),
]  # fmt: skip


def audited() -> int:
    return db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))


@pytest.mark.parametrize(("page", "action", "data"), FORMS, ids=[f[1] for f in FORMS])
def test_a_nul_character_in_a_form_is_a_clear_400(app, instructor, page, action, data):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a database error answers 500, as in service
    before = audited()
    answer = post(instructor, page, action, data)
    assert answer.status_code == 400
    assert "NUL character" in text(answer)
    assert audited() == before


def test_a_date_in_the_far_future_is_refused(instructor):
    page, due = f"/courses/demo/assignments/{EXERCISE}/edit", assignment(EXERCISE).due_at
    far = PUBLISH | {"due_at": "9999-12-31T20:00", "late_until": "9999-12-31T23:00"}
    answer = post(instructor, page, page, far)
    assert answer.status_code == 400 and "due_at is a date from 1900 to 8999" in text(answer)
    early = post(instructor, page, page, PUBLISH | {"opens_at": "0001-01-01T00:00"})
    assert early.status_code == 400 and "opens_at is a date from 1900 to 8999" in text(early)
    assert assignment(EXERCISE).due_at == due


def test_a_shift_past_the_last_date_python_knows_is_no_crash(app, instructor, login):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    exercise = assignment(EXERCISE)  # stored before the pages refused such dates
    exercise.due_at = datetime(9999, 12, 31, 20, 0, tzinfo=UTC)
    exercise.late_until = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    db.session.commit()
    shift = {"email": STUDENT, "shift_hours": "5", "reason": "far"}
    assert post(instructor, "/courses/demo/accommodations", "/courses/demo/accommodations", shift)
    student = login(STUDENT, "student")
    assert student.get(f"/courses/demo/assignments/{EXERCISE}").status_code == 200
    assert student.get("/courses/demo").status_code == 200
    assert instructor.get("/courses/demo/overview").status_code == 200
    assert instructor.get(f"/courses/demo/assignments/{EXERCISE}/stats").status_code == 200


def test_the_edit_form_sets_the_weight_and_keeps_it(instructor):
    page = f"/courses/demo/assignments/{QUIZ}/edit"
    assert 'name="weight"' in text(instructor.get(page)) and assignment(QUIZ).weight == 1
    assert post(instructor, page, page, PUBLISH | {"weight": "2.5"}).status_code == 302
    assert assignment(QUIZ).weight == 2.5
    assert 'name="weight" type="text" inputmode="decimal" size="6" value="2.5"' in text(
        instructor.get(page)
    )
    refused = post(instructor, page, page, PUBLISH | {"weight": "-1"})
    assert refused.status_code == 400 and "weight is a number from 0 to 1000" in text(refused)
    assert assignment(QUIZ).weight == 2.5
    changed = [e for e in audit.entries(course()) if e.action == "assignment.update"]
    assert json.loads(changed[0].after)["weight"] == 2.5
    assert json.loads(changed[0].before)["weight"] == 1


def statements_of(client: PageClient, path: str) -> int:
    """How many SQL statements a page takes."""

    def visit() -> None:
        assert client.get(path).status_code == 200

    visit()  # what a first request loads once (the session's user, templates) is not counted
    return statements_during(visit)


def test_the_lists_of_extensions_overrides_and_shifts_take_a_fixed_number_of_queries(instructor):
    students, places = f"/courses/demo/assignments/{QUIZ}/students", "/courses/demo/accommodations"
    quiz = assignment(QUIZ)
    demo = quiz.course
    extensions.grant(quiz, STUDENT, "2031-01-01T00:00:00Z", None, None)
    accommodations.grant(demo, STUDENT, 5, "", None)
    overrides.override(quiz, STUDENT, "3", False, "oral exam", None)
    db.session.commit()
    one = statements_of(instructor, students), statements_of(instructor, places)
    quiz = assignment(QUIZ)
    demo = quiz.course
    for number in range(2, 7):
        email = f"student{number}@example.edu"
        extensions.grant(quiz, email, "2031-01-01T00:00:00Z", None, None)
        accommodations.grant(demo, email, 5, "", None)
        overrides.override(quiz, email, None, True, "medical", None)
    db.session.commit()
    assert (statements_of(instructor, students), statements_of(instructor, places)) == one
