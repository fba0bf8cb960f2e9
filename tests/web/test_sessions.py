"""Server-side log-in sessions: logout ends them everywhere, they expire, passwords end them."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from server.accounts import find_user
from server.extensions import db
from server.models import ApiToken, LoginSession, User

from .support import STUDENT, STUDENT2, PageClient

PAGE = "/courses/demo"


def copy_of(client: PageClient) -> PageClient:
    """A second browser holding a copy of the first one's session cookie."""
    thief = PageClient(client.application, client.application.response_class)
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def logged_in(client: PageClient) -> bool:
    return client.get(PAGE).status_code == 200


def sessions_of(email: str) -> list[LoginSession]:
    user = find_user(email)
    return list(db.session.scalars(sa.select(LoginSession).filter_by(user_id=user.id)))


def age_sessions(email: str, **columns: timedelta) -> None:
    """Move a user's sessions' timestamps into the past (instead of waiting)."""
    now = datetime.now(UTC)
    values = {name: now - ago for name, ago in columns.items()}
    user = find_user(email)
    db.session.execute(sa.update(LoginSession).filter_by(user_id=user.id).values(**values))
    db.session.commit()


def test_a_copied_cookie_stops_working_at_logout(student):
    thief = copy_of(student)
    assert logged_in(thief)

    student.post("/logout", data={"csrf_token": student.csrf_token(PAGE)})

    assert not logged_in(thief)
    assert sessions_of(STUDENT[0]) == []


def test_the_cookie_holds_no_user_id_only_a_session_id(student):
    assert len(sessions_of(STUDENT[0])) == 1
    db.session.execute(sa.delete(LoginSession))
    db.session.commit()

    assert not logged_in(student)  # a signed cookie alone no longer logs anyone in


def test_log_out_all_sessions_ends_every_browser_of_that_user_only(new_client):
    laptop, phone, other = new_client(STUDENT), new_client(STUDENT), new_client(STUDENT2)

    response = laptop.post(
        "/account/sessions/end", data={"csrf_token": laptop.csrf_token("/account")}
    )

    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not logged_in(laptop) and not logged_in(phone)
    assert logged_in(other)


def test_log_out_all_sessions_needs_csrf(student):
    assert student.post("/account/sessions/end").status_code == 400
    assert logged_in(student)


def test_session_ends_after_its_lifetime(app, student):
    hours = app.config["RUBRIC_SESSION_LIFETIME_HOURS"]
    age_sessions(STUDENT[0], created_at=timedelta(hours=hours, minutes=-1))
    assert logged_in(student)

    age_sessions(STUDENT[0], created_at=timedelta(hours=hours, seconds=1))

    assert not logged_in(student)
    assert sessions_of(STUDENT[0]) == []  # an expired session is deleted, not kept


def test_session_ends_when_idle(app, student):
    minutes = app.config["RUBRIC_SESSION_IDLE_MINUTES"]
    age_sessions(STUDENT[0], last_seen_at=timedelta(minutes=minutes - 1))
    assert logged_in(student)  # and this request counts as activity
    assert logged_in(student)

    age_sessions(STUDENT[0], last_seen_at=timedelta(minutes=minutes, seconds=1))

    assert not logged_in(student)


def test_last_seen_is_written_at_most_once_a_minute(student):
    age_sessions(STUDENT[0], last_seen_at=timedelta(seconds=30))
    before = sessions_of(STUDENT[0])[0].last_seen_at
    assert logged_in(student)
    db.session.expire_all()
    assert sessions_of(STUDENT[0])[0].last_seen_at == before

    age_sessions(STUDENT[0], last_seen_at=timedelta(seconds=61))
    assert logged_in(student)
    db.session.expire_all()
    seen = sessions_of(STUDENT[0])[0].last_seen_at
    assert datetime.now(UTC) - seen < timedelta(seconds=10)


def change_password(client: PageClient, current: str, new: str, confirm: str | None = None):
    data = {"current": current, "new": new, "confirm": confirm or new}
    return client.post(
        "/account/password", data=data | {"csrf_token": client.csrf_token("/account")}
    )


def test_password_change_ends_every_other_session(new_client):
    here, elsewhere = new_client(STUDENT), new_client(STUDENT)

    response = change_password(here, STUDENT[1], "a much longer secret")

    assert response.status_code == 302
    assert logged_in(here) and not logged_in(elsewhere)
    assert new_client().login(*STUDENT).status_code == 200  # the old password fails
    assert new_client().login(STUDENT[0], "a much longer secret").status_code == 302


def test_password_change_needs_the_current_password(new_client):
    here, elsewhere = new_client(STUDENT), new_client(STUDENT)

    wrong = change_password(here, "not it", "a much longer secret")
    short = change_password(here, STUDENT[1], "short")
    differ = change_password(here, STUDENT[1], "a much longer secret", "another long secret")

    assert wrong.status_code == short.status_code == differ.status_code == 400
    assert "This is not your current password." in wrong.get_data(as_text=True)
    assert "Between 8 and 200 characters" in short.get_data(as_text=True)
    assert "The two differ." in differ.get_data(as_text=True)
    assert logged_in(elsewhere)
    assert new_client().login(*STUDENT).status_code == 302


def test_account_page_lists_the_sessions(new_client):
    new_client(STUDENT)  # another browser
    client = new_client()
    client.environ_base["HTTP_USER_AGENT"] = "Firefox on the phone"
    client.login(*STUDENT)

    page = client.get("/account").get_data(as_text=True)

    assert "Firefox on the phone <strong>(this browser)</strong>" in page
    assert page.count("(this browser)") == 1 and page.count("<tr>") == 3  # a header, 2 rows
    assert "Log out all sessions" in page and "Change your password" in page


def test_a_new_log_in_deletes_the_users_expired_sessions(app, new_client):
    new_client(STUDENT)
    idle = app.config["RUBRIC_SESSION_IDLE_MINUTES"]
    age_sessions(STUDENT[0], last_seen_at=timedelta(minutes=idle + 1))  # a browser closed for good
    new_client(STUDENT2)

    new_client(STUDENT)

    assert len(sessions_of(STUDENT[0])) == 1 and len(sessions_of(STUDENT2[0])) == 1


def test_account_page_lists_and_revokes_only_ones_own_tokens(student, client, token_for):
    mine, theirs = token_for(STUDENT[0]), token_for(STUDENT2[0])
    own, other = (
        db.session.scalar(sa.select(ApiToken.id).join(User).filter(User.email == email))
        for email in (STUDENT[0], STUDENT2[0])
    )
    page = student.get("/account").get_data(as_text=True)
    assert f"/account/tokens/{own}/revoke" in page and f"/tokens/{other}/" not in page

    token = student.csrf_token("/account")
    refused = student.post(f"/account/tokens/{other}/revoke", data={"csrf_token": token})
    revoked = student.post(f"/account/tokens/{own}/revoke", data={"csrf_token": token})

    assert refused.status_code == 404 and revoked.status_code == 302
    assert client.get("/api/v1/courses", headers=mine).status_code == 401
    assert client.get("/api/v1/courses", headers=theirs).status_code == 200
