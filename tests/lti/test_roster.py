"""Rosters from the test platform's Names and Role Provisioning Service, over HTTP.

The platform is registered with the CLI and its course linked to the demo course; an
instructor launches once (which records the memberships URL, as in production); then
`rubric lti roster` or the course page's button pulls the members, page by page.
"""

import json
import re

import pytest
import requests
import sqlalchemy as sa

from server.accounts import NO_PASSWORD
from server.courses import audit
from server.extensions import db
from server.lti import services
from server.models import Course, Enrollment, LtiUser, Role

from .platform_lti1p3 import (
    INSTRUCTOR,
    LEARNER,
    User,
    form_fields,
    register_in_rubric,
    rubric_cli,
    running_platform,
)
from .test_platform_launch import launch

TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
STUDENTS = [(f"lms-student-{n}", f"Student {n}") for n in range(5)]  # (sub, name)


@pytest.fixture
def rubric(app, demo, tmp_path):
    """Rubric served on its demo database; the LMS's answers are awaited 5 s at most."""
    from server.lti.launch import forget_key_sets

    from .platform_lti1p3 import serving

    app.config["RUBRIC_LTI_KEY_DIR"] = str(tmp_path / "lti-keys")
    app.config["RUBRIC_LTI_HTTP_TIMEOUT"] = 5.0
    forget_key_sets()
    services.forget_tokens()  # platform ids repeat from one test database to the next
    with serving(app) as url:
        yield url
    forget_key_sets()
    services.forget_tokens()


@pytest.fixture
def lms(app, rubric):
    """The platform, registered and linked to the demo course; its roster in two-member pages."""
    with running_platform(rubric) as platform:
        register_in_rubric(app, platform)
        students = [User(sub=sub, name=name, email=None) for sub, name in STUDENTS]
        platform.members = students + [User(sub="lms-ta", name="Tia", email=None, roles=[TA])]
        platform.members_page_size = 2
        yield platform


@pytest.fixture
def teacher(lms):
    """The instructor's browser, logged in by a launch (which records the memberships URL)."""
    lms.settings.user = User(sub="lms-teacher", name="Grace Hopper", roles=[INSTRUCTOR])
    session = requests.Session()
    answer = launch(lms, session)
    assert answer.status_code == 200, answer.text
    return session


def roster_cli(app, course: str = "demo"):
    return app.test_cli_runner().invoke(args=["lti", "roster", course])


def role_in_demo(issuer: str, sub: str) -> Role | None:
    """The demo-course role of the LMS user's account, None when not enrolled."""
    db.session.remove()  # read what the server's threads committed
    query = (
        sa.select(Enrollment.role)
        .join(LtiUser, LtiUser.user_id == Enrollment.user_id)
        .join(Course, Course.id == Enrollment.course_id)
        .where(LtiUser.issuer == issuer, LtiUser.sub == sub, Course.slug == "demo")
    )
    return db.session.scalar(query)


def test_cli_pulls_every_page_of_the_roster(app, lms, teacher):
    result = roster_cli(app)
    assert result.exit_code == 0, result.output
    # Seven members (the teacher, five students, a TA) in four pages of two.
    assert "6 added, 1 already there" in result.output
    for sub, _ in STUDENTS:  # the last ones only on the third and fourth pages
        assert role_in_demo(lms.issuer, sub) == Role.STUDENT
    assert role_in_demo(lms.issuer, "lms-ta") not in (None, Role.STUDENT)  # a teaching role
    assert role_in_demo(lms.issuer, "lms-teacher") == Role.INSTRUCTOR


def test_students_who_never_launched_appear_in_the_gradebook(app, lms, teacher, rubric):
    assert roster_cli(app).exit_code == 0
    book = teacher.get(f"{rubric}/courses/demo/gradebook", timeout=30)
    assert book.status_code == 200
    for _, name in STUDENTS:
        assert name in book.text


def test_a_second_pull_adds_no_one_and_follows_role_changes(app, lms, teacher):
    assert roster_cli(app).exit_code == 0
    accounts = db.session.scalar(sa.select(sa.func.count()).select_from(LtiUser))
    lms.members[0].roles = [INSTRUCTOR]  # the LMS promoted a student
    again = roster_cli(app)
    assert again.exit_code == 0, again.output
    assert "0 added, 6 already there, 1 role changed" in again.output
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LtiUser)) == accounts
    assert role_in_demo(lms.issuer, STUDENTS[0][0]) == Role.INSTRUCTOR


def test_the_lms_changes_are_in_the_audit_log(app, lms, teacher):
    assert roster_cli(app).exit_code == 0
    lms.members[0].roles = [INSTRUCTOR]
    assert roster_cli(app).exit_code == 0
    db.session.remove()
    demo = db.session.scalar(sa.select(Course).filter_by(slug="demo"))
    entries = [
        (e.actor, e.action, e.before, e.after)
        for e in audit.entries(demo)
        if e.actor == f"LMS {lms.issuer}"
    ]
    added = [entry for entry in entries if entry[1] == "roster.add"]
    # The teacher's launch and six members of the first pull; then one promotion.
    assert len(added) == 7
    changed = [entry for entry in entries if entry[1] == "roster.role"]
    assert [(json.loads(b), json.loads(a)) for _, _, b, a in changed] == [
        ({"role": "student"}, {"role": "instructor"})
    ]


def test_inactive_and_deleted_members_are_not_enrolled(app, lms, teacher):
    lms.members[0].status = "Inactive"
    lms.members[1].status = "Deleted"
    result = roster_cli(app)
    assert "4 added" in result.output and "2 inactive" in result.output, result.output
    assert role_in_demo(lms.issuer, STUDENTS[0][0]) is None
    assert role_in_demo(lms.issuer, STUDENTS[1][0]) is None
    assert role_in_demo(lms.issuer, STUDENTS[2][0]) == Role.STUDENT


def test_a_member_with_a_local_accounts_email_gets_its_own_account(app, lms, teacher, demo):
    taken = db.session.scalar(sa.select(Enrollment).where(Enrollment.course_id == demo.id)).user
    lms.members = [User(sub="lms-lookalike", name="Look Alike", email=taken.email)]
    assert roster_cli(app).exit_code == 0
    db.session.remove()
    identity = db.session.scalar(sa.select(LtiUser).filter_by(sub="lms-lookalike"))
    assert identity.user_id != taken.id  # an LMS cannot claim an existing account


def test_roster_accounts_have_no_password(app, lms, teacher, rubric):
    assert roster_cli(app).exit_code == 0
    db.session.remove()
    identity = db.session.scalar(sa.select(LtiUser).filter_by(sub=STUDENTS[0][0]))
    assert identity.user.password_hash == NO_PASSWORD  # no hash computed, none matches
    email = identity.user.email
    form = requests.get(f"{rubric}/login", timeout=30)
    token = form_fields(form.text)["csrf_token"]
    answer = requests.post(
        f"{rubric}/login",
        data={"csrf_token": token, "email": email, "password": "anything"},
        cookies=form.cookies,
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code != 303 and "Signed in as" not in answer.text


def course_page_form(session, rubric) -> dict[str, str] | None:
    """The course page's roster button form (its CSRF token), if the page shows it."""
    page = session.get(f"{rubric}/courses/demo", timeout=30)
    assert page.status_code == 200
    if "Pull roster from the LMS" not in page.text:
        return None
    form = page.text[page.text.index("/lti/roster") :]
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)}


def test_the_button_pulls_the_roster_for_an_instructor(lms, teacher, rubric):
    fields = course_page_form(teacher, rubric)
    assert fields is not None
    pulled = teacher.post(
        f"{rubric}/courses/demo/lti/roster", data=fields, timeout=30, allow_redirects=False
    )
    assert pulled.status_code == 303, pulled.text
    assert pulled.headers["Location"] == "/courses/demo/gradebook"
    answer = teacher.get(f"{rubric}/courses/demo/gradebook", timeout=30)
    assert "Roster pulled from the LMS: 6 added" in answer.text
    assert STUDENTS[-1][1] in answer.text
    assert role_in_demo(lms.issuer, STUDENTS[-1][0]) == Role.STUDENT


def test_the_button_needs_the_csrf_token(lms, teacher, rubric):
    answer = teacher.post(f"{rubric}/courses/demo/lti/roster", timeout=30)
    assert answer.status_code == 400
    assert role_in_demo(lms.issuer, STUDENTS[0][0]) is None


def test_a_student_sees_no_button_and_may_not_pull(lms, teacher, rubric):
    lms.settings.user = User(sub="lms-student-launching", roles=[LEARNER], email=None)
    student = requests.Session()
    assert launch(lms, student).status_code == 200
    assert course_page_form(student, rubric) is None
    # A student's own CSRF token, from a page that has a form (the log-out button).
    page = student.get(f"{rubric}/courses/demo", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = student.post(
        f"{rubric}/courses/demo/lti/roster", data={"csrf_token": token}, timeout=30
    )
    assert answer.status_code == 403
    assert role_in_demo(lms.issuer, STUDENTS[0][0]) is None


def test_a_platform_in_trouble_is_a_clear_error(app, lms, teacher, rubric):
    fields = course_page_form(teacher, rubric)
    lms.settings.knobs.service_status = 503
    result = roster_cli(app)
    assert result.exit_code == 1
    assert "roster service failed" in result.output and "503" in result.output
    answer = teacher.post(f"{rubric}/courses/demo/lti/roster", data=fields, timeout=30)
    assert answer.status_code == 400
    assert "roster service failed" in answer.text
    assert role_in_demo(lms.issuer, STUDENTS[0][0]) is None


def test_a_platform_that_does_not_answer_in_time_is_a_clear_error(app, lms, teacher):
    app.config["RUBRIC_LTI_HTTP_TIMEOUT"] = 1.0
    lms.settings.knobs.service_delay = 3  # longer than RUBRIC_LTI_HTTP_TIMEOUT
    result = roster_cli(app)
    assert result.exit_code == 1
    assert "roster service failed" in result.output and "try again later" in result.output


def test_a_course_without_an_nrps_link_is_refused(app, lms):
    result = roster_cli(app)  # linked, but no launch has brought the memberships URL yet
    assert result.exit_code == 1
    assert "launch Rubric from the LMS once" in result.output
    assert roster_cli(app, "no-such-course").exit_code == 2


def test_after_a_re_registration_the_newest_client_pulls_the_roster(app, lms):
    registration = lms.tool_registration() | {"client_id": "rubric-client-2"}
    options = [(f"--{name.replace('_', '-')}", value) for name, value in registration.items()]
    rubric_cli(app, "lti", "platform", "add", *sum(options, ()))
    lms.settings.client_id = "rubric-client-2"  # the LMS now knows only the new client
    lms.settings.user = User(sub="lms-teacher", name="Grace Hopper", roles=[INSTRUCTOR])
    assert launch(lms).status_code == 200
    result = roster_cli(app)
    assert result.exit_code == 0, result.output
    assert "6 added" in result.output
