"""Configuration from environment variables, with safe defaults."""

import os
import secrets
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def web_threads() -> int:
    """Threads per gunicorn worker (RUBRIC_WEB_THREADS): gunicorn's setting and the pool's size."""
    return int(os.environ.get("RUBRIC_WEB_THREADS", "2"))


def make_private(instance_path: str, database_url: str) -> None:
    """Keep instance/ (0700) and a SQLite database file (0600) readable by their owner only.

    The secret key under instance/ signs every session, and the database holds password
    hashes and API token digests. SQLite gives its -wal and -shm files the database
    file's own mode, so creating that file 0600 before SQLite does covers all three.
    Existing ones are tightened too: an older install made them world-readable.
    """
    folder = Path(instance_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _restrict(folder, 0o700)
    database = sqlite_file(database_url)
    if database is None or not database.parent.is_dir():
        return
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    for path in (database, *(Path(f"{database}{end}") for end in ("-wal", "-shm", "-journal"))):
        _restrict(path, 0o600)


def sqlite_file(database_url: str) -> Path | None:
    """Return the file of a sqlite:/// URL, or None for a server or an in-memory database."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return None if url.query.get("mode") == "memory" else Path(url.database)


def _restrict(path: Path, mode: int) -> None:
    """chmod a file or folder of ours that exists; leave one owned by someone else alone."""
    try:
        if path.exists() and path.stat().st_uid == os.geteuid():
            path.chmod(mode)
    except OSError:
        pass  # e.g. a read-only volume: its owner chose its modes


def load_secret_key(instance_path: str) -> str:
    """Return RUBRIC_SECRET_KEY, or one generated once and kept under instance/."""
    if key := os.environ.get("RUBRIC_SECRET_KEY"):
        return key
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a private temporary file, then link it into place: several gunicorn
        # workers may start at once, and none may read a half-written key.
        fd, temporary = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker won the race; use its key
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


# Grading knobs, each overridable by an environment variable of the same name.
GRADING_DEFAULTS = {
    "RUBRIC_MAX_CODE_BYTES": 64_000,  # a submitted file larger than this is refused (413)
    "RUBRIC_COURSE_QUEUE_CAP": 1000,  # waiting submissions per course before 429
    "RUBRIC_GRADING_LEASE_SECONDS": 30,  # a claim older than this is presumed dead
    "RUBRIC_REQUEUE_AFTER_SECONDS": 30,  # a queued submission not picked up is re-sent
    "RUBRIC_SWEEP_SECONDS": 5,  # how often each grading process looks for stuck work
    "RUBRIC_GRADING_THREADS": 2,  # embedded mode: grading threads per web process
    "RUBRIC_REGRADE_SYNC_LIMIT": 200,  # a confirmed regrade grades this many in the request
}


# Sessions, log-ins and proxies (docs/security.md), each overridable the same way.
SECURITY_DEFAULTS = {
    "RUBRIC_SESSION_LIFETIME_HOURS": 12,  # a log-in ends this long after it began
    "RUBRIC_SESSION_IDLE_MINUTES": 120,  # ... or after this long without a request
    "RUBRIC_LOGIN_FREE_ATTEMPTS": 5,  # failed log-ins to one account before the backoff
    "RUBRIC_LOGIN_FREE_ATTEMPTS_PER_ADDRESS": 50,  # ... from one address (a classroom's NAT)
    "RUBRIC_LOGIN_MAX_DELAY_SECONDS": 900,  # the backoff's cap: no one is locked out longer
    "RUBRIC_TRUSTED_PROXIES": 0,  # proxies in front whose X-Forwarded-* headers are believed
}


LTI_PASSBACK_SETTINGS = (
    "RUBRIC_LTI_PASSBACK_THREADS",
    "RUBRIC_LTI_PASSBACK_POLL_SECONDS",
    "RUBRIC_LTI_PASSBACK_BACKOFF_SECONDS",
    "RUBRIC_LTI_PASSBACK_BACKOFF_MAX_SECONDS",
    "RUBRIC_LTI_PASSBACK_MAX_TRIES",
)


def from_environment(instance_path: str) -> dict:
    """Build the config mapping from RUBRIC_* environment variables."""
    default_db = f"sqlite:///{Path(instance_path) / 'rubric.sqlite3'}"
    grading = {name: int(os.environ.get(name, value)) for name, value in GRADING_DEFAULTS.items()}
    # Checked and made numbers by server.security, which names a bad one and stops.
    security = {name: os.environ.get(name, value) for name, value in SECURITY_DEFAULTS.items()}
    security["RUBRIC_FRAME_ANCESTORS"] = os.environ.get("RUBRIC_FRAME_ANCESTORS", "")
    # Grade passback (server/lti/passback.py, which holds the defaults), when set.
    passback = {name: os.environ[name] for name in LTI_PASSBACK_SETTINGS if name in os.environ}
    return (
        grading
        | security
        | passback
        | {
            "SQLALCHEMY_DATABASE_URI": os.environ.get("RUBRIC_DATABASE_URL", default_db),
            "RUBRIC_BROKER_URL": os.environ.get("RUBRIC_BROKER_URL") or None,
            "RUBRIC_SUBMISSION_RATE": os.environ.get("RUBRIC_SUBMISSION_RATE", "10/minute"),
            # Visible-tests checks per student, the page's button and the API together.
            "RUBRIC_CHECK_RATE": os.environ.get("RUBRIC_CHECK_RATE", "20/minute"),
            "RUBRIC_CONTENT_ROOT": os.environ.get("RUBRIC_CONTENT_ROOT", str(PROJECT_ROOT)),
            # Who may read /metrics (server/ops.py): a bearer token, or these addresses.
            "RUBRIC_METRICS_TOKEN": os.environ.get("RUBRIC_METRICS_TOKEN", ""),
            "RUBRIC_METRICS_ALLOW": os.environ.get("RUBRIC_METRICS_ALLOW", "127.0.0.1,::1"),
            # The public https address, for the URLs an LMS is given (server/lti).
            "RUBRIC_BASE_URL": os.environ.get("RUBRIC_BASE_URL", ""),
            "RUBRIC_LTI_KEY_DIR": os.environ.get("RUBRIC_LTI_KEY_DIR", ""),
            # Seconds an LMS's key set may take to answer, and between two refetches of it.
            "RUBRIC_LTI_HTTP_TIMEOUT": float(os.environ.get("RUBRIC_LTI_HTTP_TIMEOUT", "5")),
            "RUBRIC_LTI_JWKS_COOLDOWN": float(os.environ.get("RUBRIC_LTI_JWKS_COOLDOWN", "10")),
            # Logins, and launches, per client address (a classroom shares one); "off".
            "RUBRIC_LTI_RATE": os.environ.get("RUBRIC_LTI_RATE", "300/minute"),
            # Set-password and reset links go out through this SMTP server (server/mail.py);
            # unset, they are written to instance/outbox/ instead.
            "RUBRIC_SMTP_URL": os.environ.get("RUBRIC_SMTP_URL", ""),
            "RUBRIC_MAIL_FROM": os.environ.get("RUBRIC_MAIL_FROM", "rubric@localhost"),
        }
    )


DEFAULTS = {
    # A quiz attempt or code submission is small; anything bigger is a mistake or abuse.
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Rate-limit counters live in Redis when there is one. If Redis goes down, count in
    # this process's memory until it returns, rather than refusing every submission
    # with a 500: the submission itself is stored in the database and is never lost.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    # Requests that may wait at once for a grading (GET /submissions/ID?wait=S) in one
    # process; under gunicorn, its threads per worker less one (see gunicorn_conf).
    "RUBRIC_WAIT_SLOTS": 16,
}
