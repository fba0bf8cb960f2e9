"""Mail through a real SMTP server on loopback (aiosmtpd), and what happens when it is down."""

import socket
from email import message_from_string
from email.policy import default as default_policy

import pytest

from server.courses import people
from server.courses.roster import read_csv
from server.mail import outbox
from tests.conftest import unavailable

try:
    from aiosmtpd.controller import Controller
except ImportError:  # a dev dependency: pip install -e '.[dev]'
    Controller = None


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on a free loopback port, and the app sending through it."""
    if Controller is None:
        unavailable("aiosmtpd is not installed (pip install -e '.[dev]')")
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config["RUBRIC_SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    app.config["RUBRIC_MAIL_FROM"] = "rubric@school.example"
    yield inbox
    controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_new_accounts_links_go_out_by_smtp(demo, smtp_server):
    roster = read_csv(b"email\nmailed@example.edu\n")
    _, applied = people.import_roster(demo, roster, None, "https://rubric.example")
    link = applied.links["mailed@example.edu"]
    assert [to for to, _ in smtp_server.received] == [["mailed@example.edu"]]
    message = message_from_string(smtp_server.received[0][1], policy=default_policy)
    assert link in message.get_content()
    assert message["From"] == "rubric@school.example"
    assert applied.not_mailed == []
    assert outbox() == []  # with a server, nothing is kept


def test_a_server_that_is_down_loses_nothing_but_the_mail(app, demo):
    app.config["RUBRIC_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens
    roster = read_csv(b"email\nunlucky@example.edu\n")
    _, applied = people.import_roster(demo, roster, None, "https://rubric.example")
    assert applied.not_mailed == ["unlucky@example.edu"]
    assert applied.links["unlucky@example.edu"].startswith("https://rubric.example/password/set/")
