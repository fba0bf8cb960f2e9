"""First launches at the same moment, on the served app and one database (SQLite or PostgreSQL).

Each launch is a real login and launch over HTTP from its own thread. A hook holds each
launch's account insert until all of them have looked for the account and found none,
so the race a double click (or two LMS users sharing an e-mail) makes happens every run.
"""

import threading
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.extensions import db
from server.lti import platforms
from server.models import Course, LtiUser, User
from tests.lti.platform_lti1p3 import serving

STATE_COOKIE = "rubric_lti_state"


@pytest.fixture
def served(app, platform):
    """The app served on loopback, with the platform's course linked to a Rubric course."""
    course = Course(slug="ml101", title="ML 101")
    db.session.add(course)
    db.session.commit()
    platforms.link_context(platform.issuer, "lms-course-1", course)
    with serving(app) as url:
        yield url


def full_launch(base: str, platform, sub: str, email: str) -> requests.Response:
    """A browser's login and launch: state and nonce from Rubric, a token the LMS signed."""
    target = f"{base}/lti/launch"
    login = {"iss": platform.issuer, "login_hint": sub, "target_link_uri": target}
    answer = requests.post(f"{base}/lti/login", data=login, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    auth = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    token = platform.sign(platform.claims(auth["nonce"], target, sub=sub, email=email))
    form = {"id_token": token, "state": auth["state"]}
    # The browser's state cookie (requests sends Secure cookies over https only).
    cookies = {STATE_COOKIE: answer.cookies[STATE_COOKIE]}
    return requests.post(target, data=form, cookies=cookies, allow_redirects=False, timeout=60)


@contextmanager
def inserts_held_until(count: int):
    """Hold each request's first account insert until `count` of them wait there."""
    barrier = threading.Barrier(count, timeout=30)
    waited: set[int] = set()

    def hold(session, _context, _instances):
        if threading.get_ident() in waited or not any(isinstance(o, User) for o in session.new):
            return
        waited.add(threading.get_ident())
        barrier.wait()  # BrokenBarrierError: a launch never got to insert an account

    sa.event.listen(Session, "before_flush", hold)
    try:
        yield
    finally:
        sa.event.remove(Session, "before_flush", hold)


def at_once(*launches) -> list[requests.Response]:
    """Run the launches in threads at the same time; their answers, in order."""
    answers: list = [None] * len(launches)

    def run(index: int) -> None:
        answers[index] = launches[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(launches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def accounts_of(issuer: str) -> list[tuple[str, str]]:
    """(sub, e-mail) of every LTI account of the issuer, as committed."""
    db.session.remove()
    query = sa.select(LtiUser.sub, User.email).join(User).where(LtiUser.issuer == issuer)
    return sorted(tuple(row) for row in db.session.execute(query))


def test_two_first_launches_of_one_user_make_one_account(served, platform):
    def launch():
        return full_launch(served, platform, "student-1", "ada@lms.example.edu")

    with inserts_held_until(2):
        answers = at_once(launch, launch)

    assert [a.status_code for a in answers] == [302, 302], [a.text[:300] for a in answers]
    assert [a.headers["Location"] for a in answers] == ["/courses/ml101"] * 2
    assert accounts_of(platform.issuer) == [("student-1", "ada@lms.example.edu")]


def test_two_users_with_one_email_launching_at_once_get_two_accounts(served, platform):
    # The e-mail is free when both look: the loser of the insert must not fail the launch.
    def launch(sub):
        return lambda: full_launch(served, platform, sub, "shared@lms.example.edu")

    with inserts_held_until(2):
        answers = at_once(launch("student-a"), launch("student-b"))

    assert [a.status_code for a in answers] == [302, 302], [a.text[:300] for a in answers]
    (first, first_email), (second, second_email) = accounts_of(platform.issuer)
    assert (first, second) == ("student-a", "student-b")
    emails = sorted([first_email, second_email])
    assert emails[1] == "shared@lms.example.edu"
    assert emails[0].startswith("lti-") and emails[0].endswith("@lti.invalid")


def test_many_simultaneous_first_launches_make_one_account(served, platform):
    def launch():
        return full_launch(served, platform, "student-9", "nine@lms.example.edu")

    answers = at_once(*[launch] * 8)

    assert [a.status_code for a in answers] == [302] * 8, [a.text[:300] for a in answers]
    assert accounts_of(platform.issuer) == [("student-9", "nine@lms.example.edu")]
