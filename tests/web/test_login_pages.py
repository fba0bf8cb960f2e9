"""Logging in and out, pages that need a log-in, CSRF, redirects after log-in, throttling."""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from server.accounts import ensure_user
from server.extensions import db
from server.models import LoginFailures
from server.web import auth

from .support import QUIZ_URL, STUDENT, STUDENT2, csrf_token_in

PROTECTED = [
    "/",
    "/courses/demo",
    QUIZ_URL,
    "/courses/demo/attempts/1",
    "/courses/demo/gradebook",
    "/courses/demo/gradebook.csv",
]


def test_login_page_has_a_labelled_form(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<label for="email">E-mail</label>' in page
    assert '<label for="password">Password</label>' in page
    assert csrf_token_in(page)
    assert 'href="#main"' in page  # the skip link


def test_login_goes_to_the_course(new_client):
    response = new_client().login(*STUDENT)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = new_client(STUDENT).get("/", follow_redirects=True).get_data(as_text=True)
    assert "Machine Learning 101 (demo)" in page
    assert "L2 regularization" in page
    assert "Log out" in page


def test_bad_password_shows_an_error(new_client):
    client = new_client()
    response = client.login(STUDENT[0], "wrong")
    assert response.status_code == 200
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert client.get("/courses/demo").status_code == 302  # still logged out


def test_empty_form_names_the_fields(client):
    token = client.csrf_token("/login")
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in page
    assert "This field is required." in page


@pytest.mark.parametrize("path", PROTECTED)
def test_pages_need_login(client, demo, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_returns_to_the_page_asked_for(new_client):
    response = new_client().login(*STUDENT, path="/login?next=/courses/demo")
    assert response.headers["Location"] == "/courses/demo"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "//evil.example", "/\\evil.example", "/\t/evil.example", "evil"],
)
def test_login_never_redirects_to_another_site(new_client, target):
    response = new_client().login(*STUDENT, path="/login?" + f"next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_needs_a_post_and_logs_out(student):
    assert student.get("/logout").status_code == 405
    token = student.csrf_token("/courses/demo")
    response = student.post("/logout", data={"csrf_token": token})
    assert response.headers["Location"] == "/login"
    assert student.get("/courses/demo").status_code == 302


@pytest.mark.parametrize("path", ["/login", "/logout", QUIZ_URL])
def test_post_without_csrf_token_is_refused(student, path):
    response = student.post(path, data={"email": STUDENT[0], "password": STUDENT[1], "q1": "b"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The CSRF token is missing." in page
    assert "<html" in page  # an HTML page, not JSON
    assert student.get("/courses/demo").status_code == 200  # /logout did not log out


def test_user_without_courses_is_told_so(new_client):
    ensure_user("lonely@example.edu", "Lonely Learner", "secret")
    db.session.commit()
    page = new_client(("lonely@example.edu", "secret")).get("/").get_data(as_text=True)
    assert "You are not enrolled in any course yet." in page
    assert "/courses/demo/gradebook" not in page


@pytest.fixture
def auth_log(caplog):
    """The records of the rubric.auth logger (which may not propagate, see server.logs)."""
    logger = logging.getLogger("rubric.auth")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def throttled(records) -> logging.LogRecord:
    return next(r for r in records if r.getMessage() == "log-in throttled")


def fail(client, email: str = STUDENT[0]):
    return client.login(email, "not the password")


def test_sixth_failure_in_a_row_is_throttled_with_retry_after(new_client, auth_log):
    client = new_client()
    assert [fail(client).status_code for _ in range(5)] == [200] * 5

    response = client.login(*STUDENT)  # even the right password waits: nothing is checked

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 2
    assert "Too many failed log-ins. Try again in" in response.get_data(as_text=True)
    assert client.get("/courses/demo").status_code == 302
    record = throttled(auth_log.records)
    assert record.scope == "account" and record.key == "account:" + STUDENT[0]
    assert record.address == "127.0.0.1" and record.retry_after >= 1


def test_another_account_is_not_throttled_by_one_accounts_failures(new_client):
    client = new_client()
    for _ in range(6):
        fail(client)
    assert client.login(*STUDENT2).status_code == 302


def test_a_right_password_clears_the_accounts_failures(new_client):
    client = new_client()
    for _ in range(4):
        fail(client)
    assert new_client().login(*STUDENT).status_code == 302
    assert [fail(client).status_code for _ in range(4)] == [200] * 4


def counted(key: str, count: int, ago: timedelta = timedelta(0)) -> None:
    """Store a count of failed log-ins, as if made `ago` (instead of failing and waiting)."""
    when = datetime.now(UTC) - ago
    db.session.add(LoginFailures(key=key, count=count, last_failed_at=when))
    db.session.commit()


def test_backoff_is_bounded_so_no_one_is_locked_out_for_ever(app, new_client):
    counted("account:" + STUDENT[0], 40)  # an attacker's; 2**35 seconds without a cap
    client = new_client()

    response = client.login(*STUDENT)
    longest = app.config["RUBRIC_LOGIN_MAX_DELAY_SECONDS"]
    assert response.status_code == 429 and int(response.headers["Retry-After"]) == longest

    past = datetime.now(UTC) - timedelta(seconds=longest)
    db.session.execute(sa.update(LoginFailures).values(last_failed_at=past))
    db.session.commit()
    assert client.login(*STUDENT).status_code == 302


def test_attempts_sent_at_once_get_one_try_per_wait(app, new_client):
    counted("account:" + STUDENT[0], 8, ago=timedelta(minutes=5))  # its wait is over
    counted("address:127.0.0.1", 8, ago=timedelta(minutes=5))  # far from its 50
    clients = [new_client() for _ in range(6)]
    tokens = [c.csrf_token("/login") for c in clients]
    all_read = threading.Barrier(len(clients), timeout=10)

    def after_reading_counts(conn, cursor, statement, *args):
        # Every attempt reads the count before any writes it: the race made certain.
        if statement.lstrip().startswith("SELECT") and "FROM login_failures" in statement:
            all_read.wait()

    def attempt(client, token):
        data = {"email": STUDENT[0], "password": "guess", "csrf_token": token}
        return client.post("/login", data=data).status_code

    sa.event.listen(db.engine, "after_cursor_execute", after_reading_counts)
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(attempt, clients, tokens))
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", after_reading_counts)

    assert sorted(answers) == [200] + [429] * 5  # one password checked, not six
    count = sa.select(LoginFailures.count).filter_by(key="account:" + STUDENT[0])
    assert db.session.scalar(count) == 9


def test_first_attempts_from_one_address_at_once_all_go_through(app, new_client):
    clients = [new_client() for _ in range(4)]
    tokens = [c.csrf_token("/login") for c in clients]
    all_read = threading.Barrier(len(clients), timeout=10)
    students = [f"student{n}@example.edu" for n in (3, 4, 5, 6)]

    def after_reading_counts(conn, cursor, statement, *args):
        if statement.lstrip().startswith("SELECT") and "FROM login_failures" in statement:
            all_read.wait()  # none of them finds a count: all insert the address's at once

    def attempt(client, token, email):
        data = {"email": email, "password": "student", "csrf_token": token}
        return client.post("/login", data=data).status_code

    sa.event.listen(db.engine, "after_cursor_execute", after_reading_counts)
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(attempt, clients, tokens, students))
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", after_reading_counts)

    assert answers == [302] * 4


def test_a_log_in_does_not_count_against_its_address(app, new_client):
    app.config["RUBRIC_LOGIN_FREE_ATTEMPTS_PER_ADDRESS"] = 2
    for email in ("student3@example.edu", "student4@example.edu", "student5@example.edu"):
        assert new_client().login(email, "student").status_code == 302  # a classroom's NAT
    assert fail(new_client()).status_code == 200


def test_one_address_trying_many_accounts_is_throttled(app, new_client, auth_log):
    app.config["RUBRIC_LOGIN_FREE_ATTEMPTS_PER_ADDRESS"] = 3
    client = new_client()
    for n in (3, 4, 5):
        assert fail(client, f"student{n}@example.edu").status_code == 200

    response = client.login(*STUDENT)

    assert response.status_code == 429
    record = throttled(auth_log.records)
    assert record.scope == "address" and record.key == "address:127.0.0.1"


def test_failures_are_forgotten_after_a_quiet_while(app, new_client):
    quiet = auth._throttle().forget_after + timedelta(seconds=1)
    counted("account:someone@example.edu", 10, ago=quiet)
    counted("account:" + STUDENT[0], 40, ago=quiet)

    assert fail(new_client()).status_code == 200

    counts = dict(db.session.execute(sa.select(LoginFailures.key, LoginFailures.count)).all())
    assert counts == {"account:" + STUDENT[0]: 1, "address:127.0.0.1": 1}  # the old ones gone
