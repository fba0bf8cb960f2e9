"""The pages for courses and people: a new course, the roster, password links, the
audit log, the outbox and one's own API tokens, each write with its CSRF token."""

import html
import io
import re

import pytest
import sqlalchemy as sa

from server.accounts import ensure_user, find_user
from server.courses import course_role, enroll
from server.courses.people import create_course
from server.extensions import db
from server.mail import outbox
from server.models import Course, Role, User

from .support import INSTRUCTOR, STUDENT, PageClient, csrf_token_in

TA = ("ta@example.edu", "ta-password")
OTHER = ("other@example.edu", "other-pass")
LINK = re.compile(r"http://localhost/password/set/(rbp_[\w-]+)")


@pytest.fixture(autouse=True)
def outbox_dir(app, tmp_path):
    """Each test's mail in its own outbox folder."""
    app.config["RUBRIC_OUTBOX_DIR"] = str(tmp_path / "outbox")


@pytest.fixture
def people_of(demo):
    """A TA in the demo course, and a course "other" taught by someone else."""
    enroll(ensure_user(TA[0], "Tess", TA[1]), demo, Role.TA)
    other = create_course("other", "Other course")
    enroll(ensure_user(*OTHER[:1], "Olga", OTHER[1], role=Role.INSTRUCTOR), other, Role.INSTRUCTOR)
    db.session.commit()


def demo_course() -> Course:
    return db.session.scalar(sa.select(Course).where(Course.slug == "demo"))


def logged_in_with(new_client, email: str, password: str) -> bool:
    """Try the log-in form: a redirect is a log-in, the form again with its message is not."""
    answer = new_client().login(email, password)
    if answer.status_code == 302:
        return True
    assert "Wrong e-mail or password" in answer.get_data(as_text=True)
    return False


def post_form(client: PageClient, page: str, action: str, data: dict, **kwargs):
    """Post a form of a page with that page's CSRF token."""
    return client.post(action, data=data | {"csrf_token": client.csrf_token(page)}, **kwargs)


def test_an_instructor_creates_a_course_through_the_page(instructor):
    data = {"slug": "ml-2027", "title": "ML 2027", "term": "Fall", "timezone": "America/Chicago"}
    answer = post_form(instructor, "/courses/new", "/courses/new", data)
    assert answer.status_code == 302
    assert answer.location.endswith("/courses/ml-2027/people")
    made = db.session.scalar(sa.select(Course).where(Course.slug == "ml-2027"))
    assert (made.term, made.timezone) == ("Fall", "America/Chicago")
    assert course_role(find_user(INSTRUCTOR[0]), made) == Role.INSTRUCTOR
    again = post_form(instructor, "/courses/new", "/courses/new", data)
    assert again.status_code == 400
    assert "is taken" in again.get_data(as_text=True)


def test_a_write_without_its_csrf_token_is_refused(instructor):
    answer = instructor.post("/courses/new", data={"slug": "x", "title": "X", "timezone": "UTC"})
    assert answer.status_code == 400
    assert db.session.scalar(sa.select(Course).where(Course.slug == "x")) is None
    people = {"email": "new@example.edu", "role": "student"}
    assert instructor.post("/courses/demo/people/add", data=people).status_code == 400
    assert find_user("new@example.edu") is None


def test_a_student_cannot_create_a_course(student):
    assert student.get("/courses/new").status_code == 403


def test_adding_a_person_gives_a_link_that_sets_the_password_once(instructor, new_client):
    data = {"email": "Newbie@Example.edu", "name": "Newbie", "role": "student"}
    page = post_form(instructor, "/courses/demo/people", "/courses/demo/people/add", data)
    assert page.status_code == 200
    shown = LINK.search(page.get_data(as_text=True))
    assert shown, "the instructor sees the set-password link"
    assert [m.to for m in outbox()] == ["newbie@example.edu"]
    assert shown[0] in outbox()[0].body
    anonymous = new_client()
    # Nobody logs in to the new account before the link is used, not even with its marker.
    for guess in ("!", "newbie"):
        assert logged_in_with(new_client, "newbie@example.edu", guess) is False
    url = f"/password/set/{shown[1]}"
    short = post_form(anonymous, url, url, {"password": "short", "confirm": "short"})
    assert short.status_code == 400
    good = {"password": "a long secret", "confirm": "a long secret"}
    done = post_form(anonymous, url, url, good)
    assert done.status_code == 302
    assert anonymous.get("/courses/demo").status_code == 200  # logged in
    assert new_client().get(url).status_code == 400  # used: dead
    assert logged_in_with(new_client, "newbie@example.edu", "a long secret")


def test_forgot_password_mails_a_link_and_says_the_same_for_strangers(new_client):
    client = new_client()
    for email in (STUDENT[0], "nobody@example.edu"):
        answer = post_form(client, "/password/forgot", "/password/forgot", {"email": email})
        assert answer.status_code == 302
    assert [m.to for m in outbox()] == [STUDENT[0]]
    token = LINK.search(outbox()[0].body)[1]
    url = f"/password/set/{token}"
    post_form(client, url, url, {"password": "new password", "confirm": "new password"})
    assert logged_in_with(new_client, STUDENT[0], "new password")
    assert logged_in_with(new_client, *STUDENT) is False  # the old one is gone


def test_a_forged_password_link_is_a_400_page(new_client):
    assert new_client().get("/password/set/rbp_made-up").status_code == 400


def test_roster_preview_changes_nothing_and_apply_does(instructor):
    data = "email,name,role\nfresh@example.edu,Fresh,ta\nstudent@example.edu,,instructor\nbad,,\n"
    csrf = instructor.csrf_token("/courses/demo/people")
    upload = {"csrf_token": csrf, "roster": (io.BytesIO(data.encode()), "r.csv")}
    preview = instructor.post("/courses/demo/roster/preview", data=upload)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "fresh@example.edu" in text and "student → instructor" in text
    assert "line 4: &#39;bad&#39; is not an e-mail address" in text
    assert find_user("fresh@example.edu") is None
    carried = re.search(r'<textarea name="csv" hidden>(.*?)</textarea>', text, re.S)[1]
    apply = {"csv": html.unescape(carried), "csrf_token": csrf_token_in(text)}
    done = instructor.post("/courses/demo/roster/apply", data=apply)
    assert done.status_code == 200
    demo = demo_course()
    assert course_role(find_user("fresh@example.edu"), demo) == Role.TA
    assert course_role(find_user(STUDENT[0]), demo) == Role.INSTRUCTOR
    assert course_role(find_user("student2@example.edu"), demo) == Role.STUDENT  # kept


def test_a_roster_in_another_encoding_or_without_emails_is_a_400(instructor):
    csrf = instructor.csrf_token("/courses/demo/people")
    upload = {"csrf_token": csrf, "roster": (io.BytesIO(b"name\nAda\n"), "r.csv")}
    answer = instructor.post("/courses/demo/roster/preview", data=upload)
    assert answer.status_code == 400
    assert "no e-mail column" in answer.get_data(as_text=True)
    utf16 = "email\nx@example.edu\n".encode("utf-16")
    upload = {"csrf_token": csrf, "roster": (io.BytesIO(utf16), "r.csv")}
    assert instructor.post("/courses/demo/roster/preview", data=upload).status_code == 400


def test_change_a_role_and_drop_a_person_both_audited(instructor):
    page = "/courses/demo/people"
    role = {"email": "student2@example.edu", "role": "ta"}
    assert post_form(instructor, page, "/courses/demo/people/role", role).status_code == 302
    drop = {"email": "student3@example.edu"}
    assert post_form(instructor, page, "/courses/demo/people/drop", drop).status_code == 302
    demo = demo_course()
    assert course_role(find_user("student2@example.edu"), demo) == Role.TA
    assert course_role(find_user("student3@example.edu"), demo) is None
    log = instructor.get("/courses/demo/audit").get_data(as_text=True)
    assert "roster.role" in log and "roster.drop" in log and "student3@example.edu" in log
    myself = {"email": INSTRUCTOR[0]}
    refused = post_form(instructor, page, "/courses/demo/people/drop", myself)
    assert refused.status_code == 400
    refused = post_form(instructor, page, "/courses/demo/people/role", myself | {"role": "ta"})
    assert refused.status_code == 400
    bad = post_form(instructor, page, "/courses/demo/people/role", role | {"role": "dean"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        (TA, "/courses/demo/people", 403),
        (TA, "/courses/demo/audit", 403),
        (TA, "/courses/demo/gradebook", 200),
        (TA, "/courses/demo/gradebook.csv", 200),
        (TA, "/courses/demo/assignments/l2-regularization/submissions", 200),
        (STUDENT, "/courses/demo/assignments/l2-regularization/submissions", 403),
        (TA, "/courses/new", 403),
        (STUDENT, "/courses/demo/people", 403),
        (STUDENT, "/courses/demo/gradebook", 403),
        (OTHER, "/courses/demo/people", 404),
        (OTHER, "/courses/demo/gradebook", 404),
        (INSTRUCTOR, "/courses/other/people", 404),
        (OTHER, "/courses/other/people", 200),
    ],
)
def test_who_sees_which_page(new_client, people_of, who, path, status):
    assert new_client(who).get(path).status_code == status


def test_the_course_page_shows_each_role_its_buttons(new_client, people_of):
    def shown(user) -> set[str]:
        page = new_client(user).get("/courses/demo").get_data(as_text=True)
        return set(re.findall(r'<a class="button" href="/courses/demo/[^"]*">([^<]+)</a>', page))

    staff = {"Gradebook", "Overview", "Manage assignments"}
    assert shown(INSTRUCTOR) == staff | {"People", "Audit log", "Settings"}
    assert shown(TA) == staff
    assert shown(STUDENT) == set()


def test_a_ta_cannot_post_roster_changes(new_client, people_of):
    ta = new_client(TA)
    data = {"email": "student2@example.edu", "csrf_token": ta.csrf_token("/account")}
    assert ta.post("/courses/demo/people/drop", data=data).status_code == 403
    assert course_role(find_user("student2@example.edu"), demo_course()) == Role.STUDENT


def test_a_student_makes_an_api_token_on_the_account_page(student, client):
    page = post_form(student, "/account", "/account/tokens", {})
    assert page.status_code == 200
    token = re.search(r'<code id="new-token">(rbc_[\w-]+)</code>', page.get_data(as_text=True))[1]
    answer = client.get("/api/v1/courses", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert "new-token" not in student.get("/account").get_data(as_text=True)  # shown once


def test_the_outbox_page_is_for_admins_without_smtp(app, new_client, instructor):
    admin = ensure_user("admin@example.edu", "Admin", "admin-pass", role=Role.ADMIN)
    db.session.commit()
    post_form(new_client(), "/password/forgot", "/password/forgot", {"email": STUDENT[0]})
    page = new_client((admin.email, "admin-pass")).get("/outbox")
    assert page.status_code == 200
    assert "Reset your Rubric password" in page.get_data(as_text=True)
    assert instructor.get("/outbox").status_code == 404
    app.config["RUBRIC_SMTP_URL"] = "smtp://127.0.0.1:1"
    assert new_client((admin.email, "admin-pass")).get("/outbox").status_code == 404
    assert db.session.scalar(sa.select(User).where(User.email == admin.email)).role == Role.ADMIN


def test_nul_characters_in_forms_are_refused_not_a_database_error(instructor, new_client):
    """PostgreSQL's text cannot hold NUL: each form refuses it (or ignores it) first."""
    course = {"slug": "nul", "title": "a\x00b", "timezone": "UTC"}
    assert post_form(instructor, "/courses/new", "/courses/new", course).status_code == 400
    page = "/courses/demo/people"
    for action in ("/courses/demo/people/drop", "/courses/demo/people/role"):
        data = {"email": "student@example.edu\x00", "role": "ta"}
        assert post_form(instructor, page, action, data).status_code == 400
    added = {"email": "x@example.edu", "name": "N\x00", "role": "student"}
    assert post_form(instructor, page, "/courses/demo/people/add", added).status_code == 400
    forgot = {"email": "student@example.edu\x00"}
    answer = post_form(new_client(), "/password/forgot", "/password/forgot", forgot)
    assert answer.status_code == 302


def test_the_add_form_changes_an_enrolled_role_but_never_ones_own(instructor):
    page, action = "/courses/demo/people", "/courses/demo/people/add"
    again = {"email": "student2@example.edu", "role": "ta"}
    assert post_form(instructor, page, action, again).status_code == 200
    assert course_role(find_user("student2@example.edu"), demo_course()) == Role.TA
    myself = post_form(instructor, page, action, {"email": INSTRUCTOR[0], "role": "student"})
    assert myself.status_code == 400
    assert "your own role stays instructor" in myself.get_data(as_text=True)
    assert course_role(find_user(INSTRUCTOR[0]), demo_course()) == Role.INSTRUCTOR
