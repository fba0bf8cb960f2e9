"""Outgoing mail: set-password and reset links.

With RUBRIC_SMTP_URL set (smtp://USER:PASSWORD@HOST:PORT, STARTTLS when the server
offers it; smtps:// for TLS from the start) mail goes out through that server.
Unset, each message is written to instance/outbox/ as an .eml file instead, which
the /outbox page lists to site admins: development needs no mail server.
"""

import logging
import secrets
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app

from server.models.types import utcnow

log = logging.getLogger("rubric.mail")
# Seconds an SMTP server may take to answer: a slow one must not hold a web request long.
SMTP_TIMEOUT = 10


@dataclass(frozen=True)
class Stored:
    """A message kept in the outbox."""

    name: str
    to: str
    subject: str
    body: str
    date: str


def send(to: str, subject: str, body: str) -> bool:
    """Send a plain-text message (or keep it in the outbox); False if the server refused it."""
    message = EmailMessage()
    message["From"] = current_app.config["RUBRIC_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = utcnow().strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content(body)
    url = current_app.config["RUBRIC_SMTP_URL"]
    if not url:
        _keep(message)
        return True
    try:
        _deliver(url, message)
    except (OSError, smtplib.SMTPException) as exc:
        # The instructor still sees the link on the page: a mail server down loses nothing.
        log.warning("mail to %s not sent: %s", to, exc)
        return False
    return True


def _deliver(url: str, message: EmailMessage) -> None:
    """Hand a message to the SMTP server of the URL."""
    parts = urlsplit(url)
    secure = parts.scheme == "smtps"
    connect = smtplib.SMTP_SSL if secure else smtplib.SMTP
    port = parts.port or (465 if secure else 25)
    with connect(parts.hostname or "localhost", port, timeout=SMTP_TIMEOUT) as server:
        if not secure:
            server.ehlo()
            if server.has_extn("starttls"):
                server.starttls()
        if parts.username:
            server.login(unquote(parts.username), unquote(parts.password or ""))
        server.send_message(message)


def outbox_dir() -> Path:
    """The folder that holds unsent mail (RUBRIC_OUTBOX_DIR moves it, as the tests do)."""
    configured = current_app.config.get("RUBRIC_OUTBOX_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "outbox"


def _keep(message: EmailMessage) -> None:
    """Write a message into the outbox, named so the names sort by time."""
    folder = outbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.eml"
    (folder / name).write_bytes(bytes(message))
    log.info("mail to %s kept in %s", message["To"], folder / name)


def outbox(limit: int = 100) -> list[Stored]:
    """Return the newest messages of the outbox first."""
    folder = outbox_dir()
    paths = sorted(folder.glob("*.eml"), reverse=True)[:limit] if folder.is_dir() else []
    return [_read(path) for path in paths]


def _read(path: Path) -> Stored:
    message = BytesParser(policy=default_policy).parsebytes(path.read_bytes())
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    return Stored(path.name, message["To"], message["Subject"], text, message["Date"])
